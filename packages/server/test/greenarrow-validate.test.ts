import t from 'tap'
import { instanceIdProblem, listIdProblem, mailClassProblem, parseDkim } from '../src/greenarrow/validate.js'

t.test('mail class names', async t => {
  for (const ok of ['newsletter', 'transactional', 'Big_News', '_x', 'b', 'x'.repeat(20)])
    t.equal(mailClassProblem(ok), null, ok)
  for (const [bad, why] of [
    ['', /empty/],
    ['news-letter', /letters and underscores/],
    ['class1', /letters and underscores/],
    ['a__b', /two underscores/],
    ['a', /reserved/],
    ['A', /reserved/],
    ['x'.repeat(21), /longer than 20/],
  ] as const)
    t.match(mailClassProblem(bad), why, bad)
})

t.test('InstanceIDs: printable ASCII, 1-300 bytes', async t => {
  t.equal(instanceIdProblem(Buffer.from('0901220005')), null)
  t.equal(instanceIdProblem(Buffer.from('campaign 7: spring ~sale~')), null)
  t.equal(instanceIdProblem(Buffer.alloc(300, 0x41)), null)
  t.match(instanceIdProblem(Buffer.alloc(301, 0x41)), /301 bytes/)
  t.match(instanceIdProblem(Buffer.alloc(0)), /empty/)
  t.match(instanceIdProblem(Buffer.from('tab\there')), /printable/)
  t.match(instanceIdProblem(Buffer.from('caf\u00e9')), /printable/)
  t.match(instanceIdProblem(Buffer.from([0x7f])), /printable/)
})

t.test('ListIDs', async t => {
  for (const ok of ['t100', 'list_1+x', 'A', 'a1b', 'ab', 'x'.repeat(20)])
    t.equal(listIdProblem(ok), null, ok)
  t.match(listIdProblem(''), /1-20/)
  t.match(listIdProblem('x'.repeat(21)), /1-20/)
  t.match(listIdProblem('a-b'), /1-20/)
  t.match(listIdProblem('a'), /reserved/)
  t.match(listIdProblem('a42'), /reserved/)
})

t.test('X-GreenArrow-DKIM values', async t => {
  t.same(parseDkim('{"domain":"example.com","selector":"s1"}', 60), {
    keys: [{ domain: 'example.com', selector: 's1' }],
  })
  t.same(parseDkim('[{"domain":"a.example"},{"domain":"b.example","selector":"x"}]', 80), {
    keys: [{ domain: 'a.example' }, { domain: 'b.example', selector: 'x' }],
  })
  const ten = JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ domain: `d${i}.example` })))
  t.equal((parseDkim(ten, 300) as { keys: object[] }).keys.length, 10)
  const bad = (v: string, bytes = 100) => (parseDkim(v, bytes) as { problem: string }).problem
  t.match(bad('{"domain":'), /not JSON/)
  t.match(bad('[]'), /0 entries/)
  t.match(bad(JSON.stringify(Array.from({ length: 11 }, () => ({ domain: 'd' })))), /11 entries/)
  t.match(bad('"example.com"'), /not an object/)
  t.match(bad('[null]'), /not an object/)
  t.match(bad('[[]]'), /not an object/)
  t.match(bad('{"selector":"s"}'), /without a domain/)
  t.match(bad('{"domain":""}'), /without a domain/)
  t.match(bad('{"domain":"d","selector":5}'), /selector/)
  t.match(bad('{"domain":"d"}', 4096), /under 4 KB/)
  t.same(parseDkim('{"domain":"d"}', 4095), { keys: [{ domain: 'd' }] })
})
