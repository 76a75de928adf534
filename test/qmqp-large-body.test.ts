import t from 'tap'
import { fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { send } from '@qmqpkit/qmqp'

// A 256 MiB body streamed from our client to our server core running in a child process, so that
// only the server's memory is measured: its RSS may grow by less than 64 MiB (a memory assertion).
const SIZE = 256 * 1024 * 1024
const LIMIT = 64 * 1024 * 1024

const serverScript = (distUrl: string, spoolDir: string) => `
import { createQmqpServer } from ${JSON.stringify(distUrl)}
import { createHash } from 'node:crypto'
globalThis.gc?.()
const base = process.memoryUsage().rss
let peak = base
const sample = () => { peak = Math.max(peak, process.memoryUsage().rss) }
const timer = setInterval(sample, 10)
const server = createQmqpServer({
  // qmail refuses outer lengths over 200,000,000; this server is told to take more.
  limits: { spoolDir: ${JSON.stringify(spoolDir)}, maxOuterBytes: 2 ** 40 },
  onRequest: async req => {
    const h = createHash('sha256')
    for await (const c of req.message.stream()) { h.update(c); sample() }
    await req.message.dispose()
    return { code: 'K', text: req.message.size + ' ' + h.digest('hex') + ' ' + req.recipients.length }
  },
})
const { port } = await server.listen(0, '127.0.0.1')
process.send({ port })
process.on('message', async () => {
  sample()
  clearInterval(timer)
  await server.close()
  process.send({ base, peak })
})
`

/** Deterministic bytes, generated as they are read: the test process never holds the body either. */
function bodyStream(size: number, hash: ReturnType<typeof createHash>): Readable {
  let sent = 0
  const block = Buffer.alloc(256 * 1024)
  for (let i = 0; i < block.length; i++) block[i] = (i * 7919) & 0xff
  return new Readable({
    read() {
      if (sent >= size) return this.push(null)
      const n = Math.min(block.length, size - sent)
      const chunk = Buffer.from(block.subarray(0, n))
      chunk.writeUInt32BE(sent >>> 0, 0)
      sent += n
      hash.update(chunk)
      this.push(chunk)
    },
  })
}

t.test('256 MiB through client and server core; server RSS grows by less than 64 MiB', async t => {
  const dir = t.testdir()
  const script = `${dir}/server.mjs`
  writeFileSync(script, serverScript(new URL('../packages/qmqp/dist/index.js', import.meta.url).href, dir))
  const child = fork(script, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  t.teardown(() => void child.kill())
  const [{ port }] = (await once(child, 'message')) as [{ port: number }]

  const want = createHash('sha256')
  const source = bodyStream(SIZE, want)
  const r = await send(
    {
      message: source,
      size: SIZE,
      sender: 'big@example.com',
      recipients: ['r1@example.net', 'r2@example.net'],
    },
    { servers: [`127.0.0.1:${port}`], timeoutMs: 60_000 },
  )
  t.same(r.verdict, { code: 'K', text: `${SIZE} ${want.digest('hex')} 2` }, 'every byte arrived, in order')
  child.send('report')
  const [{ base, peak }] = (await once(child, 'message')) as [{ base: number; peak: number }]
  const growth = peak - base
  t.ok(growth < LIMIT, `server RSS grew by ${(growth / 1048576).toFixed(1)} MiB (limit 64 MiB)`)
  t.same(readdirSync(dir), ['server.mjs'], 'the spool file is gone')
})
