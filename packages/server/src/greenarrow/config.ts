import type { HeaderBlock } from './header-block.js'
import type { ReceivedFormat } from './received-line.js'

/**
 * What to do when a check fails. `accept`: deliver and record the problem in the metadata
 * (the default for every check: the Engine's behaviour there is not documented). A reply
 * refuses the message with that verdict letter (Z temporary, D permanent) and text.
 */
export type GreenArrowPolicy = 'accept' | { reply: 'Z' | 'D'; text: string }

/** The checks a policy can be set for (the keys of `GreenArrowConfig.policies`). */
export type GreenArrowCheck =
  | 'unknownMailClass'
  | 'invalidMailClass'
  | 'invalidInstanceId'
  | 'invalidListId'
  | 'invalidDkim'
  | 'unknownVirtualMta'

export const GREENARROW_CHECKS: readonly GreenArrowCheck[] = [
  'invalidMailClass',
  'unknownMailClass',
  'invalidInstanceId',
  'invalidDkim',
  'invalidListId',
  'unknownVirtualMta',
]

/** Hook points matching the Engine's simplemh-config subs. Both may change `headers` in place. */
export interface GreenArrowHooks {
  /** Before processing, with the X-GreenArrow-* headers still present ($EARLY_MODIFY_MESSAGE_SUB). */
  earlyModify?(headers: HeaderBlock): void | Promise<void>
  /** After the X-GreenArrow-* headers were read and removed ($MODIFY_MESSAGE_SUB). */
  modify?(headers: HeaderBlock): void | Promise<void>
}

export interface GreenArrowConfig {
  /** The server's name (control/me): the "by" host of the greenarrow and postfix Received formats. */
  me: string
  receivedFormat: ReceivedFormat
  /** Leave out the Received line when the matching rule sets GREENARROW_SMTP_RECEIVED_HIDE. */
  honourReceivedHide: boolean
  /** Read X-Virtual-MTA in raw injection (process_x_virtual_mta_header); it wins over X-GreenArrow-MtaID. */
  processXVirtualMta: boolean
  /** Remove X-Virtual-MTA before delivery (it is not an X-GreenArrow-* header; kept by default). */
  stripXVirtualMta: boolean
  /** The class a SimpleMH message gets when neither its header nor the rule names one. */
  defaultMailClass: string | null
  /** Mail classes that exist (compared ignoring case); null: any valid name. */
  knownMailClasses: string[] | null
  /** VirtualMTA names or numeric ids that exist; null: any. */
  knownVirtualMtas: string[] | null
  policies: Record<GreenArrowCheck, GreenArrowPolicy>
  hooks?: GreenArrowHooks
  /** At most this many bytes of header are read; fields past it are left as they are. */
  maxHeaderBytes?: number
}

/** Default for `maxHeaderBytes`: 1 MiB. */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024

/** The defaults: greenarrow Received format, HIDE honoured, X-Virtual-MTA ignored and kept, every check `accept`. */
export function defaultGreenArrowConfig(me: string): GreenArrowConfig {
  return {
    me,
    receivedFormat: 'greenarrow',
    honourReceivedHide: true,
    processXVirtualMta: false,
    stripXVirtualMta: false,
    defaultMailClass: null,
    knownMailClasses: null,
    knownVirtualMtas: null,
    policies: {
      unknownMailClass: 'accept',
      invalidMailClass: 'accept',
      invalidInstanceId: 'accept',
      invalidListId: 'accept',
      invalidDkim: 'accept',
      unknownVirtualMta: 'accept',
    },
    maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  }
}
