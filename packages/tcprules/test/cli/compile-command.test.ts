import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { compileCommand } from '../../src/cli/compile-command.js'
import { main as tcprules } from '../../src/cli/tcprules.js'
import { main as tcprules6 } from '../../src/cli/tcprules6.js'
import { compileRulesToBuffer } from '../../src/compile.js'
import { args, captureIo } from './io.js'

t.test('compiles, renames, leaves no temp file', async t => {
  const dir = t.testdir()
  const c = captureIo('1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n:deny\n')
  t.equal(await tcprules(args(join(dir, 'r.cdb'), join(dir, 'r.tmp')), new Map(), c.io), 0)
  t.same(
    readFileSync(join(dir, 'r.cdb')),
    compileRulesToBuffer('1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n:deny\n'),
  )
  t.notOk(existsSync(join(dir, 'r.tmp')))
  t.equal(c.err(), '')
  t.equal(statSync(join(dir, 'r.cdb')).mode & 0o777, 0o644 & ~process.umask())
})

t.test('the messages of tcprules', async t => {
  const dir = t.testdir()
  const run = async (input: string, a: string[], main = tcprules) => {
    const c = captureIo(input)
    const status = await main(args(...a), new Map(), c.io)
    return [status, c.err()]
  }
  t.same(await run('', []), [100, 'tcprules: usage: tcprules rules.cdb rules.tmp\n'])
  t.same(await run('', ['only']), [100, 'tcprules: usage: tcprules rules.cdb rules.tmp\n'])
  writeFileSync(join(dir, 'r.cdb'), 'old')
  t.same(await run('1:allow\n2:deny x\n', [join(dir, 'r.cdb'), join(dir, 'r.tmp')]), [
    100,
    'tcprules: fatal: unable to parse this line: 2:deny x\n',
  ])
  t.equal(readFileSync(join(dir, 'r.cdb'), 'latin1'), 'old', 'the database is untouched')
  t.ok(existsSync(join(dir, 'r.tmp')), 'the temp file stays, as with tcprules')
  t.same(await run('1:allow\n', [join(dir, 'r.cdb'), join(dir, 'no/r.tmp')]), [
    111,
    `tcprules: fatal: unable to create ${join(dir, 'no/r.tmp')}: file does not exist\n`,
  ])
  mkdirSync(join(dir, 'isdir'))
  t.same(await run('1:allow\n', [join(dir, 'isdir'), join(dir, 'r.tmp')]), [
    111,
    `tcprules: fatal: unable to move ${join(dir, 'r.tmp')} to ${join(dir, 'isdir')}: is a directory\n`,
  ])
  t.same(await run('::1:allow\n', [join(dir, 'v6.cdb'), join(dir, 'v6.tmp')], tcprules6), [0, ''])
  t.same(await run('::1:allow\n', [join(dir, 'v4.cdb'), join(dir, 'v4.tmp')]), [
    100,
    'tcprules: fatal: unable to parse this line: ::1:allow\n',
  ])
})

t.test('an unreadable input', async t => {
  const dir = t.testdir()
  const c = captureIo()
  c.io.stdin.destroy(Object.assign(new Error('boom'), { code: 'EIO' }))
  t.equal(await compileCommand(args(join(dir, 'r.cdb'), join(dir, 'r.tmp')), c.io, 'ipv4'), 111)
  t.equal(c.err(), 'tcprules: fatal: unable to read input: input/output error\n')
})
