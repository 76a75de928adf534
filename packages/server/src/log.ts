import type { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import type { Config } from './config.js'

/** One finished connection: the line qmqpd writes per connection. */
export interface ConnectionLine {
  conn: string
  remote: string
  local: string
  rule: string | null
  decision: string
  /** The reply letter sent, `drop` when the connection closed without one, `deny` when refused. */
  verdict: string
  /** Request bytes read, as far as the client got. */
  bytes: number
  ms: number
  reason?: string
}

/** One message: accepted, refused by policy, or refused by a backend. */
export interface MessageLine {
  conn: string
  id: string
  remote: string
  rule: string | null
  sender: string
  recipients: number
  bytes: number
  verdict: string
  text: string
  backend: string | null
  ms: number
}

/** The logger subset backends and other modules get (pino-compatible). */
export interface LogSink {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * qmqpd's log: pino JSON lines, or qmail-style text lines (`qmqpd: ok 3 127.0.0.1:6628
 * 127.0.0.1:50412 rule 127.0.0.1 K 230 bytes 4 ms`), to stderr or a file reopened on SIGHUP.
 * Never message bodies.
 */
export class QmqpdLog implements LogSink {
  readonly #pino: Logger
  readonly #format: 'json' | 'qmail'
  readonly #reopen: () => void
  /** Where qmail-style lines go: the same destination pino writes to. */
  readonly #out: { write(line: string): unknown }

  constructor(options: Config['log'], stream?: Writable) {
    this.#format = options.format
    if (stream) {
      this.#pino = pino({ level: options.level, base: { pid: process.pid } }, stream)
      this.#out = stream
      this.#reopen = () => {}
    } else {
      const dest = pino.destination(
        options.file === null
          ? { dest: 2, sync: true }
          : { dest: options.file, sync: true, append: true, mkdir: true },
      )
      this.#pino = pino({ level: options.level, base: { pid: process.pid } }, dest)
      this.#out = dest
      this.#reopen = () => dest.reopen()
    }
  }

  /** Reopens the log file (after a rotation moved it); nothing for stderr. */
  reopen(): void {
    this.#reopen()
  }

  #text(level: 'info' | 'warn' | 'error', line: string, fields: object): void {
    if (this.#format === 'json') this.#pino[level](fields, line)
    else if (this.#pino.isLevelEnabled(level)) {
      const prefix = level === 'info' ? '' : `${level === 'warn' ? 'warning' : 'alert'}: `
      const extra = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
      this.#out.write(`qmqpd: ${prefix}${line}${extra ? ` ${extra}` : ''}\n`)
    }
  }

  info(obj: object, msg = ''): void {
    this.#text('info', msg, obj)
  }
  warn(obj: object, msg = ''): void {
    this.#text('warn', msg, obj)
  }
  error(obj: object, msg = ''): void {
    this.#text('error', msg, obj)
  }

  /** The one line per connection. */
  connection(c: ConnectionLine): void {
    if (this.#format === 'json') return this.#pino.info({ event: 'connection', ...c }, 'connection')
    const status = c.verdict === 'deny' ? 'deny' : c.verdict === 'error' ? 'drop' : 'ok'
    this.#line(
      'info',
      `qmqpd: ${status} ${c.conn} ${c.local} ${c.remote} rule ${c.rule ?? '-'} ${c.verdict} ${c.bytes} bytes ${c.ms} ms` +
        (c.reason ? ` (${c.reason})` : ''),
    )
  }

  /** The one line per message. */
  message(m: MessageLine): void {
    if (this.#format === 'json') return this.#pino.info({ event: 'message', ...m }, 'message')
    this.#line(
      'info',
      `qmqpd: msg ${m.id} conn ${m.conn} from <${m.sender}> rcpt ${m.recipients} bytes ${m.bytes} ` +
        `${m.verdict}${m.text} backend ${m.backend ?? '-'} ${m.ms} ms`,
    )
  }

  #line(level: 'info', line: string): void {
    if (this.#pino.isLevelEnabled(level)) this.#out.write(`${line}\n`)
  }

  /** Flushes a buffered destination before exit. */
  flush(): void {
    this.#pino.flush()
  }
}
