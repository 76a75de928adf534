import t from 'tap'
import { headerParam, mimeParts } from '../src/api/mime.js'

t.test('a plain message is one text part', async t => {
  t.same(mimeParts(Buffer.from('Subject: x\n\nhello\n')), [
    { path: '1', contentType: 'text/plain', charset: null, filename: null, size: 6, text: 'hello\n' },
  ])
})

t.test('nested multipart, transfer encodings, charsets, attachments', async t => {
  const msg = [
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    'preamble',
    '--outer',
    'Content-Type: multipart/alternative; boundary="in ner"',
    '',
    '--in ner',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=E9 soft=',
    'break',
    '--in ner',
    'Content-Type: text/html',
    '',
    '<b>x</b>',
    '--in ner--',
    '--outer',
    'Content-Type: application/pdf; name="a.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4').toString('base64'),
    '--outer--',
    'epilogue',
  ].join('\r\n')
  const parts = mimeParts(Buffer.from(msg))
  t.same(
    parts.map(p => [p.path, p.contentType, p.text, p.filename, p.size]),
    [
      ['1.1', 'text/plain', 'café softbreak', null, 14],
      ['1.2', 'text/html', '<b>x</b>', null, 8],
      ['2', 'application/pdf', null, 'report.pdf', 8],
    ],
  )
})

t.test('limits and odd input', async t => {
  const many = ['Content-Type: multipart/mixed; boundary=b', '']
  for (let i = 0; i < 20; i++) many.push('--b', '', `part ${i}`)
  many.push('--b--')
  t.equal(mimeParts(Buffer.from(many.join('\n')), 5).length, 5)
  t.equal(mimeParts(Buffer.from('Content-Type: text/plain; charset=x-nonsense\n\nabc')).at(0)?.text, 'abc')
  t.equal(mimeParts(Buffer.from('no header block at all')).length, 1)
  t.equal(headerParam('text/plain; charset="utf-8"', 'charset'), 'utf-8')
  t.equal(headerParam('text/plain; CHARSET=latin1', 'charset'), 'latin1')
  t.equal(headerParam('text/plain', 'charset'), null)
})
