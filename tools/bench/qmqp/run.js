// Load generator for the QMQP server core. Drives N concurrent connections of M-byte messages
// against our server core (answering K without storing) and, interleaved in the same run, against
// a reference server written directly on `net` that does no parsing (it counts bytes, then
// answers). The ratio shows what our codec and connection handling cost. Prints, never asserts.
//
//   node tools/bench/qmqp/run.js [--connections 16] [--rounds 9] [--sizes 1024,102400]
//
// The servers run in a child process so that they and the load generator each have a core.
import net from 'node:net'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const dist = new URL('../../../packages/qmqp/dist/index.js', import.meta.url)

if (process.argv[2] === '--serve') {
  const { createQmqpServer } = await import(dist.href)
  const ours = createQmqpServer({
    onRequest: async req => {
      await req.message.dispose()
      return { code: 'K', text: 'ok' }
    },
  })
  const { port: oursPort } = await ours.listen(0, '127.0.0.1')
  // The floor: read exactly the request's byte count, answer, close. No parsing at all.
  let expected = 0
  const reply = Buffer.from('3:Kok,')
  const reference = net.createServer({ allowHalfOpen: true }, s => {
    let seen = 0
    s.on('error', () => undefined)
    s.on('data', d => {
      seen += d.length
      if (seen === expected) s.end(reply)
    })
    s.on('end', () => s.destroy())
  })
  reference.listen(0, '127.0.0.1')
  await once(reference, 'listening')
  process.on('message', m => {
    if (m.expected !== undefined) expected = m.expected
    if (m.quit) {
      reference.close()
      void ours.close().then(() => process.exit(0))
    }
    const cpu = process.cpuUsage()
    process.send({ ack: true, cpuUs: cpu.user + cpu.system })
  })
  process.send({ oursPort, referencePort: reference.address().port })
} else {
  await main()
}

async function main() {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '16' },
      rounds: { type: 'string', default: '9' },
      sizes: { type: 'string', default: '1024,102400' },
    },
  })
  const { encodeRequest } = await import(dist.href)
  const connections = Number(values.connections)
  const rounds = Number(values.rounds)
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' })
  const [{ oursPort, referencePort }] = await once(child, 'message')
  const tell = async m => {
    child.send(m)
    const [reply] = await once(child, 'message')
    return reply
  }
  /** One measured run: rate and latencies from the load side, CPU per message from the server side. */
  const measure = async (port, request, count) => {
    const before = (await tell({})).cpuUs
    const r = await load(port, request, connections, count)
    const after = (await tell({})).cpuUs
    return { ...r, cpuPerMsgUs: (after - before) / count }
  }
  console.log(
    `QMQP server core vs a no-parsing reference on net; ${connections} connections, median of ${rounds} interleaved rounds`,
  )
  for (const size of values.sizes.split(',').map(Number)) {
    const request = encodeRequest({
      message: Buffer.alloc(size, 'x'),
      sender: 'bench@example.com',
      recipients: ['rcpt@example.net'],
    })
    await tell({ expected: request.length })
    // Enough messages per round for a stable figure, few enough to stay well under a minute.
    const perRound = Math.max(400, Math.min(1500, Math.floor((100 * 1024 * 1024) / request.length)))
    const contenders = [
      { name: 'reference (net, no parsing)', port: referencePort, runs: [] },
      { name: '@qmqpkit/qmqp server core', port: oursPort, runs: [] },
    ]
    for (const c of contenders) await load(c.port, request, connections, Math.floor(perRound / 4)) // warm-up
    for (let r = 0; r < rounds; r++)
      for (const c of contenders) c.runs.push(await measure(c.port, request, perRound))
    console.log(
      `\n${(size / 1024).toFixed(0)} KiB messages (${request.length} bytes on the wire), ${perRound} per round`,
    )
    const median = (runs, key) => [...runs].sort((a, b) => a[key] - b[key])[runs.length >> 1][key]
    const summary = contenders.map(c => {
      const m = {
        rate: median(c.runs, 'rate'),
        p50: median(c.runs, 'p50'),
        p99: median(c.runs, 'p99'),
        cpu: median(c.runs, 'cpuPerMsgUs'),
      }
      console.log(
        `  ${c.name.padEnd(30)} ${m.rate.toFixed(0).padStart(7)} msgs/s   p50 ${m.p50.toFixed(2).padStart(6)} ms   p99 ${m.p99.toFixed(2).padStart(6)} ms   server CPU ${m.cpu.toFixed(0).padStart(5)} us/msg`,
      )
      return m
    })
    console.log(
      `  ratio ${(summary[1].rate / summary[0].rate).toFixed(2)}  (our msgs/s / reference msgs/s; target >= 0.80)`,
    )
    console.log(
      `  CPU ratio ${(summary[0].cpu / summary[1].cpu).toFixed(2)}  (reference CPU per message / ours: the same figure measured on the server alone)`,
    )
  }
  await tell({ quit: true }).catch(() => undefined)
}

/** Sends `count` requests over `connections` concurrent connections (one request per connection, as QMQP does). */
async function load(port, request, connections, count) {
  const latencies = []
  let started = 0
  const t0 = performance.now()
  const worker = async () => {
    while (started < count) {
      started++
      const t = performance.now()
      const reply = await once1(port, request)
      if (reply[0] !== 0x33 || reply[2] !== 0x4b)
        throw new Error(`unexpected reply ${reply.toString('latin1')}`)
      latencies.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const ms = performance.now() - t0
  latencies.sort((a, b) => a - b)
  const pct = p => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]
  return { rate: (count / ms) * 1000, p50: pct(50), p99: pct(99) }
}

function once1(port, request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    const parts = []
    s.on('data', d => parts.push(d))
    s.on('error', reject)
    s.on('close', () => resolve(Buffer.concat(parts)))
    s.write(request)
  })
}
