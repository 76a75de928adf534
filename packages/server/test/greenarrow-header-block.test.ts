import t from 'tap'
import { HeaderBlock, HeaderField, scanHeader } from '../src/greenarrow/header-block.js'

const b = (s: string) => Buffer.from(s, 'latin1')
const raws = (fields: HeaderField[]) => fields.map(f => f.raw.toString('latin1'))

t.test('fields keep their bytes; the block ends at the empty line', async t => {
  const msg = 'From: a@example.com\nSubject: hi\n\nbody: not a header\n'
  const scan = scanHeader(b(msg), true)
  t.same(raws(scan.fields), ['From: a@example.com\n', 'Subject: hi\n'])
  t.equal(scan.end, msg.indexOf('\n\n') + 1)
  t.equal(scan.complete, true)
})

t.test('folded fields: continuation lines belong to the field and unfold into its value', async t => {
  const msg = 'X-GreenArrow-DKIM: {"domain":\n  "example.com",\n\t"selector": "s1"}\nTo: x\n\n'
  const scan = scanHeader(b(msg), true)
  t.same(raws(scan.fields), [
    'X-GreenArrow-DKIM: {"domain":\n  "example.com",\n\t"selector": "s1"}\n',
    'To: x\n',
  ])
  t.equal(scan.fields[0]!.value, '{"domain":  "example.com",\t"selector": "s1"}')
  t.equal(scan.fields[0]!.name, 'X-GreenArrow-DKIM')
})

t.test('CR LF messages stay byte-exact; values lose the CR', async t => {
  const msg = 'Subject: one\r\n two\r\nX-A: b \r\n\r\nbody\r\n'
  const scan = scanHeader(b(msg), true)
  t.same(raws(scan.fields), ['Subject: one\r\n two\r\n', 'X-A: b \r\n'])
  t.equal(scan.fields[0]!.value, 'one two')
  t.equal(scan.fields[1]!.value, 'b')
  t.equal(scan.end, msg.indexOf('\r\n\r\n') + 2)
  t.equal(new HeaderBlock(scan.fields).lineEnd, '\r\n')
})

t.test('names: case-insensitive, blanks before the colon allowed, value may be empty', async t => {
  const scan = scanHeader(b('x-greenarrow-mailclass : news\nX-Empty:\n\n'), true)
  t.equal(scan.fields[0]!.name, 'x-greenarrow-mailclass')
  t.ok(scan.fields[0]!.is('X-GreenArrow-MailClass'))
  t.equal(scan.fields[0]!.value, 'news')
  t.equal(scan.fields[1]!.value, '')
})

t.test('a line that is not a field ends the header; so does the end of the message', async t => {
  const notField = scanHeader(b('A: 1\nnot a header line\nB: 2\n\n'), true)
  t.same(raws(notField.fields), ['A: 1\n'])
  t.equal(notField.end, 5)
  const leadingBlank = scanHeader(b(' folded first\nA: 1\n'), true)
  t.same(leadingBlank.fields, [])
  t.equal(leadingBlank.end, 0)
  const noBody = scanHeader(b('A: 1\nB: 2'), true)
  t.same(raws(noBody.fields), ['A: 1\n', 'B: 2'])
  t.equal(noBody.end, 9)
  const empty = scanHeader(b('\nbody'), true)
  t.same([empty.fields, empty.end], [[], 0])
  const crlfEmpty = scanHeader(b('\r\nbody'), true)
  t.same([crlfEmpty.fields, crlfEmpty.end], [[], 0])
  t.same(scanHeader(b(''), true), { fields: [], end: 0, complete: true })
})

t.test('partial input: an unfinished line or a field that may continue is left out', async t => {
  const unfinished = scanHeader(b('A: 1\nB: 2\nC: par'), false)
  t.same(raws(unfinished.fields), ['A: 1\n', 'B: 2\n'])
  t.equal(unfinished.end, 10)
  t.equal(unfinished.complete, false)
  const unfinishedContinuation = scanHeader(b('A: 1\nB: 2\n  par'), false)
  t.same(raws(unfinishedContinuation.fields), ['A: 1\n'])
  t.equal(unfinishedContinuation.end, 5)
  const mayContinue = scanHeader(b('A: 1\nB: 2\n'), false)
  t.same(raws(mayContinue.fields), ['A: 1\n'])
  t.equal(mayContinue.end, 5)
  const done = scanHeader(b('A: 1\n\n'), false)
  t.same([raws(done.fields), done.complete], [['A: 1\n'], true])
})

t.test('HeaderBlock: get, getAll, has, remove, add, set', async t => {
  const h = HeaderBlock.parse('To: a\nX-Tag: 1\nSubject: s\nx-tag: 2\n')
  t.equal(h.get('x-TAG'), '1')
  t.same(h.getAll('X-Tag'), ['1', '2'])
  t.ok(h.has('subject'))
  t.notOk(h.has('Cc'))
  t.equal(h.get('Cc'), undefined)
  h.set('X-Tag', 'three')
  t.equal(h.toBuffer().toString(), 'To: a\nX-Tag: three\nSubject: s\n')
  h.add('X-New', 'v')
  h.add('X-Top', 'w', { top: true })
  t.equal(h.toBuffer().toString(), 'X-Top: w\nTo: a\nX-Tag: three\nSubject: s\nX-New: v\n')
  t.equal(h.remove('x-tag'), 1)
  t.equal(
    h.remove(f => f.name.startsWith('X-')),
    2,
  )
  t.equal(h.toBuffer().toString(), 'To: a\nSubject: s\n')
  h.set('Cc', 'c')
  t.equal(h.toBuffer().toString(), 'To: a\nSubject: s\nCc: c\n')
  const crlf = HeaderBlock.parse('A: 1\r\n')
  crlf.add('B', '2')
  t.equal(crlf.toBuffer().toString(), 'A: 1\r\nB: 2\r\n')
  t.equal(new HeaderBlock([]).lineEnd, '\n')
})

t.test('a HeaderField must be a field; value bytes are kept for non-UTF-8 checks', async t => {
  t.throws(() => new HeaderField(b('no colon here\n')), TypeError)
  t.throws(() => new HeaderField(b(': empty name\n')), TypeError)
  const f = new HeaderField(Buffer.from([0x58, 0x3a, 0x20, 0xe9, 0x0a]))
  t.same([...f.valueBytes], [0xe9])
})
