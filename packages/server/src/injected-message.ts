import type { MessageBody, RequestTranscript } from '@qmqpkit/qmqp'

/** How the access rules decided about a connection. */
export type AccessDecision = 'allow' | 'deny' | 'none' | 'loopback-default'

/** One accepted connection, as qmqpd saw it and as tcpserver would have described it. */
export interface ConnectionInfo {
  id: string
  /** Remote address, normalised: an IPv4-mapped IPv6 address is the IPv4 address. */
  remoteIp: string
  remotePort: number
  localIp: string
  localPort: number
  remoteHost?: string
  remoteInfo?: string
  proto: 'TCP' | 'TCP6'
  /** The rule key that matched (latin1 text of its bytes), or null when none did or no rules are in use. */
  ruleKey: string | null
  decision: AccessDecision
  /** The connection environment in order: PROTO, TCPLOCALIP, … then the rule's variables. Values are raw bytes. */
  env: Array<[name: string, value: Buffer]>
}

/** What GreenArrow processing read from a message (see reference/greenarrow.md). */
export interface GreenArrowMetadata {
  mode: 'simplemh' | 'raw'
  mailClass: string | null
  mailClassSource: 'header' | 'rule' | 'default' | null
  instanceId: string | null
  clickTrackingId: string | null
  /** Parsed X-GreenArrow-DKIM objects, in order. */
  dkim: unknown[] | null
  virtualMta: string | null
  sendId: string | null
  listId: string | null
  /** A qmail VERP request sender (`prefix@domain-@[]`). */
  verp: { prefix: string; domain: string } | null
  /** Checks that did not pass but were accepted by policy (e.g. an unknown mail class). */
  problems: Array<{ check: string; message: string }>
}

/** Metadata with nothing found: what a message has before (or without) GreenArrow processing. */
export function noMetadata(mode: GreenArrowMetadata['mode'] = 'raw'): GreenArrowMetadata {
  return {
    mode,
    mailClass: null,
    mailClassSource: null,
    instanceId: null,
    clickTrackingId: null,
    dkim: null,
    virtualMta: null,
    sendId: null,
    listId: null,
    verp: null,
    problems: [],
  }
}

/** A message accepted on the wire, with everything qmqpd knows about it, handed to a backend. */
export interface InjectedMessage {
  id: string
  /** Milliseconds since the epoch. */
  receivedAt: number
  sender: Buffer
  recipients: Buffer[]
  connection: ConnectionInfo
  metadata: GreenArrowMetadata
  /** The message exactly as received. */
  received: MessageBody
  /** The message as the Engine would deliver it: Received line added, X-GreenArrow-* headers removed. */
  delivered: MessageBody
  transcript: RequestTranscript
  /** Names of the test faults applied to this message, if any. */
  faults: string[]
  namespace: string | null
}
