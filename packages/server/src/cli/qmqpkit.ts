import { Command, CommanderError, Option } from 'commander'
import { QUERY_PARAMS } from '../query.js'

/** Where `main` reads and writes; tests pass their own. */
export interface QmqpkitIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  env: Record<string, string | undefined>
}

/** The API address when neither --api nor QMQPKIT_API is given. */
export const defaultApiUrl = 'http://127.0.0.1:8628'

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

interface Summary {
  cursor: string
  id: string
  namespace: string | null
  outcome: string
  sender: string
  recipients: string[]
  subject: string | null
  faults: string[]
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/** Adds the shared query flags (--to, --from, …, --header repeatable). */
function withQuery(cmd: Command): Command {
  for (const name of QUERY_PARAMS) {
    const option = new Option(`--${name} <value>`, `query: ${name}`)
    if (name === 'header') option.argParser(collect)
    cmd.addOption(option)
  }
  return cmd.argument('[terms...]', 'query terms as name=value (to=bob@example.com subject=Welcome)')
}

/** The query as URL parameters, from the flags and the name=value terms. */
function queryParams(opts: Record<string, unknown>, terms: string[]): URLSearchParams {
  const params = new URLSearchParams()
  for (const name of QUERY_PARAMS) {
    const v = opts[name]
    if (Array.isArray(v)) for (const x of v) params.append(name, String(x))
    else if (typeof v === 'string') params.set(name, v)
  }
  for (const term of terms) {
    const eq = term.indexOf('=')
    const name = term.slice(0, eq)
    if (eq <= 0 || !(QUERY_PARAMS as readonly string[]).includes(name))
      throw new CliError(
        `bad query term ${JSON.stringify(term)}: expected NAME=value, NAME one of ${QUERY_PARAMS.join(', ')}`,
        100,
      )
    if (name === 'header') params.append(name, term.slice(eq + 1))
    else params.set(name, term.slice(eq + 1))
  }
  return params
}

const line = (m: Summary) =>
  `${m.id}\t${m.outcome}\t${m.namespace ?? '-'}\t${m.sender || '<>'} -> ${m.recipients.join(',')}\t${m.subject ?? ''}${
    m.faults.length ? `\t[${m.faults.join(' ')}]` : ''
  }\n`

/**
 * qmqpkit: the inspection API from the shell. Exit 0 on success, 1 when a wait timed out, 100
 * for a usage error or a request the API refused, 111 when the API cannot be reached.
 */
export async function main(argv: string[], io: QmqpkitIo): Promise<number> {
  const program = new Command('qmqpkit')
    .description("qmqpd's inspection API from the shell: list, wait for, reset messages; add fault rules")
    .version('0.1.0')
    .option('--api <url>', `the API address (env QMQPKIT_API; default ${defaultApiUrl})`)
    .option('--token <token>', 'bearer token (env QMQPKIT_TOKEN)')
    .exitOverride()
    .configureOutput({ writeOut: s => io.stdout.write(s), writeErr: s => io.stderr.write(s) })

  const api = () => {
    const o = program.opts<{ api?: string; token?: string }>()
    return {
      base: (o.api ?? io.env['QMQPKIT_API'] ?? defaultApiUrl).replace(/\/+$/, ''),
      token: o.token ?? io.env['QMQPKIT_TOKEN'] ?? null,
    }
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const { base, token } = api()
    const headers: Record<string, string> = {}
    if (token) headers['authorization'] = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message
      throw new CliError(`unable to reach ${base}: ${cause ?? (err as Error).message}`, 111)
    }
    const text = await res.text()
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    return { status: res.status, json }
  }
  const failIf = (r: { status: number; json: Record<string, unknown> }) => {
    if (r.status < 400) return
    const e = r.json['error'] as { code?: string; message?: string } | undefined
    throw new CliError(
      `${e?.code ?? r.status}: ${e?.message ?? 'request failed'}`,
      r.status >= 500 ? 111 : 100,
    )
  }
  const print = (messages: Summary[], json: boolean, extra: Record<string, unknown> = {}) => {
    if (json) io.stdout.write(`${JSON.stringify({ messages, ...extra }, null, 2)}\n`)
    else for (const m of messages) io.stdout.write(line(m))
  }

  withQuery(program.command('messages').description('list messages matching a query'))
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON')
    .action(async (terms: string[], opts: Record<string, unknown>) => {
      const params = queryParams(opts, terms)
      params.set('limit', String(opts['limit']))
      const r = await call('GET', `/api/v1/messages?${params}`)
      failIf(r)
      print(r.json['messages'] as Summary[], opts['json'] === true, { cursor: r.json['cursor'] })
    })

