import t from 'tap'
import { expandAddress, isRangeAddress, RangeSyntaxError } from '../src/range.js'

const keys = (s: string) => expandAddress(Buffer.from(s, 'latin1')).map(k => k.toString('latin1'))

t.test('expansion as tcprules does it', t => {
  t.same(keys('1.2.3.4-7'), ['1.2.3.4', '1.2.3.5', '1.2.3.6', '1.2.3.7'])
  t.same(keys('10.2-3.'), ['10.2.', '10.3.'])
  t.same(keys('172.16.5.250-300'), [
    '172.16.5.250',
    '172.16.5.251',
    '172.16.5.252',
    '172.16.5.253',
    '172.16.5.254',
    '172.16.5.255',
  ])
  t.same(keys('172.16.6.9-3'), [], 'bottom above top: nothing')
  t.same(keys('172.16.7.-2'), ['172.16.7.0', '172.16.7.1', '172.16.7.2'], 'empty bottom is 0')
  t.same(keys('1.2.3.-'), ['1.2.3.0'], 'both bounds empty')
  t.same(keys('10-11.'), ['10.', '11.'])
  t.same(keys('1-2.3-4.'), ['1.3-4.', '2.3-4.'], 'only the first dash counts')
  t.same(keys('1.2.3.007-8'), ['1.2.3.7', '1.2.3.8'], 'numbers are written again without leading zeros')
  t.same(keys('1.2.3.18446744073709551617-2'), ['1.2.3.1', '1.2.3.2'], 'the bottom wraps modulo 2^64')
  t.same(keys('1.2.3.4\0x-5'), ['1.2.3.4', '1.2.3.5'], 'a NUL ends a bound as it ends a C string')
  t.same(keys('=mail-1.example.com'), ['=mail-1.example.com'])
  t.same(keys('joe-x@1.2.3.4'), ['joe-x@1.2.3.4'])
  t.same(keys('1.2.3.4'), ['1.2.3.4'])
  t.end()
})

t.test('bounds that are not numbers', t => {
  for (const s of ['10.0.0.1-x', '10.0.0.1-2-3', 'x-1.2.3.4', '2001::1-3']) {
    t.throws(() => keys(s), RangeSyntaxError, s)
  }
  t.notOk(isRangeAddress(Buffer.from('a=b-c')))
  t.end()
})
