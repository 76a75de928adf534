/** qmail-inject's command line: `-a -A -h -H -n -N -f SENDER`, with djb's getopt. */
import { getopt } from '@qmqpkit/classic'

/**
 * Where envelope recipients come from: `A` (default) the arguments if any, else the header;
 * `a` the arguments only; `h` the header only (arguments ignored unparsed); `H` both.
 */
export type RecipientMode = 'A' | 'a' | 'h' | 'H'

export interface InjectFlags {
  /** Last of -a/-A/-h/-H. */
  recipients: RecipientMode
  /** -n (print instead of queueing); the last of -n/-N wins. */
  print: boolean
  /** Every -f value in order; each is parsed (a bad one is fatal), the last one is the sender. */
  senders: Buffer[]
}

export interface InjectArgs {
  flags: InjectFlags
  /** The words after the options: recipients. */
  operands: Buffer[]
  /** The getopt diagnostic (`NAME: illegal option -- x` + LF) when parsing stopped at a bad option. */
  problem?: string
}

/** The option string of qmail-inject.c; anything else (`-F`, `-t`, `-i`, ...) is an illegal option. */
export const INJECT_OPTSTRING = 'aAhHnNf:'

/** Parses qmail-inject's arguments (without argv[0]); `name` is the program name for diagnostics. */
export function parseInjectArgs(args: Buffer[], name: string): InjectArgs {
  const r = getopt(args, INJECT_OPTSTRING, name)
  const flags: InjectFlags = { recipients: 'A', print: false, senders: [] }
  for (const { option, value } of r.options) {
    switch (option) {
      case 'a':
      case 'A':
      case 'h':
      case 'H':
        flags.recipients = option
        break
      case 'n':
        flags.print = true
        break
      case 'N':
        flags.print = false
        break
      case 'f':
        flags.senders.push(value!)
        break
    }
  }
  const out: InjectArgs = { flags, operands: r.operands }
  if (r.problem) out.problem = r.problem.message
  return out
}
