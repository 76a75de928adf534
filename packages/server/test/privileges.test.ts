import t from 'tap'
import { QmqpdUserError } from '../src/errors.js'
import { lookupUser } from '../src/privileges.js'

t.test('users are looked up through id(1)', async t => {
  t.same(lookupUser('root'), { uid: 0, gid: 0 })
  t.throws(() => lookupUser('no-such-user-qk'), QmqpdUserError)
})
