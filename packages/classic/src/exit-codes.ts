/**
 * The exit classes of qmail and ucspi-tcp: 0 done, 100 permanent (usage, syntax, refusal),
 * 111 temporary (I/O, resources, anything unknown). An error whose `temporary` is exactly
 * `false` is permanent; every other error, a bug included, is temporary, so that it never
 * looks like a final refusal.
 */
export const exitCodeFor = (err: unknown): 100 | 111 =>
  (err as { temporary?: unknown } | undefined | null)?.temporary === false ? 100 : 111
