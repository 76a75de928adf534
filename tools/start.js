#!/usr/bin/env node
// `npm start`: qmqpd on 127.0.0.1:6628 (no root needed) with the example rules
// (fixtures/examples/qmqp.tcp: loopback allowed, SimpleMH) and the default SQLite store
// ./qmqpd.sqlite (or $QMQPD_DATA_DIR/qmqpd.sqlite). Run `npm run build` first.
// Extra arguments go to qmqpd: `npm start -- --log-format qmail`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = `${root}packages/server/bin/qmqpd`
if (!existsSync(`${root}packages/server/dist/cli/qmqpd.js`)) {
  console.error('start: fatal: qmqpd is not built; run `npm run build` first')
  process.exit(111)
}
const args = [
  '--listen',
  '127.0.0.1:6628',
  '--rules-source',
  `${root}fixtures/examples/qmqp.tcp`,
  ...process.argv.slice(2),
]
const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 111 : 0)))
