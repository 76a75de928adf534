import nodemailer from 'nodemailer'
import t from 'tap'
import { qmqpTransport } from '../src/nodemailer-transport.js'
import { recordingServer, refusedPort } from './lib/recording-server.js'

t.test('nodemailer sends its built message over QMQP', async t => {
  const srv = await recordingServer({ code: 'K', text: 'ok 1796398890 qp 4242' })
  t.teardown(srv.close)
  const transporter = nodemailer.createTransport(qmqpTransport({ servers: [srv.server] }))
  t.equal(await transporter.verify(), true)
  const info = await transporter.sendMail({
    from: 'App <app@example.com>',
    to: 'ops@example.com, Bo <bo@example.net>',
    bcc: 'audit@example.org',
    subject: 'Grüße',
    text: 'line one\nline two\n',
    headers: { 'X-GreenArrow-MailClass': 'transactional' },
  })
  t.same(info.envelope, {
    from: 'app@example.com',
    to: ['ops@example.com', 'bo@example.net', 'audit@example.org'],
  })
  t.equal(info.response, 'Kok 1796398890 qp 4242')
  t.equal(info.server, srv.server)
  t.same(info.accepted, ['ops@example.com', 'bo@example.net', 'audit@example.org'])
  t.match(info.messageId, /^<.+@example\.com>$/)
  const got = srv.received[0]!
  t.same(got.sender, Buffer.from('app@example.com'))
  t.same(got.recipients.map(String), ['ops@example.com', 'bo@example.net', 'audit@example.org'])
  const text = got.message.toString()
  t.notMatch(text, /\r/, 'LF line ends only')
  t.notMatch(text, /^Bcc:/im, 'Bcc is not in the message')
  t.match(text, /^X-GreenArrow-MailClass: transactional$/im)
  t.match(text, /^Subject: =\?UTF-8\?/m)
  t.match(text, /^Message-ID: /m)
  t.match(text, /\n\nline one\nline two\n/)
})

t.test('an explicit envelope and a D answer', async t => {
  const srv = await recordingServer({ code: 'D', text: 'unknown list' })
  t.teardown(srv.close)
  const transporter = nodemailer.createTransport(qmqpTransport({ servers: [srv.server] }))
  await t.rejects(
    transporter.sendMail({
      from: 'a@example.com',
      to: 'b@example.com',
      text: 'x',
      envelope: { from: '', to: 'c@example.com' },
    }),
    { name: 'ClientRejectedError', temporary: false, verdict: { code: 'D', text: 'unknown list' } },
  )
  t.same(srv.received[0]?.sender, Buffer.alloc(0))
  t.same(srv.received[0]?.recipients.map(String), ['c@example.com'])
})

t.test('no server reachable: a temporary error', async t => {
  const port = await refusedPort()
  const transporter = nodemailer.createTransport(qmqpTransport({ servers: [`127.0.0.1:${port}`] }))
  await t.rejects(transporter.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' }), {
    code: 'QMQP_ERR_CONNECT',
    temporary: true,
  })
  const unset = nodemailer.createTransport(qmqpTransport({ home: t.testdir() }))
  await t.rejects(unset.verify(), { code: 'CLIENT_ERR_SERVERS' })
})
