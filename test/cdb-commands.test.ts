import t, { type Test } from 'tap'
import { writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs'
import { ourBin, referenceTool, run } from './lib/tools.js'

const freecdb = referenceTool('cdbmake', 'Debian freecdb')
const sh = (script: string, cwd: string) =>
  run('/bin/sh', ['-c', script], '', { cwd, env: { PATH: process.env.PATH!, NODE: process.execPath } })
const ours = (name: string) => `"$NODE" ${ourBin('cdb', name)}`

/** Runs a shell snippet once with the real tool and once with ours; compares status, stdout, stderr. */
function same(t: Test, dir: string, snippet: (tool: (n: string) => string) => string, label: string) {
  const ref = sh(
    snippet(n => n),
    dir,
  )
  const got = sh(snippet(ours), dir)
  t.same(
    [got.status, got.stdout.toString('latin1'), got.stderr.toString('latin1')],
    [ref.status, ref.stdout.toString('latin1'), ref.stderr.toString('latin1')],
    label,
  )
}

t.test('usage, lookups and errors match freecdb', { skip: freecdb.skip }, async t => {
  const dir = t.testdir({})
  writeFileSync(`${dir}/in`, '+1,1:a->b\n+1,2:a->cc\n+0,0:->\n+3,1:a\nb->x\n\n')
  sh(
    'cdbmake db.cdb db.tmp < in && head -c 2100 db.cdb > cut.cdb && head -c 100 db.cdb > short.cdb && : > empty.cdb',
    dir,
  )
  mkdirSync(`${dir}/isdir`)
  const cases: Array<[string, (tool: (n: string) => string) => string]> = [
    ['cdbmake no args', x => `${x('cdbmake')}`],
    ['cdbmake one arg', x => `${x('cdbmake')} a`],
    ['cdbmake three args', x => `${x('cdbmake')} a b c < in`],
    ['cdbmake missing dir', x => `${x('cdbmake')} o.cdb nodir/o.tmp < in`],
    ['cdbmake rename onto a directory', x => `${x('cdbmake')} isdir o.tmp < in`],
    ['cdbmake input is a directory', x => `${x('cdbmake')} o.cdb o.tmp < isdir`],
    ['cdbmake huge length', x => `printf '+99999999999,1:a->b\\n\\n' | ${x('cdbmake')} o.cdb o.tmp`],
    ['cdbdump', x => `${x('cdbdump')} < db.cdb`],
    ['cdbdump from a pipe', x => `cat db.cdb | ${x('cdbdump')}`],
    ['cdbdump tables cut off', x => `${x('cdbdump')} < cut.cdb`],
    ['cdbdump short', x => `${x('cdbdump')} < short.cdb`],
    ['cdbdump empty', x => `${x('cdbdump')} < empty.cdb`],
    ['cdbdump directory', x => `${x('cdbdump')} < isdir`],
    ['cdbdump args', x => `${x('cdbdump')} x < db.cdb`],
    ['cdbget first', x => `${x('cdbget')} a < db.cdb`],
    ['cdbget skip 1', x => `${x('cdbget')} a 1 < db.cdb`],
    ['cdbget skip 01', x => `${x('cdbget')} a 01 < db.cdb`],
    ['cdbget skip past', x => `${x('cdbget')} a 2 < db.cdb`],
    ['cdbget key with LF', x => `${x('cdbget')} "$(printf 'a\\nb')" < db.cdb`],
    ['cdbget missing', x => `${x('cdbget')} zz < db.cdb`],
    ['cdbget empty key', x => `${x('cdbget')} "" < db.cdb`],
    ['cdbget bad skip', x => `${x('cdbget')} a x < db.cdb`],
    ['cdbget negative skip', x => `${x('cdbget')} a -1 < db.cdb`],
    ['cdbget no args', x => `${x('cdbget')} < db.cdb`],
    ['cdbget three args', x => `${x('cdbget')} a 1 2 < db.cdb`],
    ['cdbget pipe', x => `cat db.cdb | ${x('cdbget')} a`],
    ['cdbget truncated', x => `${x('cdbget')} a < cut.cdb`],
    ['cdbget empty file', x => `${x('cdbget')} a < empty.cdb`],
  ]
  for (const [label, snippet] of cases) same(t, dir, snippet, label)
})

t.test(
  'cdbmake leaves the temporary file behind on error, as freecdb does',
  { skip: freecdb.skip },
  async t => {
    const dir = t.testdir({ 'db.cdb': 'old' })
    const r = sh(`printf '+1,1:a->' | "$NODE" ${ourBin('cdb', 'cdbmake')} db.cdb db.tmp`, dir)
    t.equal(r.status, 111)
    t.ok(existsSync(`${dir}/db.tmp`))
    t.equal(statSync(`${dir}/db.cdb`).size, 3)
  },
)
