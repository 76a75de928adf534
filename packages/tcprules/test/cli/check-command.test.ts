import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { envFromObject } from '@qmqpkit/classic'
import { main as tcprulescheck } from '../../src/cli/tcprulescheck.js'
import { main as tcprulescheck6 } from '../../src/cli/tcprulescheck6.js'
import { compileRulesToBuffer } from '../../src/compile.js'
import { args, captureIo } from './io.js'

t.test('lookups print what tcprulescheck prints', async t => {
  const dir = t.testdir()
  const cdb = join(dir, 'r.cdb')
  writeFileSync(
    cdb,
    compileRulesToBuffer(
      '0.0.0.0:allow,DEFAULT_IP="yes"\njoe@=h.example.com:deny\n=.example.com:allow,A="1",A="2"\n',
    ),
  )
  const check = async (env: Record<string, string>) => {
    const c = captureIo()
    return [await tcprulescheck(args(cdb), envFromObject(env), c.io), c.out(), c.err()]
  }
  t.same(
    await check({}),
    [0, 'rule 0.0.0.0:\nset environment variable DEFAULT_IP=yes\nallow connection\n', ''],
    'TCPREMOTEIP defaults to 0.0.0.0',
  )
  t.same(await check({ TCPREMOTEIP: '1.1.1.1', TCPREMOTEHOST: 'h.example.com', TCPREMOTEINFO: 'joe' }), [
    0,
    'rule joe@=h.example.com:\ndeny connection\n',
    '',
  ])
  t.same(await check({ TCPREMOTEIP: '1.1.1.1', TCPREMOTEHOST: 'h.example.com' }), [
    0,
    'rule =.example.com:\nset environment variable A=1\nset environment variable A=2\nallow connection\n',
    '',
  ])
  t.same(await check({ TCPREMOTEIP: '1.1.1.1' }), [0, 'default:\nallow connection\n', ''])
})

t.test('errors', async t => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'empty.cdb'), '')
  writeFileSync(join(dir, 'short.cdb'), 'x'.repeat(100))
  const run = async (a: string[], main = tcprulescheck) => {
    const c = captureIo()
    return [await main(args(...a), new Map(), c.io), c.err()]
  }
  t.same(await run([]), [100, 'tcprulescheck: usage: tcprulescheck rules.cdb\n'])
  t.same(await run([join(dir, 'none.cdb')]), [
    111,
    `tcprulescheck: fatal: unable to read ${join(dir, 'none.cdb')}: file does not exist\n`,
  ])
  t.same(await run([join(dir, 'empty.cdb')], tcprulescheck6), [
    111,
    `tcprulescheck: fatal: unable to read ${join(dir, 'empty.cdb')}: invalid argument\n`,
  ])
  t.same(await run([join(dir, 'short.cdb')]), [
    111,
    `tcprulescheck: fatal: unable to read ${join(dir, 'short.cdb')}: protocol error\n`,
  ])
})

t.test('tcprulescheck6: prefixes end at colons, the address is taken as given', async t => {
  const dir = t.testdir()
  const cdb = join(dir, 'r.cdb')
  writeFileSync(cdb, compileRulesToBuffer('2001:db8:::allow\n::ffff:1.2.3.4:deny\n', { dialect: 'ipv6' }))
  const c = captureIo()
  t.equal(await tcprulescheck6(args(cdb), envFromObject({ TCPREMOTEIP: '2001:db8::7' }), c.io), 0)
  t.equal(c.out(), 'rule 2001:db8:::\nallow connection\n')
  const d = captureIo()
  await tcprulescheck6(args(cdb), envFromObject({ TCPREMOTEIP: '::ffff:1.2.3.4' }), d.io)
  t.equal(d.out(), 'rule ::ffff:1.2.3.4:\ndeny connection\n')
})
