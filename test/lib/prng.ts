/**
 * Seeded pseudo-random numbers for generated test inputs. The default seed is fixed so CI
 * repeats; TEST_SEED replaces it for exploring. Failures should name the seed.
 */
export function testSeed(fallback = 20261204): number {
  const env = process.env.TEST_SEED
  return env !== undefined && env !== '' ? Number(env) >>> 0 : fallback
}

/** mulberry32: small, fast, good enough for test data. A function giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The same generator with helpers (integers, picks, byte strings). */
export class Prng {
  readonly next: () => number
  constructor(readonly seed: number) {
    this.next = mulberry32(seed)
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  /** true with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  /** n random bytes from the given alphabet (default: every byte value). */
  bytes(n: number, alphabet?: Buffer): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = alphabet ? alphabet[this.int(alphabet.length)]! : this.int(256)
    return b
  }
}
