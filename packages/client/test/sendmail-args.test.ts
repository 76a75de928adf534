import t from 'tap'
import { planSendmail } from '../src/sendmail-args.js'

const b = (...words: string[]) => words.map(w => Buffer.from(w))
const inject = (args: string[], env = new Map<string, Buffer>(), name = 'sendmail') => {
  const plan = planSendmail(b(...args), env, name)
  if (plan.action !== 'inject') throw new Error(`expected an inject plan, got ${plan.action}`)
  return { args: plan.args.map(a => a.toString()), env: plan.env }
}
const USAGE = 'sendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]\n'

t.test('qmail-inject command lines as sendmail.c builds them', async t => {
  const cases: Array<[string[], string[]]> = [
    [
      ['-t', '-i', 'a@b'],
      ['-H', '--', 'a@b'],
    ],
    [
      ['-f', 's@x.y', '-F', 'Full Name', '-oi', 'r@x'],
      ['-a', '-f', 's@x.y', '--', 'r@x'],
    ],
    [['r@x'], ['-a', '--', 'r@x']],
    [[], ['-a', '--']],
    [['-ti'], ['-H', '--']],
    [
      ['-fa@b', '-f', 'c@d', 'x'],
      ['-a', '-f', 'c@d', '--', 'x'],
    ],
    [
      ['-v', '-m', '-x', '-e', 'X', '-p', 'X', '-B', '8BITMIME', '-oem', '-o', 'i', '-bm', 'r'],
      ['-a', '--', 'r'],
    ],
    [
      ['-Exyz', '-t', 'r'],
      ['-H', '--', 'r'],
    ],
    [
      ['-E', 'xyz', '-t'],
      ['-a', '--', 'xyz', '-t'],
    ],
    [
      ['-Jt', 'r'],
      ['-a', '--', 'r'],
    ],
    [
      ['--', '-t'],
      ['-a', '--', '-t'],
    ],
    [
      ['-', '-t'],
      ['-a', '--', '-', '-t'],
    ],
    [
      ['r', '-t'],
      ['-a', '--', 'r', '-t'],
    ],
    [
      ['-f', ''],
      ['-a', '-f', '', '--'],
    ],
  ]
  for (const [args, expected] of cases) t.same(inject(args).args, expected, args.join(' '))
})

t.test('-F sets MAILNAME; -f replaces the identity variables and so drops -F', async t => {
  const env = new Map(
    Object.entries({ NAME: 'n', QMAILNAME: 'q', MAILHOST: 'h', USER: 'u' }).map(([k, v]) => [
      k,
      Buffer.from(v),
    ]),
  )
  const named = inject(['-F', 'Web App', '-t'], env)
  t.same(named.env.get('MAILNAME'), Buffer.from('Web App'))
  t.same(named.env.get('NAME'), Buffer.from('n'))
  const withSender = inject(['-t', '-f', 'bounce@example.com', '-F', 'Web App'], env)
  t.same([...withSender.env.entries()].map(([k, v]) => [k, v.toString()]).sort(), [
    ['QMAILHOST', 'example.com'],
    ['QMAILUSER', 'bounce'],
    ['USER', 'u'],
  ])
  const noAt = inject(['-f', 'bounce'], env)
  t.same(noAt.env.get('QMAILUSER'), Buffer.from('bounce'))
  t.equal(noAt.env.has('QMAILHOST'), false)
  const lastAt = inject(['-f', '"a@b"@c.example'], env)
  t.same(lastAt.env.get('QMAILUSER'), Buffer.from('"a@b"'))
  t.same(lastAt.env.get('QMAILHOST'), Buffer.from('c.example'))
  t.equal(env.get('NAME')?.toString(), 'n', 'the caller environment is untouched')
})

t.test('rejected options, -b modes and program names', async t => {
  t.same(planSendmail(b('-q'), new Map(), 'sendmail'), {
    action: 'exit',
    exitCode: 100,
    stderr: 'sendmail: illegal option -- q\n' + USAGE,
  })
  t.same(planSendmail(b('-t', '-Uv'), new Map(), 'sm'), {
    action: 'exit',
    exitCode: 100,
    stderr: 'sm: illegal option -- U\n' + USAGE,
  })
  t.same(planSendmail(b('-f'), new Map(), 'sendmail'), {
    action: 'exit',
    exitCode: 100,
    stderr: 'sendmail: option requires an argument -- f\n' + USAGE,
  })
  for (const mode of ['-bd', '-bi', '-bt', '-bv', '-b', '-bX']) {
    const plan = planSendmail(b(...(mode === '-b' ? ['-b', ''] : [mode])), new Map(), 'sendmail')
    t.same(plan, { action: 'exit', exitCode: 100, stderr: USAGE }, mode)
  }
  t.same(planSendmail(b('-bp'), new Map(), 'sendmail'), { action: 'mailq' })
  t.same(
    planSendmail(b('-b', 'p', '-q'), new Map(), 'sendmail'),
    { action: 'mailq' },
    'nothing after -bp is read',
  )
  t.same(planSendmail(b('-t'), new Map(), 'mailq'), { action: 'mailq' })
  t.same(planSendmail(b('-q'), new Map(), 'mailq').action, 'exit', 'options are checked first')
  t.same(planSendmail(b('-t'), new Map(), 'newaliases'), {
    action: 'exit',
    exitCode: 100,
    stderr: 'sendmail: fatal: please use fastforward/newaliases instead\n',
  })
  const smtpd = planSendmail(b('-bs'), new Map(), 'sendmail')
  t.equal(smtpd.action, 'smtpd')
  if (smtpd.action === 'smtpd') {
    t.same(smtpd.env.get('TCPREMOTEINFO'), Buffer.from('sendmail-bs'))
    t.same(smtpd.env.get('RELAYCLIENT'), Buffer.alloc(0))
  }
  const underServer = planSendmail(b('-bs'), new Map([['PROTO', Buffer.from('TCP')]]), 'sendmail')
  t.same(underServer.action === 'smtpd' && [...underServer.env.keys()], ['PROTO'])
})
