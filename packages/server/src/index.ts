export type {
  AccessDecision,
  ConnectionInfo,
  GreenArrowMetadata,
  InjectedMessage,
} from './injected-message.js'
export { noMetadata } from './injected-message.js'
export type { Backend, BackendContext, BackendFactory } from './backend.js'
export { QmqpdError, QmqpdConfigError, QmqpdFileError, QmqpdBindError, QmqpdUserError } from './errors.js'
export {
  loadConfig,
  configFilePath,
  parseArgv,
  parseDuration,
  parseListen,
  parseLimitReply,
  formatAddress,
  qmqpdCommand,
  HelpRequest,
  OPTIONS,
  DEFAULT_REPLIES,
  type Config,
  type GreenArrowOptions,
  type LimitReply,
  type ListenAddress,
  type LogLevel,
  type UnknownPolicy,
} from './config.js'
export {
  addressText,
  applyRuleEnv,
  connectionEnv,
  ip6Text,
  isIpv4,
  isLoopback,
  STDIO_RECORDED,
  type ConnectionEnv,
  type Dialect,
  type EndpointFacts,
} from './connection-env.js'
export {
  accessControlFor,
  loggedAccessEvents,
  loopbackOnly,
  rulesDatabase,
  rulesSource,
  type AccessControl,
  type AccessEvents,
  type AccessQuery,
  type AccessResult,
} from './access.js'
export { QmqpdLog, type ConnectionLine, type LogSink, type MessageLine } from './log.js'
export {
  Qmqpd,
  bindMessage,
  greenArrowConfig,
  serverLimits,
  type BoundAddress,
  type QmqpdParts,
} from './daemon.js'
export { dropPrivileges, lookupUser } from './privileges.js'
export { main, run, type QmqpdIo } from './cli/qmqpd.js'
export { createBackend, registerBackend, backendSchemes, backendFactories } from './backends/registry.js'
export { applyGreenArrow, receivedLine, type GreenArrowConfig } from './greenarrow/index.js'
