import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { send } from '@qmqpkit/qmqp'
import { ourBin } from './lib/tools.js'

// The built qmqpd with --api, and the qmqpkit command a shell-based CI would use.
const qmqpd = ourBin('server', 'qmqpd')
const qmqpkit = ourBin('server', 'qmqpkit')

async function startQmqpd(t: Test, extra: string[] = []) {
  const child = spawn(process.execPath, [
    qmqpd,
    '--listen',
    '127.0.0.1:0',
    '--api',
    '127.0.0.1:0',
    '--backend',
    'memory:',
    '--log-level',
    'warn',
    ...extra,
  ])
  let out = ''
  let err = ''
  child.stderr.on('data', d => (err += d))
  const exited = once(child, 'exit')
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const ready = await new Promise<{ port: number; api: string }>((resolve, reject) => {
    child.stdout.on('data', d => {
      out += d
      const port = /listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]
      const api = /api on (http:\/\/\S+)/.exec(out)?.[1]
      if (port && api) resolve({ port: Number(port), api })
    })
    void exited.then(() => reject(new Error(`qmqpd exited: ${err}`)))
  })
  return {
    ...ready,
    stop: async () => {
      child.kill('SIGTERM')
      const [code] = (await exited) as [number]
      return code
    },
  }
}

function kit(api: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [qmqpkit, ...args], {
    env: { ...process.env, QMQPKIT_API: api, ...env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => (stdout += d))
  child.stderr.on('data', d => (stderr += d))
  return once(child, 'exit').then(([code]) => ({ code: code as number, stdout, stderr }))
}

const mail = (subject: string) => `From: a@example.com\nSubject: ${subject}\n\nHi.\n`

t.test('messages, wait, reset and faults from the shell', async t => {
  const q = await startQmqpd(t)
  const server = `127.0.0.1:${q.port}`
  const ready = await fetch(`${q.api}/readyz`)
  t.equal(ready.status, 200)

  // wait is started before the message is sent, and exits 0 when it arrives.
  const waiting = kit(q.api, ['wait', 'subject=hello', '--timeout', '20s', '--json'])
  await send(
    { message: mail('hello there'), sender: 'a@example.com', recipients: ['bob@example.com'] },
    { servers: [server] },
  )
  const w = await waiting
  t.equal(w.code, 0, w.stderr)
  t.match(JSON.parse(w.stdout).messages, [{ subject: 'hello there', recipients: ['bob@example.com'] }])

  const list = await kit(q.api, ['messages', '--to', 'bob@'])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^\d+\tK\t-\ta@example\.com -> bob@example\.com\thello there\n$/)

  const timeout = await kit(q.api, ['wait', '--subject', 'never', '--timeout', '200ms'])
  t.equal(timeout.code, 1)
  t.match(timeout.stderr, /timed out/)

  const add = await kit(q.api, [
    'faults',
    'add',
    'to=carol@',
    '--reply',
    'D',
    '--text',
    'no carol',
    '--count',
    '1',
  ])
  t.equal(add.code, 0, add.stderr)
  t.match(add.stdout, /^f\d+\n$/)
  const refused = await send(
    { message: mail('x'), sender: 'a@x', recipients: ['carol@example.com'] },
    { servers: [server] },
  )
  t.same(refused.verdict, { code: 'D', text: 'no carol' })
  const listed = await kit(q.api, ['faults', 'list'])
  t.same(JSON.parse(listed.stdout), [], 'the counted rule expired')
  const again = await kit(q.api, ['faults', 'add', '--drop', 'after-store'])
  t.equal((await kit(q.api, ['faults', 'rm', again.stdout.trim()])).code, 0)
  t.equal((await kit(q.api, ['faults', 'rm', again.stdout.trim()])).code, 100)

  const bad = await kit(q.api, ['faults', 'add', '--reply', 'K'])
  t.equal(bad.code, 100)
  t.match(bad.stderr, /QMQPD_ERR_FAULT_RULE/)
  t.equal((await kit(q.api, ['messages', 'nonsense=1'])).code, 100)

  const reset = await kit(q.api, ['reset'])
  t.equal(reset.code, 0)
  t.match(reset.stdout, /^\d+\n$/)
  t.equal((await kit(q.api, ['messages'])).stdout, '')

  t.equal(await q.stop(), 0)
  const gone = await kit(q.api, ['messages'])
  t.equal(gone.code, 111)
  t.match(gone.stderr, /unable to reach/)
})

t.test('--api-token and --faults file', async t => {
  const dir = t.testdir()
  writeFileSync(
    `${dir}/faults.json`,
    JSON.stringify({ faults: [{ match: { to: 'z@' }, action: { reply: 'Z' } }] }),
  )
  const q = await startQmqpd(t, ['--api-token', 'tok', '--faults', `${dir}/faults.json`])
  const server = `127.0.0.1:${q.port}`
  const r = await send(
    { message: mail('z'), sender: 'a@x', recipients: ['z@example.com'] },
    { servers: [server] },
  )
  t.equal(r.verdict.code, 'Z')
  const denied = await kit(q.api, ['messages'])
  t.equal(denied.code, 100)
  t.match(denied.stderr, /QMQPD_ERR_UNAUTHORIZED/)
  const allowed = await kit(q.api, ['messages', '--verdict', 'Z'], { QMQPKIT_TOKEN: 'tok' })
  t.equal(allowed.code, 0)
  t.match(allowed.stdout, /\tZ\t/)
  t.equal(await q.stop(), 0)
})

t.test('a bad faults file stops qmqpd at start-up with exit 100', async t => {
  const dir = t.testdir()
  writeFileSync(`${dir}/faults.json`, '[{"action":{"reply":"K"}}]')
  const child = spawn(process.execPath, [
    qmqpd,
    '--listen',
    '127.0.0.1:0',
    '--api',
    '127.0.0.1:0',
    '--faults',
    `${dir}/faults.json`,
    '--backend',
    'memory:',
  ])
  let err = ''
  child.stderr.on('data', d => (err += d))
  const [code] = await once(child, 'exit')
  t.equal(code, 100)
  t.match(err, /qmqpd: fatal: .*rule 1: action.reply/)
})
