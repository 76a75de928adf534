import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import t from 'tap'
import { dashEcho, mailsubjHeader } from '../src/mailsubj-message.js'

const dash = ['/usr/bin/dash', '/bin/dash'].find(p => existsSync(p))
if (!dash && process.env.CI) throw new Error('dash not found: Debian always has it')

t.test('header of mailsubj', async t => {
  t.same(
    mailsubjHeader(Buffer.from('QMQP test'), [
      Buffer.from('ops@example.com'),
      Buffer.from('Jo Q <jo@example.net>'),
    ]),
    Buffer.from('Subject: QMQP test\nTo: ops@example.com Jo Q <jo@example.net>\n\n'),
  )
  t.same(mailsubjHeader(Buffer.from('s'), []), Buffer.from('Subject: s\nTo:\n\n'))
  t.same(mailsubjHeader(Buffer.from('tab\\there'), []), Buffer.from('Subject: tab\there\nTo:\n\n'))
  t.same(mailsubjHeader(Buffer.from('a\\cb'), [Buffer.from('x')]), Buffer.from('Subject: aTo: x\n\n'))
})

t.test('escapes as dash echo converts them', async t => {
  t.same(dashEcho([Buffer.from('\\0101\\q\\\\')]), Buffer.from('A\\q\\\n'))
  t.same(dashEcho([Buffer.from('\\101\\0'), Buffer.from('\\')]), Buffer.from('A\0 \\\n'))
  t.same(dashEcho([Buffer.from('\\01234')]), Buffer.from('S4\n'))
})

// Seeded differential test: random words through dash's echo and through ours.
t.test('matches dash on generated words', { skip: !dash && 'dash not installed' }, async t => {
  const seed = Number(process.env.TEST_SEED ?? 20261204) >>> 0
  let s = seed
  const rand = (n: number) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return s % n
  }
  const alphabet = [
    '\\',
    '\\',
    '\\',
    'c',
    '0',
    '1',
    '3',
    '7',
    '8',
    '9',
    'n',
    't',
    'a',
    'b',
    'f',
    'r',
    'v',
    'e',
    'x',
    'q',
    ' ',
    '\xe9',
  ]
  const cases: string[][] = []
  for (let n = 0; n < 300; n++) {
    const words: string[] = []
    for (let w = 0, count = 1 + rand(3); w < count; w++) {
      let word = ''
      for (let i = 0, len = rand(8); i < len; i++) word += alphabet[rand(alphabet.length)]
      words.push(word)
    }
    cases.push(words)
  }
  // One dash run prints every case after a marker, so the test stays fast.
  const env: Record<string, string> = { PATH: '/usr/bin:/bin' }
  const lines: string[] = []
  cases.forEach((words, i) => {
    lines.push(`echo ${words.map((_, j) => `"$w${i}_${j}"`).join(' ')}`)
    words.forEach((w, j) => (env[`w${i}_${j}`] = w))
  })
  const body = cases.map((_, i) => `printf '\\001%d\\002' ${i}; ${lines[i]}`).join('\n')
  const r = spawnSync(dash!, ['-c', body], { env })
  t.equal(r.status, 0)
  const out = r.stdout
  for (let i = 0; i < cases.length; i++) {
    const start = out.indexOf(`\x01${i}\x02`) + `\x01${i}\x02`.length
    const end = i + 1 < cases.length ? out.indexOf(`\x01${i + 1}\x02`) : out.length
    const ours = dashEcho(cases[i]!.map(w => Buffer.from(w)))
    if (!t.same(ours, out.subarray(start, end), `seed ${seed} case ${i}: ${JSON.stringify(cases[i])}`)) break
  }
})
