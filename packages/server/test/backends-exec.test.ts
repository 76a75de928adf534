import t from 'tap'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createQmqpServer } from '@qmqpkit/qmqp'
import { ExecBackend, execBackendFactory, queueEnvelope, queueExitVerdict } from '../src/backends/exec.js'
import { BackendSpecError } from '../src/backends/errors.js'
import { failingBody, injected } from './lib/backends-message.js'
import { queueExitReplies } from '../../../test/lib/qmqp-fixtures.js'

/** A qmail-queue stand-in: saves fd 0 and fd 1 and its pid under `dir`, then exits with `code`. */
function fakeQueue(dir: string, code: number, name = `qq-${code}`): string {
  const path = join(dir, name)
  writeFileSync(
    path,
    `#!/bin/sh\necho $$ > '${dir}/${name}.pid'\ncat > '${dir}/${name}.fd0'\ncat <&1 > '${dir}/${name}.fd1'\nexit ${code}\n`,
  )
  chmodSync(path, 0o755)
  return path
}

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

t.test('exit 0: K as qmail-qmqpd words it, message on fd 0, envelope on fd 1', async t => {
  const dir = t.testdir()
  const backend = new ExecBackend(fakeQueue(dir, 0))
  const msg = injected({ sender: 'from@example.com', recipients: ['a@x', 'b@y'] })
  const before = Math.floor(Date.now() / 1000)
  const verdict = await backend.deliver(msg)
  const pid = readFileSync(join(dir, 'qq-0.pid'), 'latin1').trim()
  t.equal(verdict.code, 'K')
  const m = /^ok (\d+) qp (\d+)$/.exec(verdict.text)
  t.ok(m, verdict.text)
  t.ok(Number(m![1]) >= before)
  t.equal(m![2], pid, 'the pid is the queue program’s')
  t.same(
    readFileSync(join(dir, 'qq-0.fd0')),
    await msg.delivered.read(),
    'the delivered form, Received line first',
  )
  t.same(readFileSync(join(dir, 'qq-0.fd1')), Buffer.from('Ffrom@example.com\0Ta@x\0Tb@y\0\0'))
  await backend.close()
})

t.test('every exit code maps as qmail-qmqpd maps it', async t => {
  const dir = t.testdir()
  const table = queueExitReplies()
  // The real program for each code, run concurrently.
  const results = await Promise.all(
    table.map(async ([code]) => new ExecBackend(fakeQueue(dir, code)).deliver(injected())),
  )
  for (const [i, [code, expected]] of table.entries())
    t.equal(`${results[i]!.code}${results[i]!.text}`, expected, `exit ${code}`)
  // And the pure table agrees for codes not worth a process each.
  for (let code = 1; code < 256; code++) {
    const v = queueExitVerdict(code, 1)
    t.ok(v.code === 'Z' || v.code === 'D', `exit ${code} is never K`)
  }
})

t.test('a program killed by a signal crashed; one that cannot run is "unable to exec"', async t => {
  const dir = t.testdir()
  const crash = script(dir, 'crash', 'kill -9 $$')
  t.same(await new ExecBackend(crash).deliver(injected()), { code: 'Z', text: 'qq crashed (#4.3.0)' })
  t.same(await new ExecBackend(join(dir, 'missing')).deliver(injected()), {
    code: 'Z',
    text: 'unable to exec qq (#4.3.0)',
  })
  const noexec = join(dir, 'noexec')
  writeFileSync(noexec, '#!/bin/sh\nexit 0\n')
  t.equal((await new ExecBackend(noexec).deliver(injected())).text, 'unable to exec qq (#4.3.0)')
})

t.test('a program that refuses without reading a large message does not stall us', async t => {
  const dir = t.testdir()
  const refuse = script(dir, 'refuse', 'exit 31')
  const verdict = await new ExecBackend(refuse).deliver(
    injected({ delivered: Buffer.alloc(8 * 1024 * 1024, 'x') }),
  )
  t.same(verdict, { code: 'D', text: 'mail server permanently rejected message (#5.3.0)' })
})

