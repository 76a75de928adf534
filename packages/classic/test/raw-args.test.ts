import t from 'tap'
import { spawnSync } from 'node:child_process'
import { parseEnviron, envFromObject, rawArgv, rawEnv } from '../src/raw-args.js'
import { errorText } from '../src/error-text.js'
import { exitCodeFor } from '../src/exit-codes.js'

t.test('parseEnviron keeps raw bytes and the first of repeated names', async t => {
  const env = parseEnviron(Buffer.from('A=1\0B=\xff\xfe\0A=2\0NOEQ\0C=x=y\0', 'latin1'))
  t.same(env.get('A'), Buffer.from('1'))
  t.same(env.get('B'), Buffer.from([0xff, 0xfe]))
  t.same(env.get('C'), Buffer.from('x=y'))
  t.notOk(env.has('NOEQ'))
  t.same(envFromObject({ X: 'y', Z: undefined }).get('X'), Buffer.from('y'))
})

t.test('rawArgv and rawEnv see bytes that are not UTF-8', async t => {
  const dir = t.testdir({
    'show.mjs': `import { rawArgv, rawEnv } from ${JSON.stringify(new URL('../dist/raw-args.js', import.meta.url).href)}
process.stdout.write(JSON.stringify({ argv: rawArgv().map(a => a.toString('hex')), env: rawEnv().get('QK_T')?.toString('hex') }))`,
  })
  // Node would mangle non-UTF-8 bytes in spawn()'s own arguments, so a shell makes them.
  const r = spawnSync(
    '/bin/sh',
    [
      '-c',
      `QK_T="$(printf '\\303(')" exec "$0" "$1" "$(printf 'a\\377b')"`,
      process.execPath,
      `${dir}/show.mjs`,
    ],
    { env: { PATH: process.env.PATH } },
  )
  t.equal(r.status, 0, r.stderr.toString())
  const out = JSON.parse(r.stdout.toString()) as { argv: string[]; env: string }
  t.equal(out.argv.at(-1), '61ff62')
  t.equal(out.env, 'c328')
  t.ok(rawArgv().length >= 1)
  t.ok(rawEnv().size > 0)
})

t.test('errorText and exitCodeFor', async t => {
  t.equal(errorText(Object.assign(new Error('x'), { code: 'ENOENT' })), 'file does not exist')
  t.equal(errorText(new Error('plain')), 'plain')
  t.equal(errorText('s'), 's')
  t.equal(exitCodeFor({ temporary: false }), 100)
  t.equal(exitCodeFor(new Error('bug')), 111)
  t.equal(exitCodeFor(undefined), 111)
})
