// The client's two speed goals, in one run:
//  1. Per-message start-up: qmail-inject run once per message (as PHP does) to a local server
//     answering K, beside `node -e 0` (the floor: Node's own start-up) and nullmailer's qmqp
//     module (a C++ QMQP sender, run directly). Interleaved rounds; medians and ratios.
//     Goal: qmail-inject <= node -e 0 + 25 ms.
//  2. Library throughput: send() with 16 sends in flight to a discard server, beside a raw-socket
//     floor (connect, one write of a pre-encoded request, read the reply, destroy) in the same
//     process. Interleaved rounds; median msgs/s and the sending process's CPU per message.
//     Goal >= 5000 msgs/s.
// Prints figures, never asserts.
//
//   node tools/bench/client/run.js [--rounds 21] [--messages 20000] [--only startup|throughput]
import { fork, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const qmqpDist = join(root, 'packages/qmqp/dist/index.js')
const clientDist = join(root, 'packages/client/dist/index.js')

if (process.argv[2] === '--serve') {
  // The server runs in its own process so that it and the senders each have a core.
  const { createQmqpServer } = await import(qmqpDist)
  const server = createQmqpServer({
    onRequest: async req => {
      await req.message.dispose()
      return { code: 'K', text: 'ok 1 qp 1' }
    },
  })
  const { port } = await server.listen(0, '127.0.0.1')
  process.send({ port })
  process.on('message', async () => {
    await server.close(0)
    process.exit(0)
  })
} else {
  await main()
}

async function main() {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, messages: { type: 'string' }, only: { type: 'string' } },
  })
  const rounds = Number(values.rounds ?? 21)
  const messages = Number(values.messages ?? 20000)
  if (!existsSync(join(root, 'packages/client/dist/bundle/qmail-inject.cjs'))) {
    console.log('build first: npm run build (tsc -b, then the client bundles)')
    process.exitCode = 1
    return
  }
  const server = fork(fileURLToPath(import.meta.url), ['--serve'])
  const [{ port }] = await new Promise(resolve => server.once('message', m => resolve([m])))
  const dir = mkdtempSync(join(tmpdir(), 'qmqpkit-bench-client-'))
  try {
    if (values.only !== 'throughput') await startup(dir, port, rounds)
    if (values.only !== 'startup') await throughput(port, messages)
  } finally {
    server.send('stop')
    rmSync(dir, { recursive: true, force: true })
  }
}

function runOnce(cmd, args, { input = '', fd3 } = {}) {
  return new Promise((resolve, reject) => {
    const stdio = ['pipe', 'ignore', 'pipe']
    if (fd3 !== undefined) stdio.push(fd3)
    const t0 = performance.now()
    const child = spawn(cmd, args, { stdio, env: { PATH: process.env.PATH, USER: 'bench' } })
    let err = ''
    child.stderr.on('data', c => (err += c))
    child.once('error', reject)
    child.once('close', code => {
      const ms = performance.now() - t0
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))
      else resolve(ms)
    })
    child.stdin.end(input)
  })
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]
}

async function startup(dir, port, rounds) {
  const { setupHome } = await import(clientDist)
  const home = join(dir, 'home')
  setupHome({ home, me: 'bench.example.com', servers: [`127.0.0.1:${port}`] })
  const message = 'To: rcpt@example.com\nSubject: bench\n\nhello\n'
  const nmFile = join(dir, 'nullmailer.msg')
  writeFileSync(nmFile, `bench@bench.example.com\nrcpt@example.com\n\n${message}`)
  const nullmailer = process.env.NULLMAILER_QMQP ?? '/opt/nullmailer/usr/lib/nullmailer/qmqp'
  const contenders = [
    { name: 'node -e 0', run: () => runOnce(process.execPath, ['-e', '0']) },
    {
      name: 'qmail-inject (one process per message)',
      run: () => runOnce(process.execPath, [join(home, 'bin/qmail-inject')], { input: message }),
    },
  ]
  if (existsSync(nullmailer)) {
    contenders.push({
      name: "nullmailer's qmqp",
      run: async () => {
        const fd = openSync(nmFile, 'r')
        try {
          return await runOnce(nullmailer, ['--host=127.0.0.1', `--port=${port}`], { fd3: fd })
        } finally {
          closeSync(fd)
        }
      },
    })
  } else {
    console.log(`(nullmailer's qmqp not found at ${nullmailer}; set NULLMAILER_QMQP)`)
  }
  for (const c of contenders) await c.run() // warm-up, not measured
  const times = contenders.map(() => [])
  for (let r = 0; r < rounds; r++) for (const [i, c] of contenders.entries()) times[i].push(await c.run())
  const medians = times.map(median)
  console.log(`per-message wall time, median of ${rounds} interleaved rounds`)
  for (const [i, c] of contenders.entries()) {
    console.log(
      `  ${c.name.padEnd(42)}${medians[i].toFixed(1).padStart(8)} ms   ratio to node -e 0: ${(medians[i] / medians[0]).toFixed(2)}`,
    )
  }
  const over = medians[1] - medians[0]
  console.log(
    `  qmail-inject - node -e 0 = ${over.toFixed(1)} ms   (goal <= 25 ms: ${over <= 25 ? 'met' : 'not met'})`,
  )
}

async function throughput(port, messages) {
  const { send } = await import(clientDist)
  const { encodeRequest } = await import(qmqpDist)
  const message = Buffer.from(
    'From: a@example.com\nTo: b@example.com\nSubject: t\n\n' + 'x'.repeat(1000) + '\n',
  )
  const envelope = { sender: 'a@example.com', recipients: ['b@example.com'] }
  const options = { servers: [`127.0.0.1:${port}`] }
  const wire = encodeRequest({ message, ...envelope })
  const raw = () =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
      socket.once('connect', () => socket.write(wire))
      socket.once('data', () => resolve(socket.destroy()))
      socket.once('error', reject)
    })
  const inFlight = 16
  const runBatch = async (one, count) => {
    let next = 0
    const worker = async () => {
      while (next++ < count) await one()
    }
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await Promise.all(Array.from({ length: inFlight }, worker))
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    return { rate: count / (ms / 1000), cpuUs: (cpu.user + cpu.system) / count }
  }
  const contenders = [
    { name: 'raw socket (floor)', one: raw },
    { name: 'library send()', one: () => send(message, envelope, options) },
  ]
  for (const c of contenders) await runBatch(c.one, 1000) // warm-up, not measured
  const rounds = 5
  const count = Math.max(100, Math.round(messages / rounds))
  const results = contenders.map(() => [])
  for (let r = 0; r < rounds; r++)
    for (const [i, c] of contenders.entries()) results[i].push(await runBatch(c.one, count))
  console.log(
    `${inFlight} in flight, 1 KB messages, discard server, median of ${rounds} interleaved rounds of ${count}`,
  )
  const rates = results.map(rs => median(rs.map(r => r.rate)))
  for (const [i, c] of contenders.entries()) {
    const cpu = median(results[i].map(r => r.cpuUs))
    console.log(
      `  ${c.name.padEnd(30)}${String(Math.round(rates[i])).padStart(7)} msgs/s  ${cpu.toFixed(1).padStart(6)} µs CPU per message (sending process)`,
    )
  }
  const rate = rates[1]
  console.log(
    `library send(), ${inFlight} in flight, 1 KB messages, discard server: ${Math.round(rate)} msgs/s (ratio to floor ${(rate / rates[0]).toFixed(2)}; goal >= 5000: ${rate >= 5000 ? 'met' : 'not met'})`,
  )
}
