import type { Verdict } from '@qmqpkit/qmqp'
import type { InjectedMessage } from './injected-message.js'

/**
 * Where accepted messages go. `deliver` resolves to K only once the message is durable in
 * the backend (or, for `memory:`/`discard:`, as documented there); Z for anything temporary.
 * It must never reject for an ordinary failure: a Verdict says what happened.
 */
export interface Backend {
  readonly name: string
  deliver(msg: InjectedMessage): Promise<Verdict>
  close(): Promise<void>
}

/** Makes a backend from its URL-like spec (`sqlite:/var/qmqpd/mail.db`, `maildir:/srv/Maildir`, …). */
export interface BackendFactory {
  /** The scheme before the first `:`, e.g. `sqlite`. */
  readonly scheme: string
  /** One line for `qmqpd --help` and the README. */
  readonly description: string
  create(spec: string, context: BackendContext): Promise<Backend>
}

export interface BackendContext {
  /** Optional logger (pino-compatible subset). */
  log?: {
    info(obj: object, msg?: string): void
    warn(obj: object, msg?: string): void
    error(obj: object, msg?: string): void
  }
}
