import type { Verdict } from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { InjectedMessage } from '../injected-message.js'
import { BackendSpecError } from './errors.js'
import { acceptedText } from './inspectable.js'

/** Answers K and keeps nothing, as Haraka's `discard` queue: for load tests and sinks. */
export class DiscardBackend implements Backend {
  readonly name = 'discard:'

  async deliver(msg: InjectedMessage): Promise<Verdict> {
    return { code: 'K', text: acceptedText(msg) }
  }

  async close(): Promise<void> {}
}

/** `discard:` */
export const discardBackendFactory: BackendFactory = {
  scheme: 'discard',
  description: 'discard:  accept (K) and keep nothing',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    if (spec !== 'discard:') throw new BackendSpecError(spec, 'discard: takes nothing after the colon')
    return new DiscardBackend()
  },
}
