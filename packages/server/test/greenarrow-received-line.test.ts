import t from 'tap'
import {
  postfixDate,
  qmailDate,
  qmailSafe,
  quoteLocalPart,
  receivedLine,
} from '../src/greenarrow/received-line.js'

const date = new Date('2026-12-04T15:41:30Z')
const text = (b: Buffer) => b.toString('latin1')

t.test('qmail format, byte-exact against the lines qmail-qmqpd wrote (reference qmqp.md §7)', async t => {
  t.equal(
    text(
      receivedLine('qmail', {
        remoteIp: '127.0.0.1',
        localHost: 'qmqp.example.test',
        me: 'ignored.example',
        date,
      }),
    ),
    'Received: from unknown (127.0.0.1)\n  by qmqp.example.test with QMQP; 4 Dec 2026 15:41:30 -0000\n',
  )
  t.equal(
    text(
      receivedLine('qmail', {
        remoteHost: 'app1.example.com',
        remoteInfo: 'joe',
        remoteIp: '192.0.2.7',
        localIp: '192.0.2.1',
        me: 'ignored.example',
        date,
      }),
    ),
    'Received: from app1.example.com (joe@192.0.2.7)\n  by 192.0.2.1 with QMQP; 4 Dec 2026 15:41:30 -0000\n',
  )
  t.match(
    text(receivedLine('qmail', { remoteHost: 'bad host_[x]', remoteIp: '127.0.0.1', me: 'm', date })),
    /^Received: from bad\?host\?\[x\] \(127\.0\.0\.1\)\n/,
  )
})

t.test('qmail format: TCPLOCALHOST, else TCPLOCALIP, else unknown; missing IP is unknown', async t => {
  const both = receivedLine('qmail', { localHost: 'h.example', localIp: '10.0.0.1', me: 'm', date })
  t.match(text(both), /\n {2}by h\.example with QMQP; /)
  t.match(text(receivedLine('qmail', { localIp: '10.0.0.1', me: 'm', date })), /\n {2}by 10\.0\.0\.1 with /)
  t.equal(
    text(receivedLine('qmail', { me: 'm', date })),
    'Received: from unknown (unknown)\n  by unknown with QMQP; 4 Dec 2026 15:41:30 -0000\n',
  )
  // An empty TCPREMOTEINFO is set, as getenv sees it: the "@" appears.
  t.match(
    text(receivedLine('qmail', { remoteInfo: '', remoteIp: '1.2.3.4', me: 'm', date })),
    /\(@1\.2\.3\.4\)/,
  )
})

t.test('greenarrow format is qmail with control/me as the by-host', async t => {
  t.equal(
    text(
      receivedLine('greenarrow', {
        remoteIp: '127.0.0.1',
        localHost: 'qmqp.example.test',
        me: 'engine.example.com',
        date,
      }),
    ),
    'Received: from unknown (127.0.0.1)\n  by engine.example.com with QMQP; 4 Dec 2026 15:41:30 -0000\n',
  )
  t.equal(
    text(receivedLine('greenarrow', { me: 'engine example', date })),
    'Received: from unknown (unknown)\n  by engine?example with QMQP; 4 Dec 2026 15:41:30 -0000\n',
  )
})

t.test('the filter passes letters, digits and . @ % + / = : - [ ], nothing else', async t => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const kept = text(qmailSafe(all)).replace(/\?/g, '')
  t.equal(kept, '%+-./0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz')
  t.equal(qmailSafe(all).length, 256)
  t.same(qmailSafe(Buffer.from([0xc3, 0xa9, 0x41])), Buffer.from('??A'))
  t.equal(
    text(receivedLine('qmail', { remoteHost: Buffer.from([0x68, 0x00, 0x0a]), me: 'm', date })).slice(0, 18),
    'Received: from h??',
  )
})

t.test('qmail dates: UTC, day without a leading zero, two-digit time', async t => {
  t.equal(qmailDate(new Date('2027-01-09T03:04:05Z')), '9 Jan 2027 03:04:05 -0000')
  t.equal(qmailDate(new Date('2026-12-31T23:59:59.999Z')), '31 Dec 2026 23:59:59 -0000')
  t.equal(qmailDate(new Date(Date.UTC(2026, 1, 28, 0, 0, 0))), '28 Feb 2026 00:00:00 -0000')
})

t.test('postfix format: one recipient names it, several give the id line', async t => {
  const one = receivedLine('postfix', {
    remoteHost: 'app1.example.com',
    remoteIp: '192.0.2.7',
    me: 'mx.example.com',
    date,
    id: '4F2A81C02B',
    recipients: [Buffer.from('rcpt@example.net')],
  })
  t.equal(
    text(one),
    'Received: from app1.example.com (app1.example.com [192.0.2.7])\n' +
      '\tby mx.example.com (Postfix) with QMQP id 4F2A81C02B\n' +
      '\tfor <rcpt@example.net>; Fri,  4 Dec 2026 15:41:30 +0000 (UTC)\n',
  )
  const several = receivedLine('postfix', {
    remoteIp: '::1',
    me: 'mx.example.com',
    date,
    recipients: ['a@x', 'b@y'],
  })
  t.equal(
    text(several),
    'Received: from unknown (unknown [IPv6:::1])\n\tby mx.example.com (Postfix) with QMQP\n\tid unknown; Fri,  4 Dec 2026 15:41:30 +0000 (UTC)\n',
  )
  t.match(
    text(receivedLine('postfix', { me: 'm', date })),
    /^Received: from unknown \(unknown \[unknown\]\)\n\tby m \(Postfix\) with QMQP\n\tid unknown; /,
  )
})

t.test('postfix dates and local-part quoting', async t => {
  t.equal(postfixDate(new Date('2026-12-14T05:06:07Z')), 'Mon, 14 Dec 2026 05:06:07 +0000 (UTC)')
  t.equal(postfixDate(new Date('2027-01-03T00:00:00Z')), 'Sun,  3 Jan 2027 00:00:00 +0000 (UTC)')
  t.equal(text(quoteLocalPart(Buffer.from('first.last@example.com'))), 'first.last@example.com')
  t.equal(text(quoteLocalPart(Buffer.from('a b@example.com'))), '"a b"@example.com')
  t.equal(text(quoteLocalPart(Buffer.from('x"y\\z@example.com'))), '"x\\"y\\\\z"@example.com')
  t.equal(text(quoteLocalPart(Buffer.from('a..b'))), '"a..b"')
  t.equal(text(quoteLocalPart(Buffer.from('@example.com'))), '@example.com')
})
