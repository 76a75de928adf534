import { ClientUsageError } from './errors.js'

/**
 * The qmail-queue envelope: `F` sender NUL, then `T` recipient NUL for each recipient, then
 * one more NUL. Anything else is ClientUsageError (qmail-qmqpc's exit 91).
 */
export function parseQueueEnvelope(data: Buffer): { sender: Buffer; recipients: Buffer[] } {
  let pos = 0
  const field = (letter: number): Buffer | undefined => {
    if (data[pos] !== letter) return undefined
    const nul = data.indexOf(0, pos)
    if (nul < 0) throw new ClientUsageError('envelope record without NUL')
    const value = data.subarray(pos + 1, nul)
    pos = nul + 1
    return value
  }
  const sender = field(0x46)
  if (sender === undefined) throw new ClientUsageError('envelope does not start with F')
  const recipients: Buffer[] = []
  for (let rcpt = field(0x54); rcpt !== undefined; rcpt = field(0x54)) recipients.push(rcpt)
  if (pos >= data.length || data[pos] !== 0) throw new ClientUsageError('envelope without its final NUL')
  return { sender, recipients }
}

/** Builds the qmail-queue envelope of a sender and recipients. */
export function encodeQueueEnvelope(sender: Buffer | string, recipients: Array<Buffer | string>): Buffer {
  const parts: Buffer[] = [Buffer.from('F'), Buffer.from(sender), Buffer.alloc(1)]
  for (const r of recipients) parts.push(Buffer.from('T'), Buffer.from(r), Buffer.alloc(1))
  parts.push(Buffer.alloc(1))
  return Buffer.concat(parts)
}
