import t from 'tap'
import { parseVerpSender, verpSenderFor } from '../src/greenarrow/verp.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('GreenArrow VERP sender: prefix, domain and the bounce fields', async t => {
  t.same(parseVerpSender(b('bounce-t100-20111229-@bounces.example.com-@[]')), {
    prefix: 'bounce-t100-20111229-',
    domain: 'bounces.example.com',
    greenArrow: { bounceLocalPart: 'bounce', listId: 't100', sendId: '20111229' },
  })
  t.same(parseVerpSender(b('my-bounce-box-L1-S2-@b.example-@[]'))?.greenArrow, {
    bounceLocalPart: 'my-bounce-box',
    listId: 'L1',
    sendId: 'S2',
  })
})

t.test('VERP requests without GreenArrow fields, and ordinary senders', async t => {
  t.same(parseVerpSender(b('owner-@host-@[]')), { prefix: 'owner-', domain: 'host', greenArrow: null })
  t.same(parseVerpSender(b('owner@host-@[]')), { prefix: 'owner', domain: 'host', greenArrow: null })
  t.same(parseVerpSender(b('a--b-@host-@[]'))?.greenArrow, null)
  t.equal(parseVerpSender(b('sender@example.com')), null)
  t.equal(parseVerpSender(b('')), null)
  t.equal(parseVerpSender(b('-@[]')), null)
  t.equal(parseVerpSender(b('nohost-@[]')), null)
  t.same(parseVerpSender(b('x@-@[]')), { prefix: 'x', domain: '', greenArrow: null })
})

t.test('per-recipient sender as qmail-send makes it', async t => {
  const s = b('bounce-t100-20111229-@bounces.example.com-@[]')
  t.equal(
    verpSenderFor(s, b('reader@example.net')).toString(),
    'bounce-t100-20111229-reader=example.net@bounces.example.com',
  )
  t.equal(verpSenderFor(b('owner-@host-@[]'), b('user@dom')).toString(), 'owner-user=dom@host')
  // The recipient's last @ becomes =; one without @ leaves the sender as it is.
  t.equal(verpSenderFor(b('o-@h-@[]'), b('"a@b"@c')).toString(), 'o-"a@b"=c@h')
  t.equal(verpSenderFor(s, b('postmaster')), s)
  t.equal(verpSenderFor(b('plain@example.com'), b('u@d')).toString(), 'plain@example.com')
})
