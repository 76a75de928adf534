import t from 'tap'
import { encodeQueueEnvelope, parseQueueEnvelope } from '../src/envelope.js'
import { ClientUsageError } from '../src/errors.js'

t.test('envelope round trip', async t => {
  const env = encodeQueueEnvelope('a@b.example', ['c@d.example', Buffer.from('e\xff@f', 'latin1')])
  t.same(env, Buffer.from('Fa@b.example\0Tc@d.example\0Te\xff@f\0\0', 'latin1'))
  t.same(parseQueueEnvelope(env), {
    sender: Buffer.from('a@b.example'),
    recipients: [Buffer.from('c@d.example'), Buffer.from('e\xff@f', 'latin1')],
  })
  t.same(parseQueueEnvelope(Buffer.from('F\0\0')), { sender: Buffer.alloc(0), recipients: [] })
})

t.test('bad envelopes are refused', async t => {
  for (const bad of ['', 'Ta\0\0', 'Fa', 'Fa\0', 'Fa\0Tb\0', 'Fa\0Xb\0\0', 'Fa\0Tb']) {
    t.throws(() => parseQueueEnvelope(Buffer.from(bad)), ClientUsageError, JSON.stringify(bad))
  }
})
