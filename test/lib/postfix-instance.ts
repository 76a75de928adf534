import { execFile, spawnSync } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A message sitting in the private instance's queue. */
export interface QueuedMessage {
  queueId: string
  /** Which queue it is in: always `hold` for this instance, so nothing is ever delivered. */
  queueName: string
  sender: string
  recipients: string[]
  /** Headers and body as `postcat -bh` prints them (Postfix's own Received line first). */
  content: string
}

export interface PostfixInstance {
  port: number
  configDir: string
  queueDir: string
  dataDir: string
  /** Everything in the queue, parsed. */
  queuedMessages(): Promise<QueuedMessage[]>
  /** The instance's own log (maillog_file). */
  log(): Promise<string>
  /** Stops master and its children and removes every directory of the instance. */
  stop(): Promise<void>
}

export interface PostfixStartOptions {
  /** qmqpd_authorized_clients; default loopback (127.0.0.0/8). An empty list refuses everyone. */
  authorizedClients?: string[]
  /** qmqpd_error_delay; default 0s so tests stay fast (Postfix's own default is 1s). */
  errorDelay?: string
  /** More main.cf settings. */
  mainCf?: Record<string, string>
}

/** Why a private Postfix cannot run here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'a private Postfix instance needs root'
  if (!existsSync('/usr/sbin/postfix') || !existsSync('/usr/lib/postfix/sbin/qmqpd'))
    return 'install Debian postfix'
  if (spawnSync('getent', ['passwd', 'postfix']).status !== 0) return 'no postfix user'
  return undefined
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  s.close()
  await once(s, 'close')
  return port
}

async function waitFor(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`postfix instance: timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

const canConnect = (port: number) =>
  new Promise<boolean>(resolve => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })

/**
 * Starts a private Postfix (own config_directory, queue_directory, data_directory) whose only
 * network service is qmqpd on a loopback port. Every message is put on hold by a header check,
 * and no queue manager runs, so nothing ever leaves the queue.
 */
export async function start(opts: PostfixStartOptions = {}): Promise<PostfixInstance> {
  const why = postfixUnavailable()
  if (why) throw new Error(why)
  const base = await mkdtemp(join(tmpdir(), 'qmqp-postfix-'))
  await chmod(base, 0o755)
  const configDir = join(base, 'conf')
  const queueDir = join(base, 'queue')
  const dataDir = join(base, 'data')
  for (const d of [configDir, queueDir, dataDir]) await mkdir(d)
  const uid = Number(spawnSync('id', ['-u', 'postfix']).stdout.toString().trim())
  await chown(dataDir, uid, 0)
  const port = await freePort()
  const main: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: queueDir,
    data_directory: dataDir,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: 'qmqp.example.test',
    mydomain: 'example.test',
    myorigin: 'example.test',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mydestination: '',
    relayhost: '',
    mynetworks: '127.0.0.0/8',
    qmqpd_authorized_clients: (opts.authorizedClients ?? ['127.0.0.0/8']).join(' '),
    qmqpd_error_delay: opts.errorDelay ?? '0s',
    header_checks: `regexp:${configDir}/hold`,
    local_header_rewrite_clients: '',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    maillog_file_prefixes: base,
    maillog_file: join(dataDir, 'maillog'),
    smtputf8_enable: 'no',
    ...opts.mainCf,
  }
  await writeFile(
    join(configDir, 'main.cf'),
    Object.entries(main)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join(''),
  )
  await writeFile(join(configDir, 'hold'), '/^/ HOLD kept by the test instance\n')
  await writeFile(
    join(configDir, 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - qmqpd`,
      'cleanup unix n - n - 0 cleanup',
      'rewrite unix - - n - - trivial-rewrite',
      'bounce unix - - n - 0 bounce',
      'defer unix - - n - 0 bounce',
      'trace unix - - n - 0 bounce',
      'showq unix n - n - - showq',
      'proxymap unix - - n - - proxymap',
      'postlog unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  )
  const pidFile = join(queueDir, 'pid', 'master.pid')
  const instance: PostfixInstance = {
    port,
    configDir,
    queueDir,
    dataDir,
    async queuedMessages() {
      const { stdout } = await run('postqueue', ['-c', configDir, '-j'])
      const out: QueuedMessage[] = []
      for (const line of stdout.split('\n').filter(Boolean)) {
        const j = JSON.parse(line) as {
          queue_name: string
          queue_id: string
          sender: string
          recipients: Array<{ address: string }>
        }
        const { stdout: content } = await run('postcat', ['-c', configDir, '-bh', '-q', j.queue_id], {
          maxBuffer: 1 << 28,
        })
        out.push({
          queueId: j.queue_id,
          queueName: j.queue_name,
          sender: j.sender,
          recipients: j.recipients.map(r => r.address),
          content,
        })
      }
      return out
    },
    log: () => readFile(join(dataDir, 'maillog'), 'utf8').catch(() => ''),
    async stop() {
      if (existsSync(pidFile)) {
        const pid = Number((await readFile(pidFile, 'utf8')).trim())
        await run('postfix', ['-c', configDir, 'stop']).catch(() => undefined)
        await waitFor(
          () => {
            try {
              process.kill(pid, 0)
              return false
            } catch {
              return true
            }
          },
          10_000,
          'master to exit',
        ).catch(() => process.kill(pid, 'SIGKILL'))
      }
      await rm(base, { recursive: true, force: true })
    },
  }
  try {
    await run('postfix', ['-c', configDir, 'start'])
    await waitFor(() => canConnect(port), 10_000, `qmqpd on port ${port}`)
  } catch (err) {
    const log = await instance.log()
    await instance.stop()
    throw new Error(`postfix instance did not start: ${(err as Error).message}\n${log}`, { cause: err })
  }
  return instance
}
