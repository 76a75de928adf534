import type { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import type { Config } from './config.js'

/**
 * One finished connection: the line qmqpd writes per connection. `conn`, `decision` and
 * `verdict` are tokens qmqpd makes (letters, digits, `.` and `-`) and are written unescaped.
 */
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

/** One message: accepted, refused by policy, or refused by a backend. `conn`, `id`, `verdict`: tokens, as in ConnectionLine. */
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

/** Characters JSON.stringify escapes: the quote, the backslash, controls and lone surrogate halves. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify(s)`, without its work when nothing in `s` needs escaping (the usual case). */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`
}

const jsonOrNull = (s: string | null): string => (s === null ? 'null' : jsonString(s))

/** Bytes gathered before they are written at once, and the longest a line waits otherwise. */
const BATCH_BYTES = 16 * 1024
const BATCH_MS = 20

/**
 * Lines gathered and written together: at once when BATCH_BYTES are waiting, otherwise BATCH_MS
 * after the first one, in one synchronous write. `flush()` writes what waits now.
 */
class LineBatch {
  readonly #dest: { write(data: string): unknown }
  #pending: string[] = []
  #bytes = 0
  #timer: NodeJS.Timeout | undefined
  readonly #flush = (): void => this.flush()

  constructor(dest: { write(data: string): unknown }) {
    this.#dest = dest
  }

  write(line: string): boolean {
    this.#pending.push(line)
    if ((this.#bytes += line.length) >= BATCH_BYTES) this.flush()
    // Unref'd: a process with nothing else to do exits, and writes the lines on its way out.
    else this.#timer ??= setTimeout(this.#flush, BATCH_MS).unref()
    return true
  }

  /** Writes what is waiting, synchronously. */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#pending.length === 0) return
    const data = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('')
    this.#pending = []
    this.#bytes = 0
    this.#dest.write(data)
  }
}

/** How a QmqpdLog writes to its own destination (stderr or --log-file). */
export interface QmqpdLogOptions {
  /**
   * Gather the per-connection and per-message lines and write them together (16 KiB at a time,
   * or 20 ms after the first one waits), instead of one write per line. `flush()`, SIGHUP's reopen and the process's exit (a clean one,
   * `process.exit`, an uncaught exception) write what waits; only a SIGKILL can lose those 20 ms.
   */
  batched?: boolean
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

  /** Writes out lines gathered but not yet written (batched logs). */
  readonly #flushPending: () => void
  /** `,"pid":N,"event":"`: the part of every per-connection and per-message JSON line that never changes. */
  readonly #pidEvent = `,"pid":${process.pid},"event":"`
  /** Whether info lines are written at all (the level is fixed for the life of the log). */
  readonly #infoOn: boolean

  constructor(options: Config['log'], stream?: Writable, own: QmqpdLogOptions = {}) {
    this.#format = options.format
    if (stream) {
      this.#pino = pino({ level: options.level, base: { pid: process.pid } }, stream)
      this.#out = stream
      this.#reopen = () => {}
      this.#flushPending = () => {}
    } else {
      const dest = pino.destination(
        options.file === null
          ? { dest: 2, sync: true }
          : { dest: options.file, sync: true, append: true, mkdir: true },
      )
      if (own.batched) {
        const batch = new LineBatch(dest)
        this.#pino = pino({ level: options.level, base: { pid: process.pid } }, batch)
        this.#out = batch
        this.#flushPending = () => batch.flush()
        // An exit (process.exit and an uncaught exception included) writes what waits.
        process.once('exit', this.#flushPending)
      } else {
        this.#pino = pino({ level: options.level, base: { pid: process.pid } }, dest)
        this.#out = dest
        this.#flushPending = () => {}
      }
      this.#reopen = () => {
        this.#flushPending()
        dest.reopen()
      }
    }
    this.#infoOn = this.#pino.isLevelEnabled('info')
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
    // Only the per-connection and per-message lines wait in a batch; the rare events (start,
    // stop, errors) go out at once, with whatever waits before them.
    this.#flushPending()
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

  /**
   * The one line per connection. In JSON, the same bytes pino writes for an info line with
   * `base: { pid }` (level, time, pid, the fields in order, undefined ones left out, msg), made
   * here in one template rather than by pino's generic serialiser: this is the busiest path.
   */
  connection(c: ConnectionLine): void {
    if (!this.#infoOn) return
    if (this.#format === 'json') {
      this.#out.write(
        `{"level":30,"time":${Date.now()}${this.#pidEvent}connection","conn":"${c.conn}","remote":${jsonString(c.remote)},"local":${jsonString(c.local)},"rule":${jsonOrNull(c.rule)},"decision":"${c.decision}","verdict":"${c.verdict}","bytes":${c.bytes},"ms":${c.ms}${c.reason === undefined ? '' : `,"reason":${jsonString(c.reason)}`},"msg":"connection"}\n`,
      )
      return
    }
    const status = c.verdict === 'deny' ? 'deny' : c.verdict === 'error' ? 'drop' : 'ok'
    this.#out.write(
      `qmqpd: ${status} ${c.conn} ${c.local} ${c.remote} rule ${c.rule ?? '-'} ${c.verdict} ${c.bytes} bytes ${c.ms} ms` +
        (c.reason ? ` (${c.reason})` : '') +
        '\n',
    )
  }

  /** The one line per message (JSON as for connection()). */
  message(m: MessageLine): void {
    if (!this.#infoOn) return
    if (this.#format === 'json') {
      this.#out.write(
        `{"level":30,"time":${Date.now()}${this.#pidEvent}message","conn":"${m.conn}","id":"${m.id}","remote":${jsonString(m.remote)},"rule":${jsonOrNull(m.rule)},"sender":${jsonString(m.sender)},"recipients":${m.recipients},"bytes":${m.bytes},"verdict":"${m.verdict}","text":${jsonString(m.text)},"backend":${jsonOrNull(m.backend)},"ms":${m.ms},"msg":"message"}\n`,
      )
      return
    }
    this.#out.write(
      `qmqpd: msg ${m.id} conn ${m.conn} from <${m.sender}> rcpt ${m.recipients} bytes ${m.bytes} ` +
        `${m.verdict}${m.text} backend ${m.backend ?? '-'} ${m.ms} ms\n`,
    )
  }

  /** Writes out whatever is gathered or buffered (before an exit). */
  flush(): void {
    this.#flushPending()
    this.#pino.flush()
  }
}
