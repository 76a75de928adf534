import t from 'tap'
import { cidrToAddress, expandCidrRules } from '../src/cidr.js'
import { compileRules } from '../src/compile.js'

t.test('CIDR blocks as one tcprules address', t => {
  const cases: Array<[string, string]> = [
    ['10.0.0.0/8', '10.'],
    ['10.1.2.0/24', '10.1.2.'],
    ['10.0.0.0/22', '10.0.0-3.'],
    ['10.0.0.32/27', '10.0.0.32-63'],
    ['1.2.3.4/32', '1.2.3.4'],
    ['0.0.0.0/0', '0-255.'],
    ['172.16.0.0/12', '172.16-31.'],
    ['192.168.0.0/16', '192.168.'],
  ]
  for (const [block, address] of cases) t.equal(cidrToAddress(block), address, block)
  for (const bad of ['10.0.0.1/22', '10.0.0.0/33', '300.0.0.0/8', '10.0.0/8', 'x']) {
    t.throws(() => cidrToAddress(bad), { code: 'TCPRULES_ERR_USAGE' }, bad)
  }
  t.end()
})

t.test('the expansion covers exactly the block', t => {
  // Every address of 10.0.4.0/22 finds one of the keys at some dot; 10.0.8.1 does not.
  const keys = compileRules(expandCidrRules(Buffer.from('10.0.4.0/22:allow\n'))).map(([k]) => k.toString())
  t.same(keys, ['10.0.4.', '10.0.5.', '10.0.6.', '10.0.7.'])
  const covered = (ip: string) => keys.some(k => ip.startsWith(k))
  t.ok(covered('10.0.4.0') && covered('10.0.7.255'))
  t.notOk(covered('10.0.8.1') || covered('10.0.3.255'))
  t.end()
})

t.test('rules text: only CIDR addresses change, line numbers stay', t => {
  const text = Buffer.from(
    '# 10.0.0.0/8 comment\njoe@10.0.0.0/30:allow\n10.9.0.0/16:deny,A="x/y"\n=h.example.com:allow,P="1/2"\n:deny',
  )
  t.equal(
    expandCidrRules(text).toString(),
    '# 10.0.0.0/8 comment\njoe@10.0.0.0-3:allow\n10.9.:deny,A="x/y"\n=h.example.com:allow,P="1/2"\n:deny',
  )
  t.end()
})