  withQuery(program.command('wait').description('wait for messages matching a query; exit 1 at the timeout'))
    .option('--count <n>', 'how many messages', '1')
    .option('--after <cursor>', 'only messages after this cursor')
    .option('--timeout <duration>', 'seconds, or 500ms, 10s, 1m', '30s')
    .option('--json', 'print JSON')
    .action(async (terms: string[], opts: Record<string, unknown>) => {
      const params = queryParams(opts, terms)
      params.set('count', String(opts['count']))
      params.set('timeout', String(opts['timeout']))
      if (typeof opts['after'] === 'string') params.set('after', opts['after'])
      const r = await call('GET', `/api/v1/wait?${params}`)
      if (r.status === 408) {
        print(r.json['messages'] as Summary[], opts['json'] === true, { cursor: r.json['cursor'] })
        const e = r.json['error'] as { message?: string }
        throw new CliError(`timed out: ${e.message}`, 1)
      }
      failIf(r)
      print(r.json['messages'] as Summary[], opts['json'] === true, { cursor: r.json['cursor'] })
    })

  program
    .command('reset')
    .description("remove all messages (or one namespace's) and fault rules; prints the fresh cursor")
    .option('--namespace <name>', 'only this namespace')
    .action(async (opts: { namespace?: string }) => {
      const q = opts.namespace === undefined ? '' : `?namespace=${encodeURIComponent(opts.namespace)}`
      const r = await call('POST', `/api/v1/reset${q}`)
      failIf(r)
      io.stdout.write(`${r.json['cursor']}\n`)
    })

  const faults = program.command('faults').description('fault rules: add, list, rm')
  withQuery(faults.command('add').description('add a fault rule matching a query; prints its id'))
    .option('--reply <letter>', 'answer Z or D instead of delivering')
    .option('--text <text>', 'the reply text')
    .option('--delay <ms>', 'wait this many milliseconds before the reply')
    .option('--drop <when>', 'before-reply (not stored) or after-store (stored, no reply)')
    .option('--garble [mode]', 'store, then a broken reply: truncate (default) or length')
    .option('--slow-read <bps>', 'read the request at most this many bytes per second')
    .option('--count <n>', 'only for the next N matches')
    .option('--probability <p>', 'apply with this probability (needs --seed)')
    .option('--seed <n>', 'seed for --probability')
    .action(async (terms: string[], opts: Record<string, string | boolean | string[] | undefined>) => {
      const match: Record<string, string | string[]> = {}
      for (const [k, v] of queryParams(opts, terms)) {
        const prev = match[k]
        match[k] = prev === undefined ? v : [prev].flat().concat(v)
      }
      const num = (name: string, v: unknown) => {
        if (v === undefined) return undefined
        const n = Number(v)
        if (!Number.isFinite(n)) throw new CliError(`--${name} must be a number`, 100)
        return n
      }
      const action: Record<string, unknown> = {}
      if (opts['reply'] !== undefined) action['reply'] = String(opts['reply']).toUpperCase()
      if (opts['text'] !== undefined) action['text'] = opts['text']
      if (opts['delay'] !== undefined) action['delayMs'] = num('delay', opts['delay'])
      if (opts['drop'] !== undefined) action['drop'] = opts['drop']
      if (opts['garble'] !== undefined) action['garble'] = opts['garble'] === true ? true : opts['garble']
      if (opts['slowRead'] !== undefined) action['slowReadBps'] = num('slow-read', opts['slowRead'])
      const rule: Record<string, unknown> = { match, action }
      if (opts['count'] !== undefined) rule['count'] = num('count', opts['count'])
      if (opts['probability'] !== undefined) rule['probability'] = num('probability', opts['probability'])
      if (opts['seed'] !== undefined) rule['seed'] = num('seed', opts['seed'])
      const r = await call('POST', '/api/v1/faults', rule)
      failIf(r)
      io.stdout.write(`${r.json['id']}\n`)
    })
  faults
    .command('list')
    .description('the fault rules in force, as JSON')
    .option('--namespace <name>', 'only this namespace')
    .action(async (opts: { namespace?: string }) => {
      const q = opts.namespace === undefined ? '' : `?namespace=${encodeURIComponent(opts.namespace)}`
      const r = await call('GET', `/api/v1/faults${q}`)
      failIf(r)
      io.stdout.write(`${JSON.stringify(r.json['faults'], null, 2)}\n`)
    })
  faults
    .command('rm')
    .description('remove a fault rule')
    .argument('<id>', 'the rule id (from faults add or faults list)')
    .action(async (id: string) => {
      failIf(await call('DELETE', `/api/v1/faults/${encodeURIComponent(id)}`))
    })

  for (const cmd of [program, ...program.commands, ...faults.commands]) cmd.exitOverride()
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 100
    const code = err instanceof CliError ? err.exitCode : 111
    io.stderr.write(
      `qmqpkit: ${code === 1 ? '' : 'fatal: '}${err instanceof Error ? err.message : String(err)}\n`,
    )
    return code
  }
}

/** The `qmqpkit` command. */
export async function run(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  })
}
