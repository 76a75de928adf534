import { clientHome } from './home.js'
import { send, type SendOptions } from './library.js'
import { injectOutcome, queueExitFor } from './queue-exit.js'

/** A message qmail-inject has finished: the bytes to send and the envelope. */
export interface PreparedMessage {
  message: Buffer
  sender: Buffer
  recipients: Buffer[]
}

/** Options of {@link sendPrepared}. */
export interface SendPreparedOptions extends Pick<SendOptions, 'servers' | 'connectTimeoutMs' | 'timeoutMs'> {
  /** Client home. Default: `QMQPKIT_CLIENT_HOME`, else the home the running command is installed in. */
  home?: string
  /** Name in the diagnostic line. Default `qmail-inject`. */
  programName?: string
}

/**
 * Hands a prepared message to the QMQP servers of the client home and gives qmail-inject's
 * exit code and diagnostic for the outcome, as qmail-inject reports its queue program's exit
 * (qmail-qmqpc's codes, mapped by qmail's table): 0 on K; 100 and `mail server permanently
 * rejected message (#5.3.0)` on D; 111 on Z, a refused or timed-out connect, a broken
 * conversation or missing configuration. Never throws.
 */
export async function sendPrepared(
  prepared: PreparedMessage,
  env: Map<string, Buffer>,
  options: SendPreparedOptions = {},
): Promise<{ exitCode: number; stderr?: string }> {
  const program = options.programName ?? 'qmail-inject'
  try {
    const home = options.home ?? clientHome(env, process.argv[1])
    const sendOptions: SendOptions = { home, env }
    if (options.servers !== undefined) sendOptions.servers = options.servers
    if (options.connectTimeoutMs !== undefined) sendOptions.connectTimeoutMs = options.connectTimeoutMs
    if (options.timeoutMs !== undefined) sendOptions.timeoutMs = options.timeoutMs
    // qmail-inject hands a message without recipients to its queue all the same.
    sendOptions.allowNoRecipients = true
    await send(prepared.message, { sender: prepared.sender, recipients: prepared.recipients }, sendOptions)
    return { exitCode: 0 }
  } catch (err) {
    return injectOutcome(queueExitFor(err), program)
  }
}