t.test('a stuck program is killed after the timeout and the message gets Z', async t => {
  const dir = t.testdir()
  const stuck = script(dir, 'stuck', 'exec sleep 30')
  t.same(await new ExecBackend(stuck, { timeoutMs: 200 }).deliver(injected()), {
    code: 'Z',
    text: 'qq timeout (#4.3.0)',
  })
})

t.test('when our copy of the message fails, the program never sees an envelope', async t => {
  const dir = t.testdir()
  const queue = fakeQueue(dir, 0, 'qq-broken')
  const verdict = await new ExecBackend(queue).deliver(
    injected({ delivered: failingBody(1_000_000, 300_000) }),
  )
  t.same(verdict, { code: 'Z', text: 'qq read error (#4.3.0)' })
  const fd1 = join(dir, 'qq-broken.fd1')
  t.ok(!existsSync(fd1) || readFileSync(fd1).length === 0, 'no envelope written')
})

t.test('envelope encoding and specs', async t => {
  t.same(queueEnvelope(Buffer.alloc(0), []), Buffer.from('F\0\0'))
  await t.rejects(execBackendFactory.create('exec:', {}), BackendSpecError)
  const b = await execBackendFactory.create('exec:/bin/true', {})
  t.equal(b.name, 'exec:/bin/true')
  await b.close()
})

const qmqpc = resolve(import.meta.dirname, '../../client/bin/qmail-qmqpc')
const qmqpcBuilt = existsSync(resolve(import.meta.dirname, '../../client/dist/bundle/qmail-qmqpc.cjs'))
if (!qmqpcBuilt && process.env.CI) throw new Error('qmail-qmqpc is not built: npm run build')

t.test(
  'qmail-qmqpc behind exec: relays to a QMQP server, its verdicts mapped back',
  { skip: !qmqpcBuilt && 'build @qmqpkit/client first' },
  async t => {
    const dir = t.testdir()
    const seen: Array<{ sender: string; recipients: string[]; message: Buffer }> = []
    const upstream = createQmqpServer({
      async onRequest(req) {
        const message = await req.message.read()
        await req.message.dispose()
        const recipients = req.recipients.map(String)
        seen.push({ sender: String(req.sender), recipients, message })
        if (recipients[0]!.startsWith('z@')) return { code: 'Z', text: 'later' }
        if (recipients[0]!.startsWith('d@')) return { code: 'D', text: 'never' }
        return { code: 'K', text: 'queued upstream' }
      },
    })
    const { port } = await upstream.listen(0, '127.0.0.1')
    t.teardown(() => upstream.close())
    mkdirSync(join(dir, 'home', 'control'), { recursive: true })
    writeFileSync(join(dir, 'home', 'control', 'qmqpservers'), `127.0.0.1:${port}\n`)
    const program = script(
      dir,
      'qmqpc',
      `QMQPKIT_CLIENT_HOME='${dir}/home' exec '${process.execPath}' '${qmqpc}'`,
    )
    const backend = new ExecBackend(program)
    const msg = injected({ sender: 'relay@example.com', recipients: ['k@example.net', 'x@example.org'] })
    const verdict = await backend.deliver(msg)
    t.equal(verdict.code, 'K')
    t.match(verdict.text, /^ok \d+ qp \d+$/)
    t.same(seen[0]!.sender, 'relay@example.com')
    t.same(seen[0]!.recipients, ['k@example.net', 'x@example.org'])
    t.same(seen[0]!.message, await msg.delivered.read())
    t.same(await backend.deliver(injected({ recipients: ['z@x'] })), {
      code: 'Z',
      text: 'mail server temporarily rejected message (#4.3.0)',
    })
    t.same(await backend.deliver(injected({ recipients: ['d@x'] })), {
      code: 'D',
      text: 'mail server permanently rejected message (#5.3.0)',
    })
  },
)
