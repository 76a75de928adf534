/** The three answers of QMQP: K accepted (queued), Z temporary failure, D permanent failure. */
export type VerdictCode = 'K' | 'Z' | 'D'

/** The only answer vocabulary, used by the server core, backends, fault rules and the client. */
export interface Verdict {
  code: VerdictCode
  /** Human-readable text after the code letter, without the letter. */
  text: string
}

/** Builds a Verdict from wire-style text whose first character is the code (`'Dsorry, ...'`). */
export function verdictFromText(line: string): Verdict {
  const code = line[0]
  if (code !== 'K' && code !== 'Z' && code !== 'D')
    throw new TypeError(`verdict text must start with K, Z or D: ${line}`)
  return { code, text: line.slice(1) }
}

/** True for a value shaped like a Verdict. */
export function isVerdict(v: unknown): v is Verdict {
  const o = v as { code?: unknown; text?: unknown } | null
  return (
    typeof o === 'object' &&
    o !== null &&
    (o.code === 'K' || o.code === 'Z' || o.code === 'D') &&
    typeof o.text === 'string'
  )
}
