import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { formatServer, parseQmqpServers, parseServerLine, readQmqpServers } from '../src/control.js'
import { ClientConfigError } from '../src/errors.js'

function home(t: Test, files: Record<string, string | Buffer>): string {
  const dir = t.testdir({ control: {} })
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, 'control', name), data)
  return dir
}

t.test('server lines qmail reads mean the same; the others are accepted', async t => {
  const cases: Array<[string, string | undefined]> = [
    ['192.0.2.1', '192.0.2.1:628'],
    ['192.0.2.1:9999', '192.0.2.1:9999'],
    ['192.0.2.1 # office', '192.0.2.1:628'],
    ['192.0.2.1:abc', '192.0.2.1:628'],
    ['192.0.2.1:99999', '192.0.2.1:628'],
    ['::1', '[::1]:628'],
    ['2001:db8::25', '[2001:db8::25]:628'],
    ['[2001:db8::25]', '[2001:db8::25]:628'],
    ['[::1]:6628', '[::1]:6628'],
    ['[::1]:0', undefined],
    ['[nothex]:1', undefined],
    ['localhost', 'localhost:628'],
    ['engine.example.com:2628', 'engine.example.com:2628'],
    ['engine.example.com.', 'engine.example.com.:628'],
    ['#192.0.2.1', undefined],
    ['', undefined],
    [' 192.0.2.1', undefined],
    ['bad host', undefined],
    ['-bad', undefined],
    ['999.0.0.1', undefined],
  ]
  for (const [line, expected] of cases) {
    const parsed = parseServerLine(line)
    t.equal(parsed && formatServer(parsed), expected, JSON.stringify(line))
  }
})

t.test('qmqpservers: order kept, blanks and comments skipped', async t => {
  const text = '# engines\n\n192.0.2.1  \n\t\n[::1]:7000\r\nnot a server\nmx.example.net\n'
  t.same(parseQmqpServers(Buffer.from(text)).map(formatServer), [
    '192.0.2.1:628',
    '[::1]:7000',
    'mx.example.net:628',
  ])
  t.same(readQmqpServers(home(t, { qmqpservers: text })).map(formatServer), [
    '192.0.2.1:628',
    '[::1]:7000',
    'mx.example.net:628',
  ])
})

t.test('qmqpservers missing, unreadable or without a server is a configuration error', async t => {
  t.throws(() => readQmqpServers(home(t, {})), ClientConfigError)
  t.throws(() => readQmqpServers(home(t, { qmqpservers: '# none yet\n\n' })), {
    code: 'CLIENT_ERR_SERVERS',
    temporary: true,
  })
  const dir = home(t, {})
  mkdirSync(join(dir, 'control/qmqpservers'))
  t.throws(() => readQmqpServers(dir), ClientConfigError)
})
