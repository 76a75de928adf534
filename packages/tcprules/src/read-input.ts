import { fstatSync, readSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { readAll } from '@qmqpkit/classic'

const CHUNK_BYTES = 1 << 20

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Reads a file descriptor to its end into one Buffer, sized from fstat for regular files and
 * grown by doubling otherwise. Throws the read's error (EISDIR for a directory on stdin).
 */
export function readFdToEnd(fd: number): Buffer {
  const st = fstatSync(fd)
  let buf = Buffer.allocUnsafe(st.isFile() && st.size > 0 ? st.size + 1 : CHUNK_BYTES)
  let used = 0
  for (;;) {
    if (used === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2)
      buf.copy(bigger, 0, 0, used)
      buf = bigger
    }
    let n: number
    try {
      n = readSync(fd, buf, used, buf.length - used, null)
    } catch (err) {
      // A descriptor some other part of the process made non-blocking: wait a little, retry.
      if ((err as { code?: string }).code === 'EAGAIN') {
        sleep(2)
        continue
      }
      throw err
    }
    if (n === 0) return buf.subarray(0, used)
    used += n
  }
}

/** The whole of a command's standard input: fd 0 directly for the process's own stdin. */
export async function readInput(stdin: Readable): Promise<Buffer> {
  if (stdin === process.stdin) return readFdToEnd(0)
  return readAll(stdin)
}
