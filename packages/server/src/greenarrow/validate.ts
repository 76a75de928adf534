/**
 * The value rules GreenArrow documents for its headers. Each check returns null when the value
 * passes, else a one-line reason.
 */

/** Longest mail-class name the Engine's web interface takes (its v3 API page says 64). */
export const MAIL_CLASS_MAX_LENGTH = 20

/** Mail-class names: letters and underscores, no `__`, not the reserved `a`, at most 20 characters. */
export function mailClassProblem(name: string): string | null {
  if (name.length === 0) return 'empty mail class name'
  if (!/^[A-Za-z_]+$/.test(name))
    return `mail class ${JSON.stringify(name)} has characters other than letters and underscores`
  if (name.includes('__')) return `mail class ${JSON.stringify(name)} has two underscores in a row`
  if (name.toLowerCase() === 'a') return 'mail class "a" is reserved'
  if (name.length > MAIL_CLASS_MAX_LENGTH)
    return `mail class ${JSON.stringify(name)} is longer than ${MAIL_CLASS_MAX_LENGTH} characters`
  return null
}

/**
 * InstanceIDs: printable ASCII (0x20-0x7E), 1 to 300 bytes. (The legacy "per InstanceID"
 * grouping form, a digit then letters and digits, at most 27, is a subset.)
 */
export function instanceIdProblem(value: Buffer): string | null {
  if (value.length === 0) return 'empty InstanceID'
  if (value.length > 300) return `InstanceID of ${value.length} bytes (at most 300)`
  if (value.some(c => c < 0x20 || c > 0x7e)) return 'InstanceID has bytes outside printable ASCII'
  return null
}

/** ListIDs: 1 to 20 of `A-Z a-z 0-9 _ +`, not `a` and not `a` followed by digits. */
export function listIdProblem(value: string): string | null {
  if (!/^[A-Za-z0-9_+]{1,20}$/.test(value))
    return `ListID ${JSON.stringify(value)} is not 1-20 of A-Z a-z 0-9 _ +`
  if (/^a[0-9]*$/.test(value)) return `ListID ${JSON.stringify(value)} is reserved`
  return null
}

/** Largest X-GreenArrow-DKIM header field (name, value and line ends), exclusive. */
export const DKIM_HEADER_MAX_BYTES = 4096

/**
 * Parses one X-GreenArrow-DKIM header value: a JSON object, or an array of 1 to 10 objects, each
 * with a string `domain` (and, when present, a string `selector`).
 */
export function parseDkim(value: string, fieldBytes: number): { keys: object[] } | { problem: string } {
  if (fieldBytes >= DKIM_HEADER_MAX_BYTES)
    return { problem: `X-GreenArrow-DKIM header of ${fieldBytes} bytes (must be under 4 KB)` }
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (err) {
    return { problem: `X-GreenArrow-DKIM is not JSON: ${(err as Error).message}` }
  }
  const keys = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed]
  if (Array.isArray(parsed) && (keys.length < 1 || keys.length > 10))
    return { problem: `X-GreenArrow-DKIM array of ${keys.length} entries (1 to 10)` }
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || Array.isArray(key))
      return { problem: 'X-GreenArrow-DKIM entry is not an object' }
    const { domain, selector } = key as { domain?: unknown; selector?: unknown }
    if (typeof domain !== 'string' || domain.length === 0)
      return { problem: 'X-GreenArrow-DKIM entry without a domain' }
    if (selector !== undefined && typeof selector !== 'string')
      return { problem: 'X-GreenArrow-DKIM selector is not a string' }
  }
  return { keys: keys as object[] }
}
