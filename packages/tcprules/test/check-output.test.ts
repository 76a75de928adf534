import t from 'tap'
import { checkOutput } from '../src/check-output.js'

const out = (key: string, data: string) =>
  checkOutput({ key: Buffer.from(key), data: Buffer.from(data, 'latin1') }).toString('latin1')

t.test('tcprulescheck output', t => {
  t.equal(checkOutput(null).toString(), 'default:\nallow connection\n')
  t.equal(out('', 'D\0'), 'rule :\ndeny connection\n')
  t.equal(
    out('1.2.3.4', '+A=x\0+A=y\0'),
    'rule 1.2.3.4:\nset environment variable A=x\nset environment variable A=y\nallow connection\n',
  )
  t.equal(
    out('k', '+NOEQ\0Zjunk\0+B=1\0D\0+C=2\0'),
    'rule k:\nset environment variable NOEQ\nset environment variable B=1\ndeny connection\n',
  )
  t.equal(out('k', '+A=1'), 'rule k:\nallow connection\n', 'an entry without its NUL is not read')
  t.end()
})
