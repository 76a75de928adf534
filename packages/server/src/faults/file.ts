import { readFileSync } from 'node:fs'
import { FaultRuleError } from '../api/errors.js'
import { parseFaultRule } from './rules.js'

/**
 * Reads a faults file: JSON, either an array of rules or `{ "faults": [ … ] }`, each rule as
 * POST /api/v1/faults takes it. Every rule is validated here, so a bad file fails at start-up.
 */
export function readFaultsFile(path: string): unknown[] {
  const text = readFileSync(path, 'utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new FaultRuleError(`${path}: not JSON: ${(err as Error).message}`)
  }
  const rules = Array.isArray(parsed) ? parsed : (parsed as { faults?: unknown } | null)?.faults
  if (!Array.isArray(rules))
    throw new FaultRuleError(`${path}: expected an array of rules or { "faults": [ … ] }`)
  rules.forEach((rule, i) => {
    try {
      parseFaultRule(rule)
    } catch (err) {
      throw new FaultRuleError(`${path}: rule ${i + 1}: ${(err as Error).message}`)
    }
  })
  return rules
}
