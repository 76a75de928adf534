/** The Date and Message-ID fields qmail-inject adds (newfield.c, date822fmt.c). */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number) => String(n).padStart(2, '0')

/** The start time as qmail keeps it: whole seconds since the epoch. */
export const startSeconds = (now: Date): number => Math.floor(now.getTime() / 1000)

/** `Date: 4 Dec 2026 15:52:36 -0000` + LF: UTC, day without leading zero, no weekday. */
export function dateField(seconds: number): Buffer {
  const d = new Date(seconds * 1000)
  const text =
    `Date: ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} -0000\n`
  return Buffer.from(text)
}

/** `Message-ID: <YYYYMMDDHHMMSS.PID.qmail@IDHOST>` + LF, in UTC; idhost used as is. */
export function messageIdField(seconds: number, pid: number, idhost: Buffer): Buffer {
  const d = new Date(seconds * 1000)
  const stamp =
    `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}` +
    `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`
  return Buffer.concat([Buffer.from(`Message-ID: <${stamp}.${pid}.qmail@`), idhost, Buffer.from('>\n')])
}
