/**
 * Seeded generator of rules files for the differential tests: valid and invalid lines covering
 * every feature of the ucspi-tcp rules language, plus the lookups worth asking about them.
 * The same seed always gives the same files.
 */

import { mulberry32 } from './prng.js'

export type Rng = () => number

/** The seeded generator every test generator uses (test/lib/prng.ts). */
export const makeRng: (seed: number) => Rng = mulberry32

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n)
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!
const chance = (rng: Rng, p: number): boolean => rng() < p

export interface Lookup {
  ip: string
  host?: string
  info?: string
}

export interface GeneratedFile {
  text: Buffer
  /** Lookups built from the file's own addresses, hosts and infos (ASCII only, no NUL). */
  lookups: Lookup[]
  /** Whether a line that sends ucspi-tcp-ipv6's tcprules into its endless loop was written. */
  hangsIpv6: boolean
}

export interface GenerateOptions {
  dialect?: 'ipv4' | 'ipv6'
  /** Probability that one invalid line is added somewhere. Default 0.25. */
  invalidRate?: number
  /** Number of rule lines; default random 1..40 (sometimes thousands). */
  lines?: number
  /** Add lines ucspi-tcp-ipv6's tcprules never finishes (blank, colon-less, bad keyword). Default: ipv4 only. */
  allowIpv6Hang?: boolean
  /** Lookups to make. Default 6. */
  lookups?: number
}

const HOSTS = [
  'mail.example.com',
  'a.b.example.com',
  'example.com',
  'x.com',
  'client-1.example.org',
  'localhost',
  'h.test',
]
const INFOS = ['joe', 'bill', 'joe-x', 'root', 'a b']
const NAMES = [
  'RELAYCLIENT',
  'GREENARROW_SIMPLEMH',
  'GREENARROW_MAILCLASS',
  'TCPLOCALHOST',
  'A',
  'X',
  'NOTE',
  'SAME',
]
const QUOTES = ['"', '"', '"', '"', '"', '"', "'", '/', '|', 'a', '#', ':', ',', '=', 'x']

function octet(rng: Rng): string {
  return String(pick(rng, [0, 1, 2, 3, 4, 5, 10, 127, 192, 255, int(rng, 256)]))
}

function ipv4(rng: Rng): string {
  return pick(rng, [
    () => `10.0.0.${int(rng, 12)}`,
    () => `127.0.0.${int(rng, 8)}`,
    () => `192.168.${int(rng, 3)}.${octet(rng)}`,
    () => `${octet(rng)}.${octet(rng)}.${octet(rng)}.${octet(rng)}`,
  ])()
}

function ipv6(rng: Rng): string {
  return pick(rng, [
    '::1',
    '2001:db8::1',
    '2001:db8::2',
    '2001:db8:1::5',
    '2001:db8:2::5',
    `2001:db8::${int(rng, 20).toString(16)}`,
    'fe80::1',
    '::ffff:192.0.2.1',
    '1::',
  ])
}

function prefixOf(rng: Rng, ip: string, dialect: 'ipv4' | 'ipv6'): string {
  const cuts: number[] = []
  for (let i = 0; i < ip.length; i++)
    if (ip[i] === '.' || (dialect === 'ipv6' && ip[i] === ':')) cuts.push(i + 1)
  return cuts.length ? ip.slice(0, pick(rng, cuts)) : ip
}

function range(rng: Rng): string {
  const n = () => String(pick(rng, [0, 1, 3, 7, 9, 20, 100, 250, 255, 256, 300, 999, int(rng, 300)]))
  const a = chance(rng, 0.1) ? '' : n()
  const b = chance(rng, 0.05) ? '' : n()
  const bound = chance(rng, 0.05) ? `0${a}` : chance(rng, 0.03) ? '18446744073709551617' : a
  return pick(rng, [
    () => `10.0.0.${bound}-${b}`,
    () => `1.2.${bound}-${b}.`,
    () => `${bound}-${b}.`,
    () => `192.168.${int(rng, 3)}.${bound}-${b}`,
    () => `1-2.3-4.`,
    () => `127.0.0.${int(rng, 4)}-${int(rng, 9)}`,
  ])()
}

function address(rng: Rng, dialect: 'ipv4' | 'ipv6'): string {
  const ip = dialect === 'ipv6' && chance(rng, 0.4) ? ipv6(rng) : ipv4(rng)
  return pick(rng, [
    () => ip,
    () => ip,
    () => prefixOf(rng, ip, dialect),
    () => (dialect === 'ipv6' ? `::ffff:10.0.0.${int(rng, 4)}-${int(rng, 9)}` : range(rng)),
    () => range(rng),
    () => `=${pick(rng, HOSTS)}`,
    () => `=.${pick(rng, HOSTS).split('.').slice(-2).join('.')}`,
    () => `=.${pick(rng, ['com', 'org', 'example.com'])}`,
    () => '=',
    () => '',
    () => `${pick(rng, INFOS)}@${ip}`,
    () => `${pick(rng, INFOS)}@=${pick(rng, HOSTS)}`,
    () => '1',
  ])()
}

function value(rng: Rng, quote: string): string {
  const pieces = [
    '',
    'x',
    '@fix.me',
    'a b  c',
    'x,y=z:w',
    '# not a comment',
    'transactional',
    '\u00e9t\u00e9',
    '\x01\x7f',
    '\0nul',
    'é',
  ]
  let v: string
  if (chance(rng, 0.03)) v = 'v'.repeat(1000 + int(rng, 9000))
  else v = pick(rng, pieces) + (chance(rng, 0.3) ? pick(rng, pieces) : '')
  return v.split(quote).join('')
}

