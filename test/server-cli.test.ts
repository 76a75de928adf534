import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { send } from '@qmqpkit/qmqp'
import { SqliteBackend } from '../packages/server/src/backends/sqlite.js'
import { OPTIONS } from '../packages/server/src/config.js'
import { envText, qmqpdBin, spawnQmqpd, waitFor } from '../packages/server/test/lib/harness.js'

// The built qmqpd command: default sqlite store, nullmailer in front, signals, flags, privileges.

const nullmailerQmqp = process.env['NULLMAILER_QMQP'] ?? '/opt/nullmailer/usr/lib/nullmailer/qmqp'
const noNullmailer = !existsSync(nullmailerQmqp)
if (noNullmailer && process.env['CI']) throw new Error(`nullmailer's qmqp not found at ${nullmailerQmqp}`)

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [qmqpdBin, ...args], {
    env: { PATH: process.env['PATH'], ...env },
    encoding: 'utf8',
  })

t.test(
  'default sqlite store in --data-dir; nullmailer and our client; SIGTERM exits 0',
  { skip: noNullmailer && 'unpack nullmailer' },
  async t => {
    const dir = t.testdir()
    const q = await spawnQmqpd(t, [
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dir,
      '--me',
      'engine.example.test',
    ])
    const port = q.addresses[0]!.port
    const envelope = 'bounce@example.com\nrcpt1@example.net\nrcpt2@example.org\n\n'
    const message = 'From: App <app@example.com>\nSubject: via nullmailer\n\nHello.\n'
    writeFileSync(path.join(dir, 'mail'), envelope + message)
    const nm = spawnSync('sh', ['-c', `exec ${nullmailerQmqp} 3< "$1"`, 'sh', path.join(dir, 'mail')], {
      input: `host=127.0.0.1\nport=${port}\n`,
      encoding: 'utf8',
    })
    t.equal(nm.status, 0, `nullmailer: ${nm.stdout} ${nm.stderr}`)
    t.match(nm.stdout + nm.stderr, /ok \d+ qp \d+/)
    const res = await send(
      { message: 'Subject: two\n\nx\n', sender: '', recipients: ['x@example.net'] },
      { servers: [`127.0.0.1:${port}`] },
    )
    t.equal(res.verdict.code, 'K')
    t.same(await q.stop('SIGTERM'), { code: 0, signal: null })
    const store = path.join(dir, 'qmqpd.sqlite')
    t.ok(existsSync(store), 'default store is <data-dir>/qmqpd.sqlite')
    const db = await SqliteBackend.open(store)
    t.teardown(() => db.close())
    const { messages } = await db.list()
    t.equal(messages.length, 2)
    const [m1, m2] = messages as [(typeof messages)[0], (typeof messages)[0]]
    t.same(
      [m1.sender.toString(), m1.recipients.map(r => r.toString())],
      ['bounce@example.com', ['rcpt1@example.net', 'rcpt2@example.org']],
    )
    t.equal(m1.size, Buffer.byteLength(message))
    const body = async (id: string, part: 'received' | 'delivered') => {
      const chunks: Buffer[] = []
      for await (const c of (await db.openBody(id, part))!) chunks.push(c as Buffer)
      return Buffer.concat(chunks).toString('latin1')
    }
    t.equal(await body(m1.id, 'received'), message)
    t.match(
      await body(m1.id, 'delivered'),
      /^Received: from unknown \(127\.0\.0\.1\)\n {2}by engine\.example\.test with QMQP; .*\n/,
    )
    t.same(
      envText(m1.connection.env).map(([n]) => n),
      ['PROTO', 'TCPLOCALIP', 'TCPLOCALPORT', 'TCPREMOTEIP', 'TCPREMOTEPORT'],
    )
    t.same(m2.sender, Buffer.alloc(0), 'empty (bounce) sender kept')
    const logLines = q
      .stderr()
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as Record<string, unknown>)
    t.equal(logLines.filter(l => l['event'] === 'message').length, 2)
    t.equal(logLines.filter(l => l['event'] === 'connection').length, 2)
    t.ok(logLines.some(l => l['event'] === 'exit'))
  },
)

