import t from 'tap'
import { ClientConfigError, ClientRejectedError, ClientUsageError } from '../src/errors.js'
import { connectFailure, injectOutcome, queueExitFor, queueExitText } from '../src/queue-exit.js'

t.test('qmail.c texts', async t => {
  t.equal(queueExitText(31), 'Dmail server permanently rejected message (#5.3.0)')
  t.equal(queueExitText(71), 'Zmail server temporarily rejected message (#4.3.0)')
  t.equal(queueExitText(72), 'Zconnection to mail server timed out (#4.4.1)')
  t.equal(queueExitText(73), 'Zconnection to mail server rejected (#4.4.1)')
  t.equal(queueExitText(74), 'Zcommunication with mail server failed (#4.4.2)')
  t.equal(queueExitText(55), 'Zqq unable to read configuration (#4.3.0)')
  t.equal(queueExitText(91), 'Zqq internal bug (#4.3.0)')
  t.equal(queueExitText(115), 'Denvelope address too long for qq (#5.1.3)')
  t.equal(queueExitText(20), 'Dqq permanent problem (#5.3.0)')
  t.equal(queueExitText(99), 'Zqq temporary problem (#4.3.0)')
  t.equal(queueExitText(120), 'Zunable to exec qq (#4.3.0)')
  t.equal(queueExitText(64), 'Zqq trouble creating files in queue (#4.3.0)')
})

t.test('qmail-inject exit code and line per queue exit', async t => {
  t.same(injectOutcome(0), { exitCode: 0 })
  t.same(injectOutcome(31), {
    exitCode: 100,
    stderr: 'qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n',
  })
  t.same(injectOutcome(71), {
    exitCode: 111,
    stderr: 'qmail-inject: fatal: mail server temporarily rejected message (#4.3.0)\n',
  })
  t.same(injectOutcome(73, 'x'), {
    exitCode: 111,
    stderr: 'x: fatal: connection to mail server rejected (#4.4.1)\n',
  })
})

t.test('send failures map to qmail-qmqpc exit codes', async t => {
  t.equal(queueExitFor(new ClientRejectedError({ code: 'D', text: 'no' }, 's')), 31)
  t.equal(queueExitFor(new ClientRejectedError({ code: 'Z', text: 'later' }, 's')), 71)
  t.equal(queueExitFor(new ClientConfigError('none')), 55)
  t.equal(queueExitFor(new ClientUsageError('bad')), 91)
  t.equal(queueExitFor({ code: 'QMQP_ERR_CONNECT', reason: 'refused' }), 73)
  t.equal(queueExitFor({ code: 'QMQP_ERR_CONNECT', reason: 'dns' }), 73)
  t.equal(queueExitFor({ code: 'QMQP_ERR_CONNECT', reason: 'timeout' }), 72)
  t.equal(queueExitFor({ code: 'QMQP_ERR_TIMEOUT', phase: 'read' }), 74)
  t.equal(queueExitFor({ code: 'QMQP_ERR_REPLY' }), 74)
  t.equal(queueExitFor(new Error('bug')), 74)
  t.equal(queueExitFor(null), 74)
  t.equal(connectFailure('text'), undefined)
})
