import t from 'tap'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import {
  controlLine,
  parseMftList,
  readControlFile,
  readInjectControl,
  readMftFile,
  resolveControl,
} from '../src/inject/control-files.js'
import { InjectReadError } from '../src/inject/errors.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('a control value is its first line without trailing blanks', async t => {
  t.equal(controlLine(b('host.example \t\nsecond\n')).toString(), 'host.example')
  t.equal(controlLine(b(' host\r\n')).toString(), ' host\r', 'CR and leading blanks stay')
  t.equal(controlLine(b('')).toString(), '')
  t.equal(controlLine(b('x')).toString(), 'x')
})

t.test('reading the files', async t => {
  const home = t.testdir({ control: { me: 'me.example\n', plusdomain: '' } })
  mkdirSync(path.join(home, 'control', 'idhost'))
  t.equal((await readControlFile(path.join(home, 'control', 'me')))?.toString(), 'me.example')
  t.equal(await readControlFile(path.join(home, 'control', 'defaulthost')), undefined)
  await t.rejects(readInjectControl(home), InjectReadError)
  const other = t.testdir({ control: { plusdomain: '' } })
  const c = await readInjectControl(other)
  t.equal(c.me, undefined)
  t.equal(c.plusdomain?.toString(), '')
})

t.test('defaults and overrides', async t => {
  const none = resolveControl({}, new Map())
  t.same(Object.fromEntries(Object.entries(none).map(([k, v]) => [k, v.toString()])), {
    defaultdomain: 'defaultdomain',
    defaulthost: 'defaulthost',
    plusdomain: 'plusdomain',
    idhost: 'idhost',
  })
  const me = resolveControl(
    { me: b('m.example\n'), idhost: b('i.example') },
    new Map([['QMAILPLUSDOMAIN', b('')]]),
  )
  t.equal(me.defaulthost.toString(), 'm.example')
  t.equal(me.idhost.toString(), 'i.example')
  t.equal(me.plusdomain.toString(), '', 'an empty override wins')
})

t.test('QMAILMFTFILE list', async t => {
  t.same(parseMftList(b('# lists\n\nA@B.C  \nx@y\t\n#no\nlast')).map(String), ['A@B.C', 'x@y', 'last'])
  const dir = t.testdir({ mft: 'l@x.y\n' })
  t.same((await readMftFile(path.join(dir, 'mft')))?.map(String), ['l@x.y'])
  t.equal(await readMftFile(path.join(dir, 'none')), null)
  await t.rejects(readMftFile(dir), InjectReadError)
})
