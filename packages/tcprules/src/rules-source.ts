import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs'
import { CdbReader } from '@qmqpkit/cdb'
import { compileRulesToBuffer } from './compile.js'
import { RulesReadError, RulesSyntaxError, TcprulesError } from './errors.js'
import { matchRules, type Connection, type MatchResult } from './match.js'
import type { Dialect } from './parse.js'

/** Where the rules come from: a compiled database (as tcpserver -x) or a rules text file. */
export type RulesSourceSpec = { cdbPath: string } | { rulesPath: string }

export interface RulesSourceOptions {
  /** Rules language and lookup of ucspi-tcp (`ipv4`, default) or ucspi-tcp-ipv6 (`ipv6`). */
  dialect?: Dialect
  /**
   * Called when a rules text file fails to compile (a RulesSyntaxError naming the line) or a
   * changed file cannot be read; the previous rules stay in force. Called once per change.
   */
  onError?: (err: TcprulesError) => void
  /** Look IPv4-mapped and other IPv6 addresses up as tcpserver writes them. Default true. */
  normalizeIp?: boolean
}

interface Identity {
  dev: number
  ino: number
  size: number
  mtimeMs: number
}

const identity = (st: Stats): Identity => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs })
const sameIdentity = (a: Identity, b: Identity) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/** The bytes of a file and the identity of exactly those bytes (fstat of the descriptor read). */
function readWithIdentity(path: string): { bytes: Buffer; id: Identity } {
  const fd = openSync(path, 'r')
  try {
    const id = identity(fstatSync(fd))
    return { bytes: readFileSync(fd), id }
  } finally {
    closeSync(fd)
  }
}

/**
 * The access rules of a server, kept current without a restart. Each `match()` stats the file
 * (no read, no parse); when its inode, size or mtime changed, the whole file is read again and
 * used from then on. A `tcprules` rename therefore takes effect at the next connection, and a
 * connection sees the old rules or the new ones, never a mix.
 *
 * - `{ cdbPath }`: a database as `tcpserver -x` reads it. A missing or corrupt database makes
 *   `match()` throw RulesReadError, as tcpserver drops the connection in that case.
 * - `{ rulesPath }`: a rules text file compiled in memory. A version with errors is reported
 *   through `onError` and the previous rules stay; with no previous rules `match()` throws.
 *
 * @example
 * const rules = new RulesSource({ cdbPath: '/var/hvmail/control/qmqp.tcp.cdb' })
 * const { decision, env } = rules.match({ ip: socket.remoteAddress! })
 */
export class RulesSource {
  readonly path: string
  readonly kind: 'cdb' | 'rules'
  readonly dialect: Dialect
  #onError: ((err: TcprulesError) => void) | undefined
  #normalizeIp: boolean
  #reader: CdbReader | null = null
  #id: Identity | null = null
  #failure: TcprulesError | null = null

  constructor(spec: RulesSourceSpec, options: RulesSourceOptions = {}) {
    if ('cdbPath' in spec) {
      this.path = spec.cdbPath
      this.kind = 'cdb'
    } else {
      this.path = spec.rulesPath
      this.kind = 'rules'
    }
    this.dialect = options.dialect ?? 'ipv4'
    this.#onError = options.onError
    this.#normalizeIp = options.normalizeIp ?? true
  }

  /** Decides one connection with the rules as they are on disk now. */
  match(conn: Connection): MatchResult {
    const reader = this.#current()
    try {
      return matchRules(reader, conn, { dialect: this.dialect, normalizeIp: this.#normalizeIp })
    } catch (err) {
      throw new RulesReadError(this.path, err)
    }
  }

  /** Forgets the loaded rules (the next match reads the file again). */
  close(): void {
    this.#reader?.close()
    this.#reader = null
    this.#id = null
  }

  #current(): CdbReader {
    let st: Stats | undefined
    try {
      st = statSync(this.path)
    } catch (err) {
      return this.#fail(new RulesReadError(this.path, err), null)
    }
    if (this.#id && sameIdentity(this.#id, identity(st))) {
      if (this.#reader) return this.#reader
      throw this.#failure!
    }
    let loaded: { bytes: Buffer; id: Identity }
    try {
      loaded = readWithIdentity(this.path)
    } catch (err) {
      return this.#fail(new RulesReadError(this.path, err), null)
    }
    try {
      const cdb =
        this.kind === 'cdb' ? loaded.bytes : compileRulesToBuffer(loaded.bytes, { dialect: this.dialect })
      const reader = CdbReader.fromBuffer(cdb)
      this.#reader?.close()
      this.#reader = reader
      this.#id = loaded.id
      this.#failure = null
      return reader
    } catch (err) {
      const failure = err instanceof RulesSyntaxError ? err : new RulesReadError(this.path, err)
      return this.#fail(failure, loaded.id)
    }
  }

  /**
   * A database is used as it is now, so a broken one fails every connection (tcpserver drops
   * them). A rules text keeps its last good version; the error is reported once per change.
   */
  #fail(err: TcprulesError, id: Identity | null): CdbReader {
    // A file that stays missing or stays broken is reported once, not at every connection.
    const changed =
      id === null ? this.#failure?.message !== err.message : this.#id === null || !sameIdentity(id, this.#id)
    if (this.kind === 'cdb') {
      this.#reader?.close()
      this.#reader = null
      this.#id = id
      this.#failure = err
      if (changed) this.#onError?.(err)
      throw err
    }
    if (changed) this.#onError?.(err)
    if (id !== null) this.#id = id
    this.#failure = err
    if (this.#reader) return this.#reader
    throw err
  }
}
