import { bytesToJson } from '../backends/inspectable.js'
import type { MessageRecord } from '../query.js'
import { verdictWord } from '../query.js'

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** A message in lists, waits and events: the envelope, the outcome and what queries select on. */
export function summaryJson(r: MessageRecord) {
  return {
    cursor: String(r.seq),
    id: r.id,
    namespace: r.namespace,
    receivedAt: iso(r.receivedAt),
    storedAt: iso(r.storedAt),
    stored: r.stored,
    sender: r.sender,
    recipients: r.recipients,
    subject: r.subject,
    size: r.size,
    verdict: r.verdict,
    outcome: verdictWord(r),
    client: r.connection.remoteIp,
    rule: r.connection.ruleKey,
    mailClass: r.metadata.mailClass,
    virtualMta: r.metadata.virtualMta,
    sendId: r.metadata.sendId,
    listId: r.metadata.listId,
    faults: r.faults,
  }
}

export type MessageSummary = ReturnType<typeof summaryJson>

/** One message in full: connection and its environment, rule, metadata, headers, transcript. */
export function detailJson(r: MessageRecord, delivered: Array<[string, string]> | null) {
  const t = r.transcript
  return {
    ...summaryJson(r),
    deliveredSize: r.deliveredSize,
    connection: {
      ...r.connection,
      env: r.connection.env.map(([name, value]) => ({ name, value: bytesToJson(value) })),
    },
    metadata: r.metadata,
    headers: { received: r.headers, delivered },
    transcript: {
      ...t,
      // Lengths as netstrings on the wire; times as milliseconds after the connection opened.
      readMs: t.requestDoneAt !== undefined ? t.requestDoneAt - t.startedAt : null,
      firstByteMs: t.firstByteAt !== undefined ? t.firstByteAt - t.startedAt : null,
      reply: r.verdict ? `${r.verdict.code}${r.verdict.text}` : null,
    },
  }
}

export type MessageDetail = ReturnType<typeof detailJson>
