import { encodeReply, type ReplyPlan, type Verdict } from '@qmqpkit/qmqp'
import type { FaultAction } from './rules.js'

/** How one request goes, given the fault action that matched it (or none). */
export interface FaultPlan {
  /** Deliver to the backends? False: the message is not stored. */
  deliver: boolean
  /** The verdict when not delivering and replying. */
  preset: Verdict | null
  /** Names recorded on the message: `reply:Z`, `delay:200`, `drop:after-store`, `garble:truncate`, … */
  names: string[]
  /** What the server core is told to do, given the backends' verdict (or the preset). */
  reply(verdict: Verdict): Verdict | ReplyPlan
  /** The verdict the client is sent, for the record: null when it is sent none. */
  seen(verdict: Verdict): Verdict | null
}

const defaultTexts = {
  Z: 'temporary failure injected by a qmqpd fault rule (#4.3.0)',
  D: 'permanent failure injected by a qmqpd fault rule (#5.3.0)',
}

/** A reply netstring made unreadable: cut before its comma, or with a length that lies. */
export function garbleReply(reply: Buffer, mode: 'truncate' | 'length'): Buffer {
  if (mode === 'length') {
    const colon = reply.indexOf(':')
    return Buffer.concat([Buffer.from(String(reply.length * 2)), reply.subarray(colon)])
  }
  return reply.subarray(0, Math.max(1, Math.floor((reply.length - 1) / 2)))
}

/** The plan for a request under `action` (undefined: no fault, deliver and reply normally). */
export function faultPlan(action: FaultAction | undefined): FaultPlan {
  const names: string[] = []
  if (!action) return { deliver: true, preset: null, names, reply: v => v, seen: v => v }
  const delayMs = action.delayMs ?? 0
  if (action.slowReadBps !== undefined) names.push(`slow-read:${action.slowReadBps}`)
  if (delayMs > 0) names.push(`delay:${delayMs}`)
  const withDelay = (plan: ReplyPlan): ReplyPlan => (delayMs > 0 ? { ...plan, delayMs } : plan)
  if (action.reply) {
    const preset: Verdict = { code: action.reply, text: action.text ?? defaultTexts[action.reply] }
    names.push(`reply:${action.reply}`)
    return { deliver: false, preset, names, reply: v => withDelay({ verdict: v }), seen: v => v }
  }
  if (action.drop === 'before-reply') {
    names.push('drop:before-reply')
    return {
      deliver: false,
      preset: null,
      names,
      reply: () => withDelay({ close: 'before-reply' }),
      seen: () => null,
    }
  }
  if (action.drop === 'after-store') {
    names.push('drop:after-store')
    // Only a stored message is dropped after the fact; a backend failure is answered as usual.
    return {
      deliver: true,
      preset: null,
      names,
      reply: v => withDelay(v.code === 'K' ? { close: 'before-reply' } : { verdict: v }),
      seen: v => (v.code === 'K' ? null : v),
    }
  }
  if (action.garble) {
    const mode = action.garble === 'length' ? 'length' : 'truncate'
    names.push(`garble:${mode}`)
    return {
      deliver: true,
      preset: null,
      names,
      reply: v => withDelay({ raw: garbleReply(encodeReply(v), mode) }),
      seen: v => v,
    }
  }
  return { deliver: true, preset: null, names, reply: v => withDelay({ verdict: v }), seen: v => v }
}
