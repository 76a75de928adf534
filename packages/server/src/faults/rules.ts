import { FaultRuleError, QueryError } from '../api/errors.js'
import {
  isConnectionQuery,
  matchesQuery,
  parseQuery,
  type MessageQuery,
  type MessageRecord,
} from '../query.js'

/** What a fault rule does to the requests it matches. Fields combine (a delay with a reply, …). */
export interface FaultAction {
  /** Answer Z or D instead of delivering: the message is not stored. */
  reply?: 'Z' | 'D'
  /** The reply text (without the letter); a default naming the fault otherwise. */
  text?: string
  /** Wait this long before the reply (or the close). */
  delayMs?: number
  /**
   * `before-reply`: close without replying, the message not stored. `after-store`: store it,
   * then close without replying: the client sees a failure for a stored message.
   */
  drop?: 'before-reply' | 'after-store'
  /** Store the message, then send a broken reply: `truncate` (true) cuts the netstring, `length` lies about it. */
  garble?: boolean | 'truncate' | 'length'
  /** Read the request at most this many bytes per second (chosen when the connection opens). */
  slowReadBps?: number
}

/** A rule as given to the API or in a faults file. */
export interface FaultRuleInput {
  match?: Record<string, unknown>
  action: FaultAction
  /** Applies to the next `count` matches, then expires; absent or null: until removed. */
  count?: number | null
  /** Applies to a match with this probability; needs `seed`, so runs repeat. */
  probability?: number
  seed?: number
}

export interface FaultRule {
  id: string
  match: MessageQuery
  action: FaultAction
  count: number | null
  /** Matches left before it expires; null: no limit. */
  remaining: number | null
  probability: number | null
  seed: number | null
  /** How many times it was applied. */
  hits: number
  createdAt: number
}

const maxDelayMs = 600_000

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max

/** Validates a rule's input; throws FaultRuleError (or QueryError for its match) naming the problem. */
export function parseFaultRule(input: unknown): Omit<FaultRule, 'id' | 'hits' | 'createdAt' | 'remaining'> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new FaultRuleError('a fault rule is a JSON object { match, action, count }')
  const body = input as Record<string, unknown>
  for (const key of Object.keys(body))
    if (!['match', 'action', 'count', 'probability', 'seed', 'id'].includes(key))
      throw new FaultRuleError(`unknown field ${key}; known: match, action, count, probability, seed`)
  const rawMatch = body['match'] ?? {}
  if (typeof rawMatch !== 'object' || rawMatch === null || Array.isArray(rawMatch))
    throw new FaultRuleError('match must be an object of query fields')
  const match = parseQuery(rawMatch as Record<string, string>, true)
  if (match.verdict !== undefined)
    throw new QueryError('verdict', 'a fault rule acts before there is a verdict')

  const a = body['action']
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    throw new FaultRuleError('action must be an object')
  const raw = a as Record<string, unknown>
  const action: FaultAction = {}
  for (const key of Object.keys(raw)) {
    const v = raw[key]
    switch (key) {
      case 'reply':
        if (v !== 'Z' && v !== 'D') throw new FaultRuleError('action.reply must be "Z" or "D"')
        action.reply = v
        break
      case 'text':
        if (typeof v !== 'string' || /[\r\n]/.test(v))
          throw new FaultRuleError('action.text must be one line')
        action.text = v
        break
      case 'delayMs':
        if (!isInt(v, 0, maxDelayMs)) throw new FaultRuleError(`action.delayMs must be 0..${maxDelayMs}`)
        action.delayMs = v
        break
      case 'drop':
        if (v !== 'before-reply' && v !== 'after-store')
          throw new FaultRuleError('action.drop must be "before-reply" or "after-store"')
        action.drop = v
        break
      case 'garble':
        if (v !== true && v !== false && v !== 'truncate' && v !== 'length')
          throw new FaultRuleError('action.garble must be true, "truncate" or "length"')
        if (v !== false) action.garble = v
        break
      case 'slowReadBps':
        if (!isInt(v, 1))
          throw new FaultRuleError('action.slowReadBps must be a whole number of bytes, at least 1')
        action.slowReadBps = v
        break
      default:
        throw new FaultRuleError(
          `unknown action ${key}; known: reply, text, delayMs, drop, garble, slowReadBps`,
        )
    }
  }
  const outcomes = [action.reply, action.drop, action.garble].filter(x => x !== undefined).length
  if (outcomes > 1) throw new FaultRuleError('choose one of action.reply, action.drop, action.garble')
  if (outcomes === 0 && action.delayMs === undefined && action.slowReadBps === undefined)
    throw new FaultRuleError('the action does nothing: give reply, drop, garble, delayMs or slowReadBps')
  if (action.text !== undefined && action.reply === undefined)
    throw new FaultRuleError('action.text goes with action.reply')
  if (action.slowReadBps !== undefined && !isConnectionQuery(match))
    throw new FaultRuleError(
      'slowReadBps is chosen when the connection opens: match only client, rule, namespace',
    )

  const count = body['count'] ?? null
  if (count !== null && !isInt(count, 1)) throw new FaultRuleError('count must be a whole number, at least 1')
  const probability = body['probability'] ?? null
  const seed = body['seed'] ?? null
  if (probability !== null) {
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1))
      throw new FaultRuleError('probability must be between 0 and 1')
    if (!isInt(seed, 0, 0xffffffff))
      throw new FaultRuleError('probability needs an explicit seed (0..4294967295), so a run can be repeated')
  } else if (seed !== null) throw new FaultRuleError('seed goes with probability')
  return { match, action, count, probability, seed: seed as number | null }
}

