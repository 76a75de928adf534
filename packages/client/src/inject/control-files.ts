/**
 * The control values qmail-inject reads from `HOME/control` (me, defaulthost, defaultdomain,
 * plusdomain, idhost), the defaults it derives from `me`, the environment overrides, and the
 * QMAILMFTFILE list.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { InjectReadError } from './errors.js'

/** Raw control values; `undefined` means the file does not exist. */
export interface InjectControlValues {
  me?: Buffer | undefined
  defaulthost?: Buffer | undefined
  defaultdomain?: Buffer | undefined
  plusdomain?: Buffer | undefined
  idhost?: Buffer | undefined
}

/** The values rewriting and the Message-ID use, after defaults and overrides. */
export interface ResolvedControl {
  defaulthost: Buffer
  defaultdomain: Buffer
  plusdomain: Buffer
  idhost: Buffer
}

/**
 * A control file's value: its first line with trailing LF, spaces and tabs removed (not CR, not
 * leading blanks). Idempotent, so a value already cut by the caller passes unchanged.
 */
export function controlLine(content: Buffer): Buffer {
  const nl = content.indexOf(0x0a)
  let end = nl < 0 ? content.length : nl
  while (end > 0) {
    const c = content[end - 1]
    if (c !== 0x0a && c !== 0x20 && c !== 0x09) break
    end--
  }
  return content.subarray(0, end)
}

// The reads are synchronous: a command reads a few small files once, and a synchronous read
// spares the start of libuv's thread pool (qmail-inject runs once per message).

/** Reads one control file: its value, `undefined` when missing, InjectReadError for anything else. */
export async function readControlFile(file: string): Promise<Buffer | undefined> {
  try {
    return controlLine(readFileSync(file))
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw new InjectReadError(err)
  }
}

/** Reads `home/control/{me,defaultdomain,defaulthost,plusdomain,idhost}` in qmail-inject's order. */
export async function readInjectControl(home: string): Promise<InjectControlValues> {
  const dir = path.join(home, 'control')
  const me = await readControlFile(path.join(dir, 'me'))
  const defaultdomain = await readControlFile(path.join(dir, 'defaultdomain'))
  const defaulthost = await readControlFile(path.join(dir, 'defaulthost'))
  const plusdomain = await readControlFile(path.join(dir, 'plusdomain'))
  const idhost = await readControlFile(path.join(dir, 'idhost'))
  return { me, defaultdomain, defaulthost, plusdomain, idhost }
}

/**
 * A missing file falls back to `me`, and without `me` to the literal word (`defaulthost`, ...);
 * `QMAILDEFAULTHOST`, `QMAILDEFAULTDOMAIN`, `QMAILPLUSDOMAIN`, `QMAILIDHOST` win even when empty.
 */
export function resolveControl(control: InjectControlValues, env: Map<string, Buffer>): ResolvedControl {
  const me = control.me === undefined ? undefined : controlLine(control.me)
  const pick = (name: keyof ResolvedControl, envName: string): Buffer => {
    const fromEnv = env.get(envName)
    if (fromEnv !== undefined) return fromEnv
    const raw = control[name]
    if (raw !== undefined) return controlLine(raw)
    return me ?? Buffer.from(name)
  }
  return {
    defaultdomain: pick('defaultdomain', 'QMAILDEFAULTDOMAIN'),
    defaulthost: pick('defaulthost', 'QMAILDEFAULTHOST'),
    plusdomain: pick('plusdomain', 'QMAILPLUSDOMAIN'),
    idhost: pick('idhost', 'QMAILIDHOST'),
  }
}

/**
 * The QMAILMFTFILE list: one address a line, trailing blanks removed, empty and `#` lines skipped.
 * `null` when the file does not exist (the feature is off); InjectReadError when unreadable.
 * A relative name is relative to the current directory (qmail reads it before changing into its home).
 */
export async function readMftFile(file: Buffer | string): Promise<Buffer[] | null> {
  let content: Buffer
  try {
    content = readFileSync(file)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null
    throw new InjectReadError(err)
  }
  return parseMftList(content)
}

/** Parses the text of a QMAILMFTFILE file. */
export function parseMftList(content: Buffer): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  while (pos < content.length) {
    const nl = content.indexOf(0x0a, pos)
    const line = content.subarray(pos, nl < 0 ? content.length : nl)
    pos = nl < 0 ? content.length : nl + 1
    let end = line.length
    while (end > 0 && (line[end - 1] === 0x20 || line[end - 1] === 0x09 || line[end - 1] === 0x0a)) end--
    if (end && line[0] !== 0x23) out.push(line.subarray(0, end))
  }
  return out
}
