import t from 'tap'
import * as errors from '../src/errors.js'

t.test('every error class has its own name, a stable code and temporary', async t => {
  const made: Array<[errors.QmqpError, string, string, boolean]> = [
    [new errors.QmqpError('x'), 'QmqpError', 'QMQP_ERR', true],
    [
      new errors.QmqpProtocolError('missing-comma', 'sender'),
      'QmqpProtocolError',
      'QMQP_ERR_PROTOCOL',
      false,
    ],
    [new errors.QmqpLimitError('message-bytes', 10, 'message'), 'QmqpLimitError', 'QMQP_ERR_LIMIT', false],
    [new errors.QmqpConnectError('refused', 'h'), 'QmqpConnectError', 'QMQP_ERR_CONNECT', true],
    [new errors.QmqpTimeoutError('read', 5, 'h'), 'QmqpTimeoutError', 'QMQP_ERR_TIMEOUT', true],
    [new errors.QmqpConnectionError('h', 'lost'), 'QmqpConnectionError', 'QMQP_ERR_CONNECTION', true],
    [new errors.QmqpReplyError('no-reply'), 'QmqpReplyError', 'QMQP_ERR_REPLY', true],
    [new errors.QmqpBodyLengthError(3, 2), 'QmqpBodyLengthError', 'QMQP_ERR_BODY_LENGTH', true],
    [new errors.QmqpConfigError('bad'), 'QmqpConfigError', 'QMQP_ERR_CONFIG', true],
    [new errors.QmqpSpoolError('disk'), 'QmqpSpoolError', 'QMQP_ERR_SPOOL', true],
  ]
  for (const [err, name, code, temporary] of made) {
    t.ok(err instanceof errors.QmqpError && err instanceof Error, name)
    t.same([err.name, err.code, err.temporary], [name, code, temporary])
    t.ok(err.message.length > 0)
  }
  t.match(new errors.QmqpProtocolError('missing-comma', 'sender').message, 'missing comma in sender')
  t.match(new errors.QmqpTimeoutError('read', 5, 'h').message, 'read timed out after 5 ms talking to h')
  t.match(new errors.QmqpBodyLengthError(3, 4).message, '4 bytes or more, declared 3')
})
