// Property: whatever `qmail-inject -n` prints re-parses to the same envelope. The printed
// message is fed back with -a and the first run's recipients as arguments; its Return-Path line
// must give the same sender, and the arguments the same recipients. Seeded: INJECT_SEED
// replaces the fixed seed; every failure names seed and case.
import t from 'tap'
import { parseInjectArgs } from '../src/inject/args.js'
import { InjectError } from '../src/inject/errors.js'
import { prepareMessage, type InjectContext } from '../src/inject/prepare.js'
import { mulberry32 } from '../../../test/lib/prng.js'

const seed = Number(process.env.INJECT_SEED ?? 20261204)
const CASES = 600

function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const chance = (p: number) => random() < p
  const atomChars = "abcdefghijklmnopqrstuvwxyzABC0123456789!#$%&'*+/=?^_`{|}~-"
  const atom = () => Array.from({ length: 1 + int(7) }, () => pick([...atomChars])).join('')
  // Quoted-string contents: blanks, specials, 8-bit bytes, escaped quote and backslash, CR;
  // an LF only as folding (followed by a space), since a bare LF would end the printed line.
  const quotedPiece = () =>
    pick(['a', 'b c', '@', ',', '(x)', '<y>', ':', ';', '.', '\\"', '\\\\', '\xe9', '\r', '\n ', '[z]'])
  const quoted = () => '"' + Array.from({ length: 1 + int(4) }, quotedPiece).join('') + '"'
  const local = () => {
    switch (int(6)) {
      case 0:
        return quoted()
      case 1:
        return atom() + '.' + atom()
      case 2:
        return 'j\xf6rg'
      case 3:
        return atom() + '+'
      default:
        return atom()
    }
  }
  const domain = (): string => {
    switch (int(9)) {
      case 0:
        return ''
      case 1:
        return atom()
      case 2:
        return '[10.' + int(256) + '.0.1]'
      case 3:
        return '[]'
      case 4:
        return atom() + '.' + atom() + '+'
      case 5:
        return atom() + '.example.'
      case 6:
        return 'ex\xe4mple.de'
      default:
        return atom() + '.' + pick(['com', 'example.net', 'org'])
    }
  }
  const addrSpec = () => {
    const d = domain()
    return d === '' ? (chance(0.5) ? local() : local() + '@') : local() + '@' + d
  }
  const comment = () => '(' + pick(['c', 'a (nested) one', 'x\\)y', 'fold\n ed']) + ')'
  const address = (): string => {
    switch (int(10)) {
      case 0:
        return pick(['Jo Q', '"Q, Name"', 'a.b']) + ' <' + addrSpec() + '>'
      case 1:
        return '<@r1.example,@r2:' + addrSpec() + '>'
      case 2:
        return '<>'
      case 3:
        return comment() + ' ' + addrSpec() + ' ' + comment()
      case 4:
        return 'team: ' + addrSpec() + ', ' + addrSpec() + ';'
      case 5:
        return '@' + atom()
      default:
        return addrSpec()
    }
  }
  const list = () => Array.from({ length: 1 + int(4) }, address).join(pick([', ', ' ', ',\n  ', ', ']))
  const fieldNames = [
    'To',
    'Cc',
    'Bcc',
    'Apparently-To',
    'From',
    'Reply-To',
    'Sender',
    'Errors-To',
    'cc',
    'TO ',
  ]
  const field = () => {
    switch (int(12)) {
      case 0:
        return 'Subject: ' + pick(['hi', 'caf\xe9', '', 'a\r']) + '\n'
      case 1:
        return 'Return-Path: ' + (chance(0.5) ? '<' + addrSpec() + '>' : address()) + '\n'
      case 2:
        return pick(['Resent-To', 'Resent-Cc', 'Resent-Bcc', 'Resent-From']) + ': ' + list() + '\n'
      case 3:
        return 'X-Other: ' + atom() + '\n'
      default:
        return pick(fieldNames) + ': ' + list() + '\n'
    }
  }
  const message = () =>
    Array.from({ length: int(6) }, field).join('') +
    (chance(0.8) ? '\n' + pick(['body\n', '', 'x\r\ny', 'From me\n']) : '')
  const argWord = () => (chance(0.2) ? pick(['a b', '', 'x@y z.com', 'Jo <jo@x.y>']) : addrSpec())
  const args = () => {
    const a: string[] = ['-n']
    a.push(pick(['-A', '-a', '-h', '-H']))
    if (chance(0.4)) a.push('-f', chance(0.2) ? '' : addrSpec())
    a.push('--')
    for (let i = int(4); i > 0; i--) a.push(argWord())
    return a
  }
  const env = () => {
    const e: Record<string, string> = {}
    if (chance(0.8)) e.USER = pick(['app', 'a b', 'j\xf6rg', '', 'x.'])
    if (chance(0.3)) e.QMAILHOST = pick(['mail.example.com', 'bare', '[127.0.0.1]'])
    if (chance(0.3)) e.QMAILNAME = pick(['App', 'Q (N) "x" \\y', ''])
    if (chance(0.5)) e.QMAILINJECT = Array.from({ length: int(4) }, () => pick([...'csfirm'])).join('')
    if (chance(0.2)) e.QMAILSUSER = 'bounces'
    return e
  }
  return { message, args, env }
}

