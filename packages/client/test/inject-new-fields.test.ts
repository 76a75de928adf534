import t from 'tap'
import { dateField, messageIdField, startSeconds } from '../src/inject/new-fields.js'

t.test('Date and Message-ID', async t => {
  const s = startSeconds(new Date('2026-01-05T03:04:05.999Z'))
  t.equal(dateField(s).toString(), 'Date: 5 Jan 2026 03:04:05 -0000\n')
  t.equal(
    messageIdField(s, 42, Buffer.from('id.example')).toString(),
    'Message-ID: <20260105030405.42.qmail@id.example>\n',
  )
  t.equal(
    dateField(startSeconds(new Date('1999-12-31T23:59:59Z'))).toString(),
    'Date: 31 Dec 1999 23:59:59 -0000\n',
  )
})