/** A small seeded generator (mulberry32): the same seed gives the same sequence of draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The fault rules in force, in the order added; the first that matches (and draws) applies. */
export class FaultBook {
  readonly #rules: FaultRule[] = []
  readonly #random = new Map<string, () => number>()
  #next = 1

  add(input: unknown): FaultRule {
    const parsed = parseFaultRule(input)
    const rule: FaultRule = {
      id: `f${this.#next++}`,
      ...parsed,
      remaining: parsed.count,
      hits: 0,
      createdAt: Date.now(),
    }
    this.#rules.push(rule)
    if (rule.seed !== null) this.#random.set(rule.id, seededRandom(rule.seed))
    return rule
  }

  /** The rules in force; with a namespace, those scoped to it. */
  list(namespace?: string | null): FaultRule[] {
    return this.#rules.filter(r => namespace === undefined || r.match.namespace === namespace)
  }

  get(id: string): FaultRule | undefined {
    return this.#rules.find(r => r.id === id)
  }

  remove(id: string): boolean {
    const i = this.#rules.findIndex(r => r.id === id)
    if (i < 0) return false
    this.#rules.splice(i, 1)
    this.#random.delete(id)
    return true
  }

  /** Removes every rule (namespace undefined) or those scoped to one namespace; how many. */
  clear(namespace?: string | null): number {
    let removed = 0
    for (const rule of this.list(namespace)) if (this.remove(rule.id)) removed++
    return removed
  }

  /**
   * Finds the rule for a request and consumes one of its matches. `phase` connection: only
   * slow-read rules, matched on the connection's fields; message: the others.
   */
  take(record: MessageRecord, phase: 'connection' | 'message'): FaultRule | undefined {
    for (const rule of this.#rules) {
      if ((rule.action.slowReadBps !== undefined) !== (phase === 'connection')) continue
      if (!matchesQuery(record, rule.match)) continue
      if (rule.probability !== null && !(this.#random.get(rule.id)!() < rule.probability)) continue
      rule.hits++
      if (rule.remaining !== null && --rule.remaining === 0) this.remove(rule.id)
      return rule
    }
    return undefined
  }
}
