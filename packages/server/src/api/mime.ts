import { parseHeaders } from '../query.js'

/** One leaf of a MIME message, decoded to text where it is text. */
export interface MimePart {
  /** Path in the tree: `1`, `1.2`, … (`1` for a message that is not multipart). */
  path: string
  contentType: string
  charset: string | null
  filename: string | null
  size: number
  /** Decoded text of text/* parts; null for other types. */
  text: string | null
}

/** Reads `name` from a header value's parameters (`; charset="utf-8"`). */
export function headerParam(value: string, name: string): string | null {
  const re = new RegExp(`;\\s*${name}\\*?=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i')
  const m = re.exec(value)
  return m ? (m[1] ?? m[2] ?? null) : null
}

function splitHead(buf: Buffer): { head: Buffer; body: Buffer } {
  const lf = buf.indexOf('\n\n')
  const crlf = buf.indexOf('\r\n\r\n')
  if (lf < 0 && crlf < 0) return { head: buf, body: Buffer.alloc(0) }
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: buf.subarray(0, crlf), body: buf.subarray(crlf + 4) }
  return { head: buf.subarray(0, lf), body: buf.subarray(lf + 2) }
}

function decodeTransfer(body: Buffer, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64')
    case 'quoted-printable': {
      const text = body
        .toString('latin1')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
      return Buffer.from(text, 'latin1')
    }
    default:
      return body
  }
}

function decodeText(bytes: Buffer, charset: string | null): string {
  try {
    return new TextDecoder((charset ?? 'utf-8').toLowerCase()).decode(bytes)
  } catch {
    return bytes.toString('utf8')
  }
}

/**
 * The leaves of a MIME message, depth first, at most `maxParts`. Enough for a viewer: it splits
 * multipart bodies on their boundary and undoes base64 and quoted-printable; it is no validator.
 */
export function mimeParts(message: Buffer, maxParts = 100): MimePart[] {
  const out: MimePart[] = []
  const walk = (entity: Buffer, path: string, depth: number) => {
    if (out.length >= maxParts) return
    const { head, body } = splitHead(entity)
    const headers = parseHeaders(Buffer.concat([head, Buffer.from('\n')]))
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1] ?? ''
    const ctype = get('content-type') || 'text/plain'
    const type = ctype.split(';')[0]!.trim().toLowerCase()
    const boundary = headerParam(ctype, 'boundary')
    if (type.startsWith('multipart/') && boundary && depth < 10) {
      const text = body.toString('latin1')
      const sep = `--${boundary}`
      const pieces = text.split(new RegExp(`(?:^|\\r?\\n)${sep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
      let n = 0
      for (const piece of pieces.slice(1)) {
        if (piece.startsWith('--')) break
        n++
        walk(
          Buffer.from(piece.replace(/^[ \t]*\r?\n/, ''), 'latin1'),
          path ? `${path}.${n}` : String(n),
          depth + 1,
        )
      }
      return
    }
    const decoded = decodeTransfer(body, get('content-transfer-encoding').trim())
    const charset = headerParam(ctype, 'charset')
    const disposition = get('content-disposition')
    out.push({
      path: path || '1',
      contentType: type,
      charset,
      filename: headerParam(disposition, 'filename') ?? headerParam(ctype, 'name'),
      size: decoded.length,
      text: type.startsWith('text/') ? decodeText(decoded, charset) : null,
    })
  }
  walk(message, '', 0)
  return out
}
