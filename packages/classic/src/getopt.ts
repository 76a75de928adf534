/**
 * djb's getopt (sgetopt/subgetopt, as in qmail and ucspi-tcp), over raw byte arguments.
 *
 * - Letters may be bundled (`-aH`); an option that takes a value takes the rest of the word or
 *   the next word (`-fx`, `-f x`, `-f ''`).
 * - Parsing stops at the first word that does not start with `-`, at `--` (consumed) or at a
 *   lone `-` (kept as an operand).
 * - A problem (unknown letter, missing value) is reported as `prog: illegal option -- x` or
 *   `prog: option requires an argument -- x`, where prog is the base name of argv[0].
 */
export interface GetoptResult {
  /** Options in order: the letter and, for options that take one, its value. */
  options: { option: string; value?: Buffer }[]
  /** Words after the options. */
  operands: Buffer[]
  /** Set when parsing stopped at a problem: the diagnostic line (with LF) to print on stderr. */
  problem?: { option: string; kind: 'illegal' | 'missing-argument'; message: string }
}

/** The base name of argv[0], as djb's programs derive their name for diagnostics. */
export function programName(argv0: Buffer | string): string {
  const s = Buffer.isBuffer(argv0) ? argv0.toString('latin1') : argv0
  const slash = s.lastIndexOf('/')
  return slash >= 0 ? s.slice(slash + 1) : s
}

/**
 * Parses `args` (without argv[0]) against a getopt option string such as `"aAhHnNf:"`.
 * Stops at the first problem, as every djb program treats a `?` from getopt as fatal.
 */
export function getopt(args: Buffer[], optstring: string, name: string): GetoptResult {
  const takesValue = new Map<number, boolean>()
  for (let i = 0; i < optstring.length; i++) {
    const c = optstring.charCodeAt(i)
    if (c === 0x3a) continue
    takesValue.set(c, optstring.charCodeAt(i + 1) === 0x3a)
  }
  const options: GetoptResult['options'] = []
  let i = 0
  while (i < args.length) {
    const word = args[i]!
    if (word.length < 2 || word[0] !== 0x2d) break // an operand, or a lone "-"
    if (word.length === 2 && word[1] === 0x2d) {
      i++ // "--" ends the options and is consumed
      break
    }
    let pos = 1
    i++
    while (pos < word.length) {
      const c = word[pos++]!
      const letter = String.fromCharCode(c)
      const value = takesValue.get(c)
      if (value === undefined) return fail(options, args.slice(i), letter, 'illegal', name)
      if (!value) {
        options.push({ option: letter })
        continue
      }
      if (pos < word.length) {
        options.push({ option: letter, value: word.subarray(pos) })
      } else if (i < args.length) {
        options.push({ option: letter, value: args[i++]! })
      } else {
        return fail(options, [], letter, 'missing-argument', name)
      }
      break
    }
  }
  return { options, operands: args.slice(i) }
}

function fail(
  options: GetoptResult['options'],
  operands: Buffer[],
  option: string,
  kind: 'illegal' | 'missing-argument',
  name: string,
): GetoptResult {
  const what = kind === 'illegal' ? 'illegal option' : 'option requires an argument'
  return { options, operands, problem: { option, kind, message: `${name}: ${what} -- ${option}\n` } }
}
