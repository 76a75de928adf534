import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { CdbReader, CdbWriter } from '@qmqpkit/cdb'
import {
  errorText,
  exitCodeFor,
  processIo,
  rawArgv,
  rawEnv,
  writeOut,
  type CommandIo,
} from '@qmqpkit/classic'
import { expandCidrRules } from '../cidr.js'
import { forEachRecord } from '../compile.js'
import { decompileRules } from '../decompile.js'
import { RulesSyntaxError, RulesUsageError } from '../errors.js'
import { explainMatch, explanationJson, explanationText } from '../explain.js'
import { lintRules } from '../lint.js'
import type { Dialect } from '../parse.js'
import { readInput } from '../read-input.js'

const dialectOf = (o: { ipv6?: boolean }): Dialect => (o.ipv6 ? 'ipv6' : 'ipv4')
const ipv6Option = () =>
  new Option('--ipv6', "the ucspi-tcp-ipv6 dialect (IPv6 rules; prefixes also end at ':')")

/** A failure with its own exit code and message, raised inside an action. */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new Exit(111, `unable to read ${path}: ${errorText(err)}`)
  }
}

function openCdb(path: string): CdbReader {
  try {
    return CdbReader.open(path)
  } catch (err) {
    throw new Exit(111, `unable to read ${path}: ${errorText(err)}`)
  }
}

/**
 * `qmqpkit-rules`: what the original tools lack, kept out of the drop-ins so those stay exact.
 *
 * - `lint FILE` — every refused line, rules that never match, no catch-all deny, CRLF, mangled values. Exit 1 on findings.
 * - `explain CDB IP [HOST] [INFO]` — the keys tried in tcpserver's order and the one that matched (`--json`).
 * - `decompile CDB` — a rules file that compiles back to the same bytes.
 * - `compile CDB TMP [--cidr]` — tcprules, also taking `10.0.0.0/22` style addresses.
 *
 * Exit codes: 0 done, 1 lint findings, 100 usage or a bad rules line, 111 a file could not be read or written.
 */
export async function main(argv: Buffer[], _env: Map<string, Buffer>, io: CommandIo): Promise<number> {
  const out: string[] = []
  const print = (s: string | Buffer) => out.push(typeof s === 'string' ? s : s.toString('latin1'))
  let status = 0
  const program = new Command('qmqpkit-rules')
    .description('lint, explain, decompile and compile ucspi-tcp rules')
    .exitOverride()
    .configureOutput({ writeOut: s => print(s), writeErr: s => void io.stderr.write(s) })

  program
    .command('lint')
    .argument('<file>', 'rules text')
    .addOption(ipv6Option())
    .option('--json', 'findings as JSON')
    .description('report refused lines, rules that never match and other surprises')
    .action((file: string, o: { ipv6?: boolean; json?: boolean }) => {
      const findings = lintRules(readFile(file), { dialect: dialectOf(o) })
      if (o.json) print(`${JSON.stringify(findings, null, 2)}\n`)
      else for (const f of findings) print(`${file}:${f.line}: ${f.severity}: ${f.message} [${f.code}]\n`)
      status = findings.length > 0 ? 1 : 0
    })

  program
    .command('explain')
    .argument('<cdb>', 'rules database')
    .argument('<ip>', 'remote address')
    .argument('[host]', 'remote host name')
    .argument('[info]', 'remote ident information')
    .addOption(ipv6Option())
    .option('--json', 'the explanation as JSON')
    .option(
      '--as-given',
      'look the address up as written (as tcprulescheck), not as tcpserver would write it',
    )
    .description('show which keys are tried and which rule decides')
    .action(
      (
        cdb: string,
        ip: string,
        host: string | undefined,
        info: string | undefined,
        o: { ipv6?: boolean; json?: boolean; asGiven?: boolean },
      ) => {
        const db = openCdb(cdb)
        try {
          const e = explainMatch(db, { ip, host, info }, { dialect: dialectOf(o), normalizeIp: !o.asGiven })
          print(o.json ? `${JSON.stringify(explanationJson(e), null, 2)}\n` : explanationText(e))
        } finally {
          db.close()
        }
      },
    )

  program
    .command('decompile')
    .argument('<cdb>', 'rules database')
    .addOption(ipv6Option())
    .description('write a rules file that compiles back to the same database')
    .action((cdb: string, o: { ipv6?: boolean }) => {
      const db = openCdb(cdb)
      try {
        print(decompileRules(db.entries(), dialectOf(o)))
      } finally {
        db.close()
      }
    })

  program
    .command('compile')
    .argument('<cdb>', 'rules database, replaced by a rename')
    .argument('<tmp>', 'temporary file on the same filesystem')
    .option('--cidr', 'accept IPv4 CIDR blocks (10.0.0.0/22) as addresses')
    .addOption(ipv6Option())
    .description('tcprules: compile rules from standard input')
    .action(async (cdb: string, tmp: string, o: { cidr?: boolean; ipv6?: boolean }) => {
      let text: Buffer
      try {
        text = await readInput(io.stdin)
      } catch (err) {
        throw new Exit(111, `unable to read input: ${errorText(err)}`)
      }
      if (o.cidr) text = expandCidrRules(text)
      let writer: CdbWriter
      try {
        writer = CdbWriter.create(cdb, { tmpPath: tmp })
      } catch (err) {
        throw new Exit(111, `unable to create ${tmp}: ${errorText(err)}`)
      }
      try {
        forEachRecord(text, { dialect: dialectOf(o) }, (k, v) => writer.add(k, v))
      } catch (err) {
        writer.abort()
        if (err instanceof RulesSyntaxError)
          throw new Exit(100, `line ${err.line}: unable to parse this line: ${err.text.toString('latin1')}`)
        throw err
      }
      try {
        await writer.finish()
      } catch (err) {
        throw new Exit(111, `unable to write ${cdb}: ${errorText(err)}`)
      }
    })

  try {
    await program.parseAsync(
      argv.map(a => a.toString()),
      { from: 'user' },
    )
  } catch (err) {
    await writeOut(io.stdout, out.join(''))
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 100
    if (err instanceof Exit) {
      await writeOut(io.stderr, `qmqpkit-rules: fatal: ${err.message}\n`)
      return err.code
    }
    await writeOut(io.stderr, `qmqpkit-rules: fatal: ${err instanceof Error ? err.message : String(err)}\n`)
    return err instanceof RulesUsageError ? 100 : exitCodeFor(err)
  }
  await writeOut(io.stdout, out.join(''))
  return status
}

/** Entry point of the bin shim. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), rawEnv(), processIo())
}
