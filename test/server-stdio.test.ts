import { execFileSync, spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import t from 'tap'
import { SqliteBackend } from '../packages/server/src/backends/sqlite.js'
import { envText, qmqpdBin, rawExchange, replyText, request } from '../packages/server/test/lib/harness.js'

// qmqpd --stdio as a drop-in for qmail-qmqpd under Debian's tcpserver, with tcpserver's rules.

const missing = spawnSync('sh', ['-c', 'command -v tcpserver && command -v tcprules']).status !== 0
if (missing && process.env['CI']) throw new Error('tcpserver not found: CI must install ucspi-tcp')

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise(r => s.close(r))
  return port
}

t.test(
  'under tcpserver: rules, environment and Received line from tcpserver; drops and denies',
  { skip: missing && 'install Debian ucspi-tcp' },
  async t => {
    const dir = t.testdir()
    const cdb = path.join(dir, 'qmqp.tcp.cdb')
    execFileSync('tcprules', [cdb, `${cdb}.tmp`], {
      input:
        '127.0.0.1:allow,GREENARROW_SIMPLEMH="",RELAYCLIENT=""\n127.0.0.3:deny\n127.0.0.:allow,RELAYCLIENT="prefix"\n',
    })
    const store = path.join(dir, 'q.sqlite')
    const port = await freePort()
    const server = spawn(
      'tcpserver',
      [
        '-R',
        '-H',
        '-l',
        'lh.example.test',
        '-x',
        cdb,
        '127.0.0.1',
        String(port),
        process.execPath,
        qmqpdBin,
        '--stdio',
        '--backend',
        `sqlite:${store}`,
        '--received-format',
        'qmail',
      ],
      {
        env: { PATH: process.env['PATH'], HOME: dir },
      },
    )
    let stderr = ''
    server.stderr.on('data', d => (stderr += d))
    t.teardown(() => void server.kill('SIGTERM'))
    // Wait until tcpserver accepts (each probe runs one qmqpd that sees an empty request).
    for (let i = 0; ; i++) {
      const probe = net.connect(port, '127.0.0.1')
      const up = await new Promise<boolean>(r => {
        probe.on('connect', () => r(true))
        probe.on('error', () => r(false))
      })
      probe.destroy()
      if (up) break
      if (i > 100) throw new Error(`tcpserver did not start: ${stderr}`)
      await new Promise(r => setTimeout(r, 50))
    }

    const msg = 'From: a@example.com\nX-GreenArrow-MailClass: news\nSubject: stdio\n\nbody\n'
    const ok = await rawExchange(port, request(msg, 'a@example.com', ['b@example.net', 'c@example.org']))
    t.match(replyText(ok), /^Kok \d+ qp \d+$/)
    const prefixed = await rawExchange(
      port,
      request('Subject: two\n\nx\n', 'a@example.com', ['b@example.net']),
      { localAddress: '127.0.0.2' },
    )
    t.match(replyText(prefixed), /^Kok /)
    const denied = await rawExchange(port, request('x', 'a@example.com', ['b@example.net']), {
      localAddress: '127.0.0.3',
    })
    t.equal(denied.reply, null, 'tcpserver denies before qmqpd runs')
    const garbled = await rawExchange(port, Buffer.from('12:3:abc,0:,1:x;,'))
    t.equal(garbled.reply, null, 'a framing error is dropped, no reply')
    const bad = await rawExchange(port, request('x', 'a@example.com', ['b'.repeat(1000)]))
    t.equal(replyText(bad), "Dsorry, I can't accept addresses like that (#5.1.3)")
    server.kill('SIGTERM')
    await once(server, 'exit')

    const db = await SqliteBackend.open(store)
    t.teardown(() => db.close())
    const { messages } = await db.list()
    t.equal(messages.length, 2, 'only the accepted messages are stored')
    const [m1, m2] = messages as [(typeof messages)[0], (typeof messages)[0]]
    const env1 = envText(m1.connection.env)
    t.same(
      env1.map(([n]) => n),
      [
        'PROTO',
        'TCPLOCALIP',
        'TCPLOCALPORT',
        'TCPLOCALHOST',
        'TCPREMOTEIP',
        'TCPREMOTEPORT',
        'GREENARROW_SIMPLEMH',
        'RELAYCLIENT',
      ],
      'the environment tcpserver set, in its order',
    )
    t.same(Object.fromEntries(env1), {
      PROTO: 'TCP',
      TCPLOCALIP: '127.0.0.1',
      TCPLOCALPORT: String(port),
      TCPLOCALHOST: 'lh.example.test',
      TCPREMOTEIP: '127.0.0.1',
      TCPREMOTEPORT: String(m1.connection.remotePort),
      GREENARROW_SIMPLEMH: '',
      RELAYCLIENT: '',
    })
    t.equal(m1.connection.remoteIp, '127.0.0.1')
    t.same(
      m1.recipients.map(r => r.toString()),
      ['b@example.net', 'c@example.org'],
    )
    t.match(m1.metadata, { mode: 'simplemh', mailClass: 'news', mailClassSource: 'header' })
    const chunks: Buffer[] = []
    for await (const c of (await db.openBody(m1.id, 'delivered'))!) chunks.push(c as Buffer)
    t.match(
      Buffer.concat(chunks).toString('latin1'),
      /^Received: from unknown \(127\.0\.0\.1\)\n {2}by lh\.example\.test with QMQP; /,
      "qmail-qmqpd's line, by TCPLOCALHOST",
    )
    t.same(envText(m2.connection.env).at(-1), ['RELAYCLIENT', 'prefix'])
    t.equal(m2.connection.remoteIp, '127.0.0.2')
    t.notMatch(stderr, /fatal/)
  },
)
