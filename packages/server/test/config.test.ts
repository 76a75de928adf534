import t from 'tap'
import {
  configFilePath,
  HelpRequest,
  loadConfig,
  parseDuration,
  parseLimitReply,
  parseListen,
  formatAddress,
  OPTIONS,
} from '../src/config.js'
import { QmqpdConfigError } from '../src/errors.js'

const host = { hostname: 'box.example' }

t.test("defaults are qmail's and safe", async t => {
  const c = loadConfig([], {}, null, host)
  t.same(c.listen, [{ host: '::', port: 628 }])
  t.equal(c.listenDefault, true)
  t.same(c.backends, ['sqlite:qmqpd.sqlite'])
  t.equal(c.rules, null)
  t.equal(c.maxMessageBytes, null)
  t.equal(c.maxRecipients, null)
  t.equal(c.idleTimeoutMs, null)
  t.equal(c.totalTimeoutMs, 3_600_000)
  t.equal(c.replies.totalTimeout, null)
  t.equal(c.compat, 'qmail')
  t.equal(c.greenarrow.me, 'box.example')
  t.equal(c.greenarrow.receivedFormat, 'greenarrow')
  t.equal(c.greenarrow.hideReceivedHonour, true)
  t.same(c.log, { format: 'json', level: 'info', file: null })
})

t.test('precedence: flag, then QMQPD_* variable, then config file, then default', async t => {
  const file = JSON.stringify({ maxRecipients: 3, idleTimeout: '5s', compat: 'postfix', me: 'file.example' })
  const env = { QMQPD_MAX_RECIPIENTS: '7', QMQPD_IDLE_TIMEOUT: '9s' }
  const c = loadConfig(['--max-recipients', '11'], env, file, host)
  t.equal(c.maxRecipients, 11)
  t.equal(c.idleTimeoutMs, 9000)
  t.equal(c.compat, 'postfix')
  t.equal(c.greenarrow.me, 'file.example')
  t.equal(loadConfig([], { QMQPD_DATA_DIR: '/var/q' }, null).backends[0], 'sqlite:/var/q/qmqpd.sqlite')
})

t.test('lists: repeatable flags, separated variables, file arrays', async t => {
  const c = loadConfig(
    ['--listen', '127.0.0.1:6628', '--listen', '[::1]:0', '--backend', 'memory:', '--backend', 'discard:'],
    {},
    null,
  )
  t.same(c.listen, [
    { host: '127.0.0.1', port: 6628 },
    { host: '::1', port: 0 },
  ])
  t.same(c.backends, ['memory:', 'discard:'])
  t.same(
    loadConfig([], { QMQPD_LISTEN: '127.0.0.1:1, 127.0.0.2:2' }, null).listen.map(l => l.port),
    [1, 2],
  )
  t.same(loadConfig([], {}, '{"mailClasses":["news","alerts"]}').greenarrow.mailClasses, ['news', 'alerts'])
  t.same(loadConfig(['--mail-classes', 'a,b'], {}, null).greenarrow.mailClasses, ['a', 'b'])
})

t.test('booleans and choices', async t => {
  t.equal(loadConfig(['--stdio'], {}, null).stdio, true)
  t.equal(loadConfig([], { QMQPD_STDIO: 'yes' }, null).stdio, true)
  t.equal(loadConfig([], { QMQPD_STDIO: 'off' }, null).stdio, false)
  t.equal(loadConfig([], {}, '{"rulesIpv6":true}').rulesDialect, 'ipv6')
  t.same(
    loadConfig(['--unknown-mailclass', 'Z', '--unknown-mailclass-text', 'later'], {}, null).greenarrow
      .unknownMailclass,
    { action: 'Z', text: 'later' },
  )
  t.same(
    loadConfig(['--idle-timeout-reply', 'drop', '--size-reply', 'Zlater'], {}, null).replies.idleTimeout,
    null,
  )
  t.same(loadConfig(['--size-reply', 'Zlater'], {}, null).replies.size, { code: 'Z', text: 'later' })
})

