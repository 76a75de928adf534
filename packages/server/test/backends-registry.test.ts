import t from 'tap'
import { join } from 'node:path'
import type { Verdict } from '@qmqpkit/qmqp'
import { backendFactories, backendSchemes, createBackend, registerBackend } from '../src/backends/registry.js'
import { BackendSpecError } from '../src/backends/errors.js'
import { DiscardBackend } from '../src/backends/discard.js'
import { MemoryBackend } from '../src/backends/memory.js'
import { SqliteBackend } from '../src/backends/sqlite.js'
import { MaildirBackend } from '../src/backends/maildir.js'
import { ExecBackend } from '../src/backends/exec.js'
import { QmqpForwardBackend } from '../src/backends/qmqp.js'
import { injected } from './lib/backends-message.js'

t.test('the built-in schemes, each with a description', async t => {
  t.same(backendSchemes(), ['sqlite', 'maildir', 'memory', 'discard', 'exec', 'qmqp'])
  for (const f of backendFactories()) t.match(f.description, new RegExp(`^${f.scheme}:`), f.scheme)
})

t.test('createBackend picks the factory by scheme', async t => {
  const dir = t.testdir()
  const made = [
    [await createBackend(`sqlite:${join(dir, 'a.db')}`), SqliteBackend],
    [await createBackend(`maildir:${join(dir, 'md')}`), MaildirBackend],
    [await createBackend('memory:'), MemoryBackend],
    [await createBackend('discard:', {}), DiscardBackend],
    [await createBackend('exec:/bin/true'), ExecBackend],
    [await createBackend('qmqp://127.0.0.1:1'), QmqpForwardBackend],
  ] as const
  for (const [backend, cls] of made) {
    t.type(backend, cls)
    await backend.close()
  }
})

t.test('unknown schemes and malformed specs are refused, permanently', async t => {
  for (const spec of ['', 'nocolon', ':x', 'smtp://localhost:25', 'memory:x', 'discard:/tmp'])
    await t.rejects(
      createBackend(spec),
      { name: 'BackendSpecError', code: 'SERVER_ERR_BACKEND_SPEC', temporary: false },
      spec,
    )
})

t.test('a new backend is one factory and one registration', async t => {
  const seen: string[] = []
  registerBackend({
    scheme: 'test-echo',
    description: 'test-echo:TEXT  answer K with TEXT',
    async create(spec) {
      const text = spec.slice('test-echo:'.length)
      return {
        name: spec,
        async deliver(msg): Promise<Verdict> {
          seen.push(msg.id)
          return { code: 'K', text }
        },
        async close() {},
      }
    },
  })
  t.ok(backendSchemes().includes('test-echo'))
  const b = await createBackend('test-echo:fine')
  t.same(await b.deliver(injected({ id: 'x1' })), { code: 'K', text: 'fine' })
  t.same(seen, ['x1'])
  t.throws(
    () => registerBackend({ scheme: 'test-echo', description: '', create: b => Promise.reject(b) }),
    BackendSpecError,
  )
  t.throws(
    () => registerBackend({ scheme: 'Bad Scheme', description: '', create: b => Promise.reject(b) }),
    BackendSpecError,
  )
})

t.test('discard: K without keeping anything', async t => {
  const b = new DiscardBackend()
  const msg = injected({ id: 'gone' })
  t.same(await b.deliver(msg), { code: 'K', text: `ok ${Math.floor(msg.receivedAt / 1000)} qp gone` })
  await b.close()
})
