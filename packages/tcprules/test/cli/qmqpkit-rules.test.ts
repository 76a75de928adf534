import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli/qmqpkit-rules.js'
import { compileRulesToBuffer } from '../../src/compile.js'
import { args, captureIo } from './io.js'

const run = async (a: string[], input = '') => {
  const c = captureIo(input)
  const status = await main(args(...a), new Map(), c.io)
  return { status, out: c.out(), err: c.err() }
}

t.test('lint', async t => {
  const dir = t.testdir({
    'good.tcp': '1.2.3.4:allow\n:deny\n',
    'bad.tcp': '1.2.3.4:allow\n1.2.3.4:deny\n:deny\n',
  })
  t.match(await run(['lint', join(dir, 'good.tcp')]), { status: 0, out: '' })
  const bad = await run(['lint', join(dir, 'bad.tcp')])
  t.equal(bad.status, 1)
  t.match(bad.out, /bad\.tcp:2: warning: "1\.2\.3\.4" was already written at line 1.*\[duplicate\]/)
  const json = await run(['lint', '--json', join(dir, 'bad.tcp')])
  t.match(JSON.parse(json.out), [{ line: 2, code: 'duplicate', severity: 'warning' }])
  t.match(await run(['lint', join(dir, 'missing.tcp')]), {
    status: 111,
    err: /unable to read .*missing\.tcp: file does not exist/,
  })
})

t.test('explain and decompile', async t => {
  const dir = t.testdir()
  const cdb = join(dir, 'r.cdb')
  writeFileSync(
    cdb,
    compileRulesToBuffer('1.2.3.:allow,GREENARROW_SIMPLEMH=""\n2001:db8:::deny\n:deny\n', {
      dialect: 'ipv6',
    }),
  )
  const text = await run(['explain', cdb, '1.2.3.4'])
  t.equal(text.status, 0)
  t.match(text.out, /no rule {2}"1\.2\.3\.4".*\nfound {2}"1\.2\.3\."/)
  const json = await run(['explain', '--json', '--ipv6', cdb, '2001:DB8:0::9'])
  t.match(JSON.parse(json.out), { ip: '2001:db8::9', decision: 'deny', key: '2001:db8::' })
  const asGiven = await run(['explain', '--json', '--ipv6', '--as-given', cdb, '2001:DB8:0::9'])
  t.match(JSON.parse(asGiven.out), { decision: 'deny', key: '' })
  const back = await run(['decompile', '--ipv6', cdb])
  t.equal(back.out, '1.2.3.:allow,GREENARROW_SIMPLEMH=""\n2001:db8:::deny\n:deny\n')
  t.match(await run(['decompile', cdb]), { status: 100, err: /cannot be written as a rule/ })
  t.match(await run(['explain', join(dir, 'none.cdb'), '1.1.1.1']), { status: 111 })
})

t.test('compile --cidr', async t => {
  const dir = t.testdir()
  const r = await run(
    ['compile', '--cidr', join(dir, 'r.cdb'), join(dir, 'r.tmp')],
    '10.0.0.0/22:allow\n:deny\n',
  )
  t.same([r.status, r.err], [0, ''])
  t.same(readFileSync(join(dir, 'r.cdb')), compileRulesToBuffer('10.0.0-3.:allow\n:deny\n'))
  t.match(await run(['compile', '--cidr', join(dir, 'r.cdb'), join(dir, 'r.tmp')], '10.0.0.1/22:allow\n'), {
    status: 100,
    err: /host bits are set/,
  })
  t.match(await run(['compile', join(dir, 'r.cdb'), join(dir, 'r.tmp')], '1:allow\n2:nope\n'), {
    status: 100,
    err: /line 2: unable to parse this line: 2:nope/,
  })
  t.match(await run(['compile', join(dir, 'r.cdb'), join(dir, 'no/r.tmp')], '1:allow\n'), {
    status: 111,
    err: /unable to create/,
  })
})

t.test('usage', async t => {
  t.match(await run(['bogus']), { status: 100, err: /unknown command/ })
  t.match(await run(['--help']), { status: 0, out: /lint.*\n.*explain/s })
  t.match(await run(['explain']), { status: 100 })
})