t.test('invalid values exit 100 naming the key', async t => {
  const bad: Array<[string[], Record<string, string>, string | null, RegExp]> = [
    [['--max-message-bytes', '0'], {}, null, /^--max-message-bytes: must be at least 1/],
    [['--max-message-bytes', '1e3'], {}, null, /^--max-message-bytes: must be a whole number/],
    [[], { QMQPD_STDIO: 'maybe' }, null, /^QMQPD_STDIO: must be true or false/],
    [[], {}, '{"maxRecipients":"x"}', /^config file key maxRecipients: must be a whole number/],
    [[], {}, '{"nonsense":1}', /^config file key nonsense: is not an option/],
    [[], {}, '[1]', /^config file: must hold a JSON object/],
    [[], {}, '{', /^config file: not valid JSON/],
    [['--listen', '::1:628'], {}, null, /^--listen: not host:port/],
    [['--listen', '127.0.0.1:70000'], {}, null, /^--listen: port out of range/],
    [['--rules', 'a', '--rules-source', 'b'], {}, null, /not both/],
    [['--backend', 'nothing'], {}, null, /^--backend: not a backend URL/],
    [['--size-reply', 'drop'], {}, null, /^--size-reply: must be Z<text> or D<text>/],
    [
      ['--total-timeout-reply', 'Kfine'],
      {},
      null,
      /^--total-timeout-reply: must be Z<text>, D<text> or drop/,
    ],
    [['--compat', 'sendmail'], {}, null, /^usage: option '--compat <server>' argument 'sendmail' is invalid/],
    [[], { QMQPD_COMPAT: 'exim' }, null, /^QMQPD_COMPAT: must be one of qmail, postfix/],
    [['--idle-timeout', 'soon'], {}, null, /^--idle-timeout: must be a duration/],
    [['extra'], {}, null, /^usage: too many arguments/],
  ]
  for (const [argv, env, file, message] of bad) {
    const err = t.throws(() => loadConfig(argv, env, file), QmqpdConfigError) as QmqpdConfigError
    t.match(err.message, message, argv.join(' ') || JSON.stringify(env) || String(file))
    t.equal(err.temporary, false)
  }
})

t.test('--help and --version are requests, not errors', async t => {
  const err = t.throws(() => loadConfig(['--help'], {}, null)) as unknown
  t.type(err, HelpRequest)
  for (const o of OPTIONS) t.match((err as HelpRequest).text, o.flags.split(' ')[0]!)
  t.match(
    (t.throws(() => loadConfig(['--version'], {}, null)) as unknown as HelpRequest).text,
    /^\d+\.\d+\.\d+/,
  )
})

t.test('config file path from flag or variable', async t => {
  t.equal(configFilePath(['--config', '/a.json'], { QMQPD_CONFIG: '/b.json' }), '/a.json')
  t.equal(configFilePath([], { QMQPD_CONFIG: '/b.json' }), '/b.json')
  t.equal(configFilePath([], {}), null)
  t.equal(loadConfig([], { QMQPD_CONFIG: '/b.json' }, '{}').configFile, '/b.json')
})

t.test('small parsers', async t => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('30'), 30_000)
  t.equal(parseDuration('1.5m'), 90_000)
  t.equal(parseDuration('1h'), 3_600_000)
  t.equal(parseDuration('1d'), null)
  t.same(parseListen('6628'), { host: '::', port: 6628 })
  t.same(parseListen(':6628'), { host: '::', port: 6628 })
  t.same(parseListen('localhost:1'), { host: 'localhost', port: 1 })
  t.equal(parseLimitReply('drop'), null)
  t.equal(parseLimitReply('Kx'), undefined)
  t.equal(formatAddress('::1', 5), '[::1]:5')
  t.equal(formatAddress('10.0.0.1', 5), '10.0.0.1:5')
})
