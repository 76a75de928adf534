import { readFileSync } from 'node:fs'

/**
 * The command's arguments as the kernel passed them, as raw bytes.
 *
 * Node decodes `process.argv` as UTF-8 and turns invalid bytes into U+FFFD; the classic
 * commands must see what djb's programs see, so they read `/proc/self/cmdline`. The first
 * element returned is the script (argv[0] of the command, as the shell named it), the rest
 * are its arguments. Where `/proc` is unavailable (or the layout is not the expected one) the
 * UTF-8 `process.argv` is used instead.
 */
export function rawArgv(): Buffer[] {
  const fallback = process.argv.slice(1).map(a => Buffer.from(a))
  let cmdline: Buffer
  try {
    cmdline = readFileSync('/proc/self/cmdline')
  } catch {
    /* c8 ignore next 2 */
    return fallback
  }
  const parts = splitNul(cmdline)
  // node [execArgv...] script args...  (NODE_OPTIONS flags never appear here)
  const skip = 1 + process.execArgv.length
  if (parts.length !== skip + process.argv.length - 1) return fallback
  return parts.slice(skip)
}

/**
 * The process's initial environment as raw bytes: names decoded as latin1 (so every byte
 * survives a round trip), values as Buffers. Later changes to `process.env` are not seen,
 * which is what a command that reads its environment once at start-up wants.
 */
export function rawEnv(): Map<string, Buffer> {
  let environ: Buffer
  try {
    environ = readFileSync('/proc/self/environ')
  } catch {
    /* c8 ignore next 2 */
    return envFromObject(process.env)
  }
  return parseEnviron(environ)
}

/** Parses the NUL-separated `NAME=value` list of `/proc/<pid>/environ`; the first `=` splits. */
export function parseEnviron(environ: Buffer): Map<string, Buffer> {
  const env = new Map<string, Buffer>()
  for (const entry of splitNul(environ)) {
    const eq = entry.indexOf(0x3d)
    if (eq < 0) continue
    const name = entry.subarray(0, eq).toString('latin1')
    // getenv() returns the first match, so a repeated name keeps its first value.
    if (!env.has(name)) env.set(name, entry.subarray(eq + 1))
  }
  return env
}

/** An environment map from a plain object (tests, and systems without `/proc`). */
export function envFromObject(obj: Record<string, string | Buffer | undefined>): Map<string, Buffer> {
  const env = new Map<string, Buffer>()
  for (const [k, v] of Object.entries(obj))
    if (v !== undefined) env.set(k, Buffer.isBuffer(v) ? v : Buffer.from(v))
  return env
}

function splitNul(buf: Buffer): Buffer[] {
  const parts: Buffer[] = []
  let start = 0
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      parts.push(buf.subarray(start, i))
      start = i + 1
    }
  }
  if (start < buf.length) parts.push(buf.subarray(start))
  return parts
}
