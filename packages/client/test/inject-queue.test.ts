import t from 'tap'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { envelopeBytes, queueReply, runQueueProgram } from '../src/inject/queue.js'
import { queueExitReplies } from '../../../test/lib/qmqp-fixtures.js'

/** A qmail-queue-interface peer: saves fd 0 and fd 1, then exits with $QQ_EXIT. */
function fakeQueue(dir: string, exit: number | 'kill' | 'no-read'): string {
  const file = path.join(dir, 'fake-queue')
  const body =
    exit === 'kill'
      ? 'cat > "$(dirname "$0")/msg"; kill -9 $$\n'
      : exit === 'no-read'
        ? 'exit 0\n'
        : `cat > "$(dirname "$0")/msg"; cat <&1 > "$(dirname "$0")/env"; exit ${exit}\n`
  writeFileSync(file, '#!/bin/sh\n' + body)
  chmodSync(file, 0o755)
  return file
}

const prepared = {
  message: Buffer.from('Subject: x\n\nbody \xff\n', 'latin1'),
  sender: Buffer.from('s@x.y'),
  recipients: [Buffer.from('a@x.y'), Buffer.from('')],
}

t.test('envelope bytes', async t => {
  t.same(envelopeBytes(Buffer.from('s'), [Buffer.from('a'), Buffer.from('b')]), Buffer.from('Fs\0Ta\0Tb\0\0'))
  t.same(envelopeBytes(Buffer.alloc(0), []), Buffer.from('F\0\0'))
})

t.test('the program gets the message on fd 0 and the envelope on fd 1', async t => {
  const dir = t.testdir()
  const reply = await runQueueProgram(Buffer.from(fakeQueue(dir, 0)), prepared)
  t.equal(reply, '')
  t.same(readFileSync(path.join(dir, 'msg')), prepared.message)
  t.same(readFileSync(path.join(dir, 'env')), Buffer.from('Fs@x.y\0Ta@x.y\0T\0\0'))
})

t.test('exit codes map to qmail texts', async t => {
  const dir = t.testdir()
  t.equal(
    await runQueueProgram(Buffer.from(fakeQueue(dir, 31)), prepared),
    'Dmail server permanently rejected message (#5.3.0)',
  )
  t.equal(
    await runQueueProgram(Buffer.from(fakeQueue(dir, 71)), prepared),
    'Zmail server temporarily rejected message (#4.3.0)',
  )
  t.equal(await runQueueProgram(Buffer.from(fakeQueue(dir, 'kill')), prepared), 'Zqq crashed (#4.3.0)')
  t.equal(
    await runQueueProgram(Buffer.from(path.join(dir, 'missing')), prepared),
    'Zunable to exec qq (#4.3.0)',
  )
  t.equal(await runQueueProgram(Buffer.from(dir), prepared), 'Zunable to exec qq (#4.3.0)', 'a directory')
})

t.test('a relative program name resolves in cwd; raw bytes in the name survive', async t => {
  const dir = t.testdir()
  const name = Buffer.from('q\xe9ue', 'latin1')
  const file = path.join(dir, 'x')
  writeFileSync(file, '#!/bin/sh\ncat >/dev/null; exit 73\n')
  chmodSync(file, 0o755)
  // Rename to a non-UTF-8 name through the shell (Node's path strings cannot hold it).
  const { spawnSync } = await import('node:child_process')
  spawnSync('/bin/sh', ['-c', `mv x "$(printf 'q\\351ue')"`], { cwd: dir })
  t.equal(await runQueueProgram(name, prepared, { cwd: dir }), 'Zconnection to mail server rejected (#4.4.1)')
})

t.test('a program that does not read: its exit decides, a 0 becomes a read error', async t => {
  const dir = t.testdir()
  const big = { ...prepared, message: Buffer.alloc(4 << 20, 0x61) }
  t.equal(await runQueueProgram(Buffer.from(fakeQueue(dir, 'no-read')), big), 'Zqq read error (#4.3.0)')
})

t.test('queueReply table', async t => {
  const cases = queueExitReplies()
  for (const [code, text] of cases) t.equal(queueReply(code, null), text, `exit ${code}`)
  t.equal(queueReply(0, null), '', 'exit 0: queued')
  t.equal(queueReply(null, 'SIGKILL'), 'Zqq crashed (#4.3.0)')
  t.equal(queueReply(0, null, true), 'Zqq read error (#4.3.0)')
})
