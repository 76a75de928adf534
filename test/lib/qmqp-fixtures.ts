import { readFileSync, readdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { mulberry32 } from './prng.js'

/** The fixtures directory of QMQP request streams (fixtures/qmqp/). */
export const qmqpFixtureDir = fileURLToPath(new URL('../../fixtures/qmqp/', import.meta.url))

export interface PeerObservation {
  reply?: string | null
  reply_regex?: string
  behaviour: string
}

/** One fixture: its stream and its side file. Envelope strings map U+0000–U+00FF to bytes. */
export interface QmqpFixture {
  name: string
  bytes: Buffer
  expect: 'K' | 'D' | 'Z' | 'drop'
  qmail: PeerObservation
  postfix: PeerObservation
  envelope?: { sender: Buffer; recipients: Buffer[] }
  message?: { bytes: number; sha256: string }
  sha256: string
}

export function loadQmqpFixtures(): QmqpFixture[] {
  return readdirSync(qmqpFixtureDir)
    .filter(f => f.endsWith('.json'))
    .sort()
    .map(f => {
      const side = JSON.parse(readFileSync(join(qmqpFixtureDir, f), 'utf8')) as {
        file: string
        sha256: string
        expect: QmqpFixture['expect']
        'qmail-qmqpd': PeerObservation
        'postfix-qmqpd': PeerObservation
        envelope?: { sender: string; recipients: string[] }
        message?: { bytes: number; sha256: string }
      }
      const fx: QmqpFixture = {
        name: f.replace(/\.json$/, ''),
        bytes: readFileSync(join(qmqpFixtureDir, side.file)),
        expect: side.expect,
        qmail: side['qmail-qmqpd'],
        postfix: side['postfix-qmqpd'],
        sha256: side.sha256,
      }
      if (side.envelope)
        fx.envelope = {
          sender: Buffer.from(side.envelope.sender, 'latin1'),
          recipients: side.envelope.recipients.map(r => Buffer.from(r, 'latin1')),
        }
      if (side.message) fx.message = side.message
      return fx
    })
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Deterministic PRNG (mulberry32, test/lib/prng.ts) for seeded generators. */
export const prng = mulberry32

/** The seed for this run: QMQP_SEED from the environment, else a fixed default so CI repeats. */
export function testSeed(): number {
  const s = process.env.QMQP_SEED
  return s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : 20260101
}

/** qmail's queue exit code → reply table (fixtures/qmail-queue/exit-replies.json), e.g. [31, 'Dmail server …']. */
export function queueExitReplies(): Array<[number, string]> {
  const fx = JSON.parse(
    readFileSync(new URL('../../fixtures/qmail-queue/exit-replies.json', import.meta.url), 'utf8'),
  ) as {
    replies: Array<[number, string]>
  }
  return fx.replies
}
