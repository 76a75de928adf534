import { readFileSync, statSync, type Stats } from 'node:fs'
import { CdbReader } from '@qmqpkit/cdb'
import {
  compileRulesToBuffer,
  matchRules,
  RulesSyntaxError,
  type Dialect,
  type RulesLookup,
} from '@qmqpkit/tcprules'
import type { AccessDecision } from './injected-message.js'
import { isLoopback } from './connection-env.js'
import { QmqpdConfigError, QmqpdFileError } from './errors.js'

/** Who is asking: the remote address as the socket reports it, and host/info when known. */
export interface AccessQuery {
  remoteAddress: string
  remoteHost?: Buffer | string | null
  remoteInfo?: Buffer | string | null
}

/** The access decision for one connection, with the rule's key and variables. */
export interface AccessResult {
  /** `deny` closes the connection before a byte is read; `error` drops it too (rules unreadable). */
  decision: AccessDecision | 'error'
  allow: boolean
  /** The matching key as latin1 text, or null. */
  ruleKey: string | null
  env: Array<[name: string, value: Buffer]>
  /** Why the rules could not be consulted (decision `error`). */
  error?: Error
}

/** Something that tells what happened to the rules, for the log. */
export interface AccessEvents {
  onReload?(path: string): void
  onSourceError?(err: Error, path: string): void
}

/** Decides connections: by a rules database, a rules source, or (no rules) loopback only. */
export interface AccessControl {
  readonly description: string
  check(query: AccessQuery): AccessResult
  /** Forget cached rules: the next connection reads the file again (SIGHUP). */
  reopen(): void
}

/** The safe default without rules: loopback clients only (127.0.0.0/8, ::1). */
export function loopbackOnly(): AccessControl {
  return {
    description: 'loopback only (no rules given)',
    check: q =>
      isLoopback(q.remoteAddress)
        ? { decision: 'loopback-default', allow: true, ruleKey: null, env: [] }
        : { decision: 'deny', allow: false, ruleKey: null, env: [] },
    reopen: () => {},
  }
}

function sameFile(a: Stats | null, b: Stats): boolean {
  return (
    a !== null &&
    a.ino === b.ino &&
    a.dev === b.dev &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs
  )
}

function decide(db: RulesLookup, q: AccessQuery, dialect: Dialect): AccessResult {
  const conn: { ip: string; host?: Buffer | string; info?: Buffer | string } = { ip: q.remoteAddress }
  if (q.remoteHost !== null && q.remoteHost !== undefined) conn.host = q.remoteHost
  if (q.remoteInfo !== null && q.remoteInfo !== undefined) conn.info = q.remoteInfo
  const m = matchRules(db, conn, { dialect })
  return {
    decision: m.decision,
    allow: m.decision !== 'deny',
    ruleKey: m.key === null ? null : m.key.toString('latin1'),
    env: m.decision === 'deny' ? [] : m.env,
  }
}

/**
 * A tcprules database (`qmqp.tcp.cdb`), checked for every connection as tcpserver reopens it:
 * the file is stat'ed each time and read again when it changed, so a `tcprules` rename takes
 * effect on the next connection. Each lookup uses one whole snapshot, never half of two files.
 * A missing or unreadable database drops the connection, as tcpserver does.
 */
export function rulesDatabase(path: string, dialect: Dialect, events: AccessEvents = {}): AccessControl {
  let cached: { stat: Stats; db: CdbReader } | null = null
  return {
    description: `rules database ${path}`,
    check(q) {
      try {
        const stat = statSync(path)
        if (!sameFile(cached?.stat ?? null, stat)) {
          const db = CdbReader.open(path, { wholeFile: true })
          if (cached) events.onReload?.(path)
          cached?.db.close()
          cached = { stat, db }
        }
        return decide(cached!.db, q, dialect)
      } catch (err) {
        return { decision: 'error', allow: false, ruleKey: null, env: [], error: err as Error }
      }
    },
    reopen() {
      cached?.db.close()
      cached = null
    },
  }
}

/**
 * A tcprules source file (`qmqp.tcp`), compiled in memory and compiled again when it changes.
 * A version with a syntax error leaves the previous rules in force and is reported once
 * (with its line) through `events.onSourceError`. The first compile happens here and throws
 * QmqpdConfigError (bad rules) or QmqpdFileError (unreadable), so qmqpd refuses to start.
 */
export function rulesSource(path: string, dialect: Dialect, events: AccessEvents = {}): AccessControl {
  let stat: Stats | null = null
  let db: CdbReader
  let failedStat: Stats | null = null
  let missing = false
  const compile = (): CdbReader => CdbReader.fromBuffer(compileRulesToBuffer(readFileSync(path), { dialect }))
  try {
    stat = statSync(path)
    db = compile()
  } catch (err) {
    if (err instanceof RulesSyntaxError) throw new QmqpdConfigError(path, err.message)
    throw new QmqpdFileError(path, err, `unable to read ${path}: ${(err as Error).message}`)
  }
  const refresh = () => {
    let now: Stats
    try {
      now = statSync(path)
    } catch (err) {
      // The source vanished (an editor's rename, say): keep what is in force.
      if (!missing) events.onSourceError?.(err as Error, path)
      missing = true
      return
    }
    missing = false
    if (sameFile(stat, now) || sameFile(failedStat, now)) return
    try {
      db = compile()
      stat = now
      failedStat = null
      events.onReload?.(path)
    } catch (err) {
      failedStat = now
      events.onSourceError?.(err as Error, path)
    }
  }
  return {
    description: `rules source ${path}`,
    check(q) {
      refresh()
      return decide(db, q, dialect)
    },
    reopen() {
      stat = null
      failedStat = null
    },
  }
}

/** The access control a Config asks for: `--rules`, `--rules-source`, or loopback only. */
export function accessControlFor(
  rules: { kind: 'cdb' | 'source'; path: string } | null,
  dialect: Dialect,
  events: AccessEvents = {},
): AccessControl {
  if (!rules) return loopbackOnly()
  return rules.kind === 'cdb'
    ? rulesDatabase(rules.path, dialect, events)
    : rulesSource(rules.path, dialect, events)
}

/** Access events written to a log: a reload as info, an unusable source (with its line) as an error. */
export function loggedAccessEvents(log: {
  info(o: object, m?: string): void
  error(o: object, m?: string): void
}): AccessEvents {
  return {
    onReload: path => log.info({ event: 'rules-reload', path }, 'rules changed, new rules in force'),
    onSourceError: (err, path) =>
      log.error(
        { event: 'rules-error', path, line: (err as { line?: number }).line, err: err.message },
        'rules source not usable, previous rules stay in force',
      ),
  }
}