/**
 * qmail's envelope form drops quoting, so an address whose domain part holds a special or a
 * blank (it came from a quoted string, or from words merged into one address) cannot be read
 * back the same by qmail either. Such envelopes are left out; every other one must survive.
 */
const SAFE_LABEL = /^[^\s()<>,;:\\"@[\]]+$/
const LITERAL = /\[[^[\]\\\r\n]*\]/g
function reparseable(address: Buffer): boolean {
  const s = address.toString('latin1')
  const at = s.lastIndexOf('@')
  if (at < 0) return s === ''
  return s
    .slice(at + 1)
    .replace(LITERAL, 'literal')
    .split('.')
    .every(label => label === '' || SAFE_LABEL.test(label))
}

const control = { me: Buffer.from('client.example.com'), plusdomain: Buffer.from('plus.example.net') }
const latin1 = (s: string) => Buffer.from(s, 'latin1')
const toEnv = (e: Record<string, string>) => new Map(Object.entries(e).map(([k, v]) => [k, latin1(v)]))

t.test(`printed messages re-parse to the same envelope (seed ${seed})`, async t => {
  const gen = generator(mulberry32(seed))
  let checked = 0
  for (let n = 0; n < CASES; n++) {
    const input = latin1(gen.message())
    const argv = gen.args().map(latin1)
    const envObj = gen.env()
    const parsed = parseInjectArgs(argv, 'qmail-inject')
    const ctx: InjectContext = {
      args: parsed.operands,
      flags: parsed.flags,
      env: toEnv(envObj),
      control,
      now: new Date(1796398850_000 + n * 1000),
      pid: 1000 + n,
    }
    let first
    try {
      first = await prepareMessage(input, ctx)
    } catch (err) {
      if (err instanceof InjectError && err.code !== 'CLIENT_ERR_NOMEM') continue // qmail refuses it too
      throw err
    }
    if (![first.sender, ...first.recipients].every(reparseable)) continue
    const printed = Buffer.concat([first.returnPath, first.message])
    const { QMAILINJECT: _drop, ...envAgain } = envObj
    const again = await prepareMessage(printed, {
      args: first.recipients,
      flags: { recipients: 'a', print: true, senders: [] },
      env: toEnv(envAgain),
      control,
      now: ctx.now,
      pid: ctx.pid,
    }).catch((err: unknown) => {
      t.fail(
        `seed ${seed} case ${n}: printed message does not re-parse: ${String(err)}\n${printed.toString('latin1')}`,
      )
      return undefined
    })
    if (!again) continue
    const label = `seed ${seed} case ${n}`
    if (!again.sender.equals(first.sender))
      t.equal(again.sender.toString('latin1'), first.sender.toString('latin1'), label)
    const a = again.recipients.map(r => r.toString('latin1'))
    const b = first.recipients.map(r => r.toString('latin1'))
    if (a.join('\0') !== b.join('\0')) t.same(a, b, label)
    checked++
  }
  t.ok(checked > CASES / 2, `${checked} of ${CASES} generated messages were accepted and checked`)
})
