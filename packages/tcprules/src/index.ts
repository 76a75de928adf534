export { TcprulesError, RulesSyntaxError, RulesReadError, RulesUsageError } from './errors.js'
export {
  parseRules,
  type Dialect,
  type ParseOptions,
  type Rule,
  type RuleVariable,
  type RulesFile,
  type IgnoredLine,
} from './parse.js'
export { expandAddress } from './range.js'
export { compileRules, compileRulesToBuffer, forEachRecord } from './compile.js'
export {
  matchRules,
  lookupRule,
  walkKeys,
  decodeRuleData,
  type Connection,
  type MatchResult,
  type MatchOptions,
  type RulesLookup,
  type RuleHit,
  type LookupStep,
} from './match.js'
export { formatIp6, remoteIpText } from './remote-ip.js'
export { checkOutput } from './check-output.js'
export { RulesSource, type RulesSourceSpec, type RulesSourceOptions } from './rules-source.js'
export { cidrToAddress, expandCidrRules } from './cidr.js'
export { decompileRules } from './decompile.js'
export { lintRules, type LintFinding } from './lint.js'
export {
  explainMatch,
  explanationText,
  explanationJson,
  type Explanation,
  type ExplainStep,
} from './explain.js'