t.test('--help documents every option with its default and variable; usage errors exit 100', async t => {
  const help = run(['--help'])
  t.equal(help.status, 0)
  const flat = help.stdout.replace(/\s+/g, ' ')
  for (const o of OPTIONS) {
    t.ok(flat.includes(o.flags.split(' ')[0]!), `${o.flags} documented`)
    t.ok(flat.includes(`env ${o.env}`), `${o.env} documented`)
  }
  t.match(flat, /sqlite: .*memory:/, 'lists the backends')
  const unknown = run(['--frobnicate'])
  t.equal(unknown.status, 100)
  t.match(unknown.stderr, /^qmqpd: fatal: usage: unknown option '--frobnicate'/)
  const bad = run(['--max-recipients', 'many'])
  t.equal(bad.status, 100)
  t.match(bad.stderr, /--max-recipients: must be a whole number/)
  const badEnv = run([], { QMQPD_IDLE_TIMEOUT: 'soon' })
  t.equal(badEnv.status, 100)
  t.match(badEnv.stderr, /QMQPD_IDLE_TIMEOUT: must be a duration/)
  const noFile = run(['--config', '/nonexistent/qmqpd.json'])
  t.equal(noFile.status, 111)
  t.match(noFile.stderr, /unable to read \/nonexistent\/qmqpd\.json/)
  const badRules = t.testdir({ 'qmqp.tcp': '127.0.0.1:allow\n10.0.0.1:permit\n' })
  const rules = run(['--rules-source', path.join(badRules, 'qmqp.tcp'), '--listen', '127.0.0.1:0'])
  t.equal(rules.status, 100)
  t.match(rules.stderr, /line 2/)
})

t.test('config file and environment: flag beats variable beats file', async t => {
  const dir = t.testdir({
    'qmqpd.json': JSON.stringify({ listen: ['127.0.0.1:1'], backend: 'memory:', logFormat: 'qmail' }),
  })
  const q = await spawnQmqpd(t, ['--listen', '127.0.0.1:0'], {
    env: { ...process.env, QMQPD_CONFIG: path.join(dir, 'qmqpd.json'), QMQPD_LISTEN: '127.0.0.1:2' },
  })
  t.not(q.addresses[0]!.port, 0)
  t.notOk([1, 2].includes(q.addresses[0]!.port), 'the flag won')
  const res = await send(
    { message: 'x', sender: 'a@b', recipients: ['c@d'] },
    { servers: [`127.0.0.1:${q.addresses[0]!.port}`] },
  )
  t.equal(res.verdict.code, 'K')
  await q.stop()
  t.match(
    q.stderr(),
    /^qmqpd: ok \S+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ rule - K \d+ bytes \d+ ms$/m,
    'qmail-style log from the file',
  )
  t.match(
    q.stderr(),
    /^qmqpd: msg \d+ conn \S+ from <a@b> rcpt 1 bytes 1 Kok \d+ qp \d+ backend memory: \d+ ms$/m,
  )
})

t.test('SIGHUP reopens the log file', async t => {
  const dir = t.testdir()
  const logFile = path.join(dir, 'qmqpd.log')
  const q = await spawnQmqpd(t, ['--listen', '127.0.0.1:0', '--backend', 'memory:', '--log-file', logFile])
  await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('qmqpd serving'))
  renameSync(logFile, `${logFile}.1`)
  q.child.kill('SIGHUP')
  await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('reopened'))
  await q.stop()
  t.match(readFileSync(logFile, 'utf8'), /qmqpd stopped/)
  t.notMatch(readFileSync(`${logFile}.1`, 'utf8'), /qmqpd stopped/)
})

const setpriv = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0
const root = process.getuid?.() === 0

t.test(
  'port 628 without privilege: exit 111 naming --listen 127.0.0.1:6628 and the capability',
  { skip: !(setpriv && root) && 'needs root and setpriv' },
  async t => {
    for (const args of [[], ['--listen', '127.0.0.1:628']]) {
      const q = await spawnQmqpd(t, [...args, '--backend', 'memory:'], {
        wrapper: [
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--inh-caps=-all',
          '--bounding-set=-all',
        ],
      })
      t.same(await q.stop(), { code: 111, signal: null }, `args ${args.join(' ') || '(default)'}`)
      t.match(q.stderr(), /qmqpd: fatal: unable to bind .*:628: permission denied/)
      t.match(q.stderr(), /--listen 127\.0\.0\.1:6628/)
      t.match(q.stderr(), /CAP_NET_BIND_SERVICE/)
    }
  },
)

t.test('--user drops privileges after binding', { skip: !root && 'needs root' }, async t => {
  const q = await spawnQmqpd(t, ['--listen', '127.0.0.1:0', '--backend', 'memory:', '--user', 'nobody'])
  await waitFor(() => q.stderr().includes('qmqpd serving'))
  const status = readFileSync(`/proc/${q.child.pid}/status`, 'utf8')
  t.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
  const res = await send(
    { message: 'x', sender: 'a@b', recipients: ['c@d'] },
    { servers: [`127.0.0.1:${q.addresses[0]!.port}`] },
  )
  t.equal(res.verdict.code, 'K')
  t.same(await q.stop(), { code: 0, signal: null })
  const unknown = await spawnQmqpd(t, [
    '--listen',
    '127.0.0.1:0',
    '--backend',
    'memory:',
    '--user',
    'no-such-user-qk',
  ])
  t.same(await unknown.stop(), { code: 111, signal: null })
  t.match(unknown.stderr(), /unknown user no-such-user-qk/)
})
