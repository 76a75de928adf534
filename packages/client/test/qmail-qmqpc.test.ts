import t from 'tap'
import { main } from '../src/cli/qmail-qmqpc.js'
import { encodeQueueEnvelope } from '../src/envelope.js'
import { hangUpServer, recordingServer, refusedPort } from './lib/recording-server.js'

const message = Buffer.from('Subject: q\n\nbody\n')
const input = (envelope: Buffer | string, msg = message) => ({
  readMessage: async () => msg,
  readEnvelope: async () => Buffer.from(envelope),
})
const good = encodeQueueEnvelope('s@example.com', ['r1@example.com', 'r2@example.com'])

t.test('K: exit 0, the request carries the message and envelope', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir({ control: { qmqpservers: `127.0.0.1:${srv.port}\n` } })
  t.equal(await main(new Map(), input(good), { home }), 0)
  t.same(srv.received, [
    {
      message,
      sender: Buffer.from('s@example.com'),
      recipients: [Buffer.from('r1@example.com'), Buffer.from('r2@example.com')],
    },
  ])
})

t.test("qmail-qmqpc's exit codes", async t => {
  const z = await recordingServer({ code: 'Z', text: 'later' })
  t.teardown(z.close)
  const d = await recordingServer({ code: 'D', text: 'no' })
  t.teardown(d.close)
  const rude = await hangUpServer()
  t.teardown(rude.close)
  const refused = await refusedPort()
  const homeWith = (servers: string) => t.testdir({ control: { qmqpservers: servers } })
  t.equal(await main(new Map(), input(good), { home: homeWith(`127.0.0.1:${d.port}\n`) }), 31, 'D')
  t.equal(await main(new Map(), input(good), { home: homeWith(`127.0.0.1:${z.port}\n`) }), 71, 'Z')
  t.equal(await main(new Map(), input(good), { home: homeWith(`127.0.0.1:${refused}\n`) }), 73, 'refused')
  t.equal(await main(new Map(), input(good), { home: homeWith(`127.0.0.1:${rude.port}\n`) }), 74, 'hung up')
  t.equal(
    await main(new Map(), input(good), { home: homeWith(`localhost:${refused}\n`) }),
    73,
    'a host name, refused',
  )
  t.equal(await main(new Map(), input(good), { home: homeWith('\n# none\n') }), 55, 'no server')
  t.equal(
    await main(new Map(), input('Xbad\0\0'), { home: homeWith(`127.0.0.1:${d.port}\n`) }),
    91,
    'bad envelope',
  )
  const broken = { readMessage: async () => Promise.reject(new Error('EIO')), readEnvelope: async () => good }
  t.equal(await main(new Map(), broken, { home: homeWith(`127.0.0.1:${d.port}\n`) }), 54, 'read error')
  t.equal(d.received.length, 1, 'nothing sent for a bad envelope')
})
