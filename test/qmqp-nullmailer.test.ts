import t, { type Test } from 'tap'
import { createQmqpServer, type Verdict } from '@qmqpkit/qmqp'
import { nullmailerMissing as missing, runNullmailer } from './lib/nullmailer.js'

// nullmailer's QMQP protocol module sends to our server core: it is run directly as nullmailer-send
// runs it, options on stdin and the queued mail (sender, recipients, blank line, message) on fd 3.

interface Arrived {
  sender: Buffer
  recipients: Buffer[]
  message: Buffer
}

async function ourServer(t: Test, verdict: Verdict) {
  const arrived: Arrived[] = []
  const server = createQmqpServer({
    onRequest: async req => {
      arrived.push({ sender: req.sender, recipients: req.recipients, message: await req.message.read() })
      await req.message.dispose()
      return verdict
    },
  })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close())
  return { port, arrived }
}

const message = Buffer.concat([
  Buffer.from('From: Sender <sender@example.com>\nTo: rcpt@example.net\nSubject: from nullmailer\n\n'),
  Buffer.from('UTF-8: d\u00e9j\u00e0 vu\nLatin-1: '),
  Buffer.from([0xe9, 0x0a]),
  Buffer.from('CR LF line\r\n'),
  Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i)),
  Buffer.from('\n' + 'long line '.repeat(2000) + '\n.\n..leading dots stay\n'),
])

t.test(
  'nullmailer qmqp sends to our server: message, sender and recipients byte-exact',
  { skip: missing && `install nullmailer into /opt/nullmailer` },
  async t => {
    const { port, arrived } = await ourServer(t, { code: 'K', text: 'ok queued' })
    const mail = Buffer.concat([
      Buffer.from('sender@example.com\nrcpt@example.net\nsecond+tag@example.org\n\n'),
      message,
    ])
    const r = await runNullmailer(t.testdir(), port, mail)
    t.equal(r.code, 0, r.out)
    t.equal(arrived.length, 1)
    t.same(arrived[0]!.sender, Buffer.from('sender@example.com'))
    t.same(arrived[0]!.recipients, [Buffer.from('rcpt@example.net'), Buffer.from('second+tag@example.org')])
    t.ok(arrived[0]!.message.equals(message), 'message byte for byte')
  },
)

t.test(
  'nullmailer with a 3 MiB message',
  { skip: missing && `install nullmailer into /opt/nullmailer` },
  async t => {
    const { port, arrived } = await ourServer(t, { code: 'K', text: 'ok' })
    const big = Buffer.alloc(3 * 1024 * 1024, 'abcdefghij\n')
    const r = await runNullmailer(
      t.testdir(),
      port,
      Buffer.concat([Buffer.from('owner-list@example.com\nrcpt@example.net\n\n'), big]),
    )
    t.equal(r.code, 0, r.out)
    t.same(arrived[0]!.sender, Buffer.from('owner-list@example.com'))
    t.ok(arrived[0]!.message.equals(big))
  },
)

t.test(
  'nullmailer reads our Z and D as temporary and permanent',
  { skip: missing && `install nullmailer into /opt/nullmailer` },
  async t => {
    const mail = Buffer.concat([Buffer.from('s@example.com\nr@example.net\n\n'), message])
    const z = await ourServer(t, { code: 'Z', text: 'try later' })
    const d = await ourServer(t, { code: 'D', text: 'never' })
    const rz = await runNullmailer(t.testdir(), z.port, mail)
    const rd = await runNullmailer(t.testdir(), d.port, mail)
    t.not(rz.code, 0)
    t.not(rd.code, 0)
    t.not(rz.code, rd.code, 'different exit classes')
    t.match(rz.out, /try later/)
    t.match(rd.out, /never/)
  },
)
