/**
 * djb's cdb hash, "times 33, xor": h = 5381; h = ((h << 5) + h) ^ byte, modulo 2^32.
 * Bytes are unsigned (0xFF is 255, never sign-extended).
 */
export function cdbHash(key: Uint8Array, start = 0, end = key.length): number {
  let h = 5381
  for (let i = start; i < end; i++) h = (Math.imul(h, 33) ^ key[i]!) >>> 0
  return h
}

/** Continues a hash over another piece of the key (for keys that arrive in pieces). */
export function cdbHashUpdate(h: number, piece: Uint8Array): number {
  for (let i = 0; i < piece.length; i++) h = (Math.imul(h, 33) ^ piece[i]!) >>> 0
  return h
}

export const CDB_HASH_START = 5381