function instruction(rng: Rng): string {
  // A blank or tab as the quote works, except at the end of a line, where tcprules strips it.
  const quote = chance(rng, 0.01) ? pick(rng, [' ', '\t']) : pick(rng, QUOTES)
  const name = chance(rng, 0.05) ? pick(rng, ['', ' RELAYCLIENT', 'A,B', 'x y']) : pick(rng, NAMES)
  return `,${name.split('=').join('')}=${quote}${value(rng, quote)}${quote}`
}

function invalidLine(rng: Rng, dialect: 'ipv4' | 'ipv6'): string {
  const a = ipv4(rng)
  return pick(rng, [
    () => `${a}:permit`,
    () => `${a}:ALLOW`,
    () => `${a}:allow # trusted`,
    () => `${a}:allow,RELAYCLIENT="`,
    () => `${a}:allow,RELAYCLIENT`,
    () => `${a}:allow,RELAYCLIENT=yes`,
    () => `${a}:allow,A=`,
    () => `${a}:allow,`,
    () => `${a}:allow ,A=""`,
    () => `${a}:allow\r`,
    () => `${a}:deny,A="x"\r`,
    () => `10.0.0.1-x:allow`,
    () => `10.0.0.1-2-3:allow`,
    () => `x-1.2.3.4:deny`,
    () => `  # note: trusted`,
    () => `${a}:allow\0,A=""`,
    () => (dialect === 'ipv6' ? `2001:db8::1-5:allow` : `::1:allow`),
    () => `${a}:allowed`,
    () => `${a}::allow`,
  ])()
}

function noiseLine(rng: Rng, hangOk: boolean): string {
  const safe = ['# comment', '#', '#10.0.0.4:deny', '', '# crlf comment\r', '#\0']
  const hang = ['   \t ', '\r', 'this line has no colon', '\t']
  return hangOk && chance(rng, 0.4) ? pick(rng, hang) : pick(rng, safe)
}

function ruleLine(rng: Rng, dialect: 'ipv4' | 'ipv6'): string {
  const verb = chance(rng, 0.3) ? 'deny' : 'allow'
  let line = `${address(rng, dialect)}:${verb}`
  const n = chance(rng, 0.4) ? 0 : int(rng, 4)
  for (let i = 0; i < n; i++) line += instruction(rng)
  if (chance(rng, 0.1)) line += pick(rng, [' ', '\t', '  \t '])
  if (chance(rng, 0.01)) line = `${address(rng, dialect)}:allow,LONG="${'L'.repeat(200_000)}"`
  if (chance(rng, 0.003) && dialect === 'ipv4')
    line = pick(rng, ['  10.0.0.2:allow', '10.0.0.3 :deny', '1.2.3.4\0:allow', 'a:b:allow'])
  return line
}

function lookupsFor(rng: Rng, text: string, dialect: 'ipv4' | 'ipv6', count: number): Lookup[] {
  const ips = new Set<string>()
  for (const m of text.matchAll(/(?:^|@)([0-9.]{1,15})(?=[-:])/gm)) ips.add(m[1]!)
  const out: Lookup[] = []
  for (let i = 0; i < count; i++) {
    let ip =
      chance(rng, 0.6) && ips.size
        ? pick(rng, [...ips])
        : dialect === 'ipv6' && chance(rng, 0.5)
          ? ipv6(rng)
          : ipv4(rng)
    // Complete a prefix into an address, or vary the last octet, so prefix rules get asked.
    if (ip.endsWith('.')) ip += pick(rng, ['1', '2.3', '0.0.7'])
    else if (chance(rng, 0.3)) ip = ip.replace(/\d+$/, String(int(rng, 256)))
    if (chance(rng, 0.03)) ip = pick(rng, ['1', '', '10.', '0.0.0.0'])
    const l: Lookup = { ip }
    if (chance(rng, 0.5)) l.host = chance(rng, 0.1) ? '' : pick(rng, HOSTS)
    if (chance(rng, 0.3)) l.info = chance(rng, 0.1) ? '' : pick(rng, INFOS)
    out.push(l)
  }
  return out
}

/** Whether ucspi-tcp-ipv6's tcprules loops on this line: no colon followed by allow or deny. */
function hangs(line: string): boolean {
  if (line === '' || line.startsWith('#')) return false
  return !/:(allow|deny)/.test(line.replace(/[ \t]+$/, ''))
}

/** One rules file with its lookups. */
export function generateRulesFile(rng: Rng, options: GenerateOptions = {}): GeneratedFile {
  const dialect = options.dialect ?? 'ipv4'
  const hangOk = options.allowIpv6Hang ?? dialect === 'ipv4'
  const count = options.lines ?? (chance(rng, 0.02) ? 1000 + int(rng, 3000) : 1 + int(rng, 40))
  const lines: string[] = []
  for (let i = 0; i < count; i++)
    lines.push(chance(rng, 0.15) ? noiseLine(rng, hangOk) : ruleLine(rng, dialect))
  if (chance(rng, options.invalidRate ?? 0.25)) {
    let bad = invalidLine(rng, dialect)
    while (!hangOk && hangs(bad)) bad = invalidLine(rng, dialect)
    lines.splice(int(rng, lines.length + 1), 0, bad)
  }
  if (chance(rng, 0.03)) lines.splice(0, lines.length, ...lines.map(l => `${l}\r`))
  let text = lines.join('\n')
  if (!chance(rng, 0.1)) text += '\n'
  const buf = Buffer.from(text, 'latin1')
  const hangsIpv6 = lines.some(hangs)
  return { text: buf, lookups: lookupsFor(rng, text, dialect, options.lookups ?? 6), hangsIpv6 }
}

/** The seed for this run: TCPRULES_SEED when set, else the fixed default. */
export function seedFromEnv(fallback: number): number {
  const s = process.env.TCPRULES_SEED
  return s ? Number(s) : fallback
}
