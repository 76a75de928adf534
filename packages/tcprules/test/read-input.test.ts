import { openSync, closeSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { readFdToEnd, readInput } from '../src/read-input.js'

t.test('a file descriptor read to its end', t => {
  const dir = t.testdir()
  const big = Buffer.alloc(3 << 20, 'x')
  writeFileSync(join(dir, 'f'), big)
  const fd = openSync(join(dir, 'f'), 'r')
  t.same(readFdToEnd(fd), big)
  closeSync(fd)
  const dirFd = openSync(dir, 'r')
  t.throws(() => readFdToEnd(dirFd), { code: 'EISDIR' })
  closeSync(dirFd)
  t.end()
})

t.test('a stream that is not the process stdin', async t => {
  t.same(await readInput(Readable.from([Buffer.from('a'), Buffer.from('b')])), Buffer.from('ab'))
})
