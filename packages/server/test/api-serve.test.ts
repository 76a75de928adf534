import t from 'tap'
import net from 'node:net'
import { startTestServer, testingWanted } from '../src/api/serve.js'
import { MemoryBackend } from '../src/backends/memory.js'
import { loadConfig } from '../src/config.js'

t.test('off unless a test-server option is given', async t => {
  const plain = loadConfig(['--listen', '127.0.0.1:0'], {}, null)
  t.notOk(testingWanted(plain))
  t.equal(await startTestServer(plain), null)
  t.ok(testingWanted(loadConfig(['--namespace-from', 'header:X-NS'], {}, null)))
  t.ok(testingWanted(loadConfig([], { QMQPD_API: '127.0.0.1:0' }, null)))
})

t.test('the API starts not ready, and is ready once attached', async t => {
  const config = loadConfig(['--api', '127.0.0.1:0', '--api-token', 'x', '--retain-messages', '5'], {}, null)
  t.same(config.testing.retention, { maxMessages: 5, maxAgeMs: null, maxBytes: null })
  const server = (await startTestServer(config))!
  t.teardown(() => server.close())
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal((await fetch(`${server.url}/readyz`)).status, 503)
  await server.attach([new MemoryBackend()])
  t.equal((await fetch(`${server.url}/readyz`)).status, 200)
  t.equal((await fetch(`${server.url}/api/v1/messages`)).status, 401)
})

t.test('an API address in use is a bind error; a bad --namespace-from a config error', async t => {
  const blocker = net.createServer()
  await new Promise<void>(r => blocker.listen(0, '127.0.0.1', r))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  await t.rejects(startTestServer(loadConfig(['--api', `127.0.0.1:${port}`], {}, null)), {
    name: 'QmqpdBindError',
    message: /unable to bind the API on 127\.0\.0\.1:\d+/,
  })
  await t.rejects(startTestServer(loadConfig(['--namespace-from', 'nowhere'], {}, null)), {
    name: 'QueryError',
    temporary: false,
  })
})
