// @qmqpkit/server/testing: qmqpd as a test server (README-testing.md).
export {
  startQmqpd,
  type QmqpdFixture,
  type QueryInput,
  type StartQmqpdOptions,
  type WaitOptions,
} from './fixture.js'
export { buildApi, parseTimeoutMs, type ApiOptions } from './api/app.js'
export {
  Inspection,
  parseNamespaceFrom,
  type DaemonHooks,
  type InspectionOptions,
  type NamespaceSource,
} from './api/inspection.js'
export { MessageCatalog, type CatalogPage, type RetentionLimits, type WaitResult } from './api/catalog.js'
export { startTestServer, testingWanted, type TestServer } from './api/serve.js'
export { summaryJson, detailJson, type MessageSummary, type MessageDetail } from './api/serialize.js'
export { mimeParts, type MimePart } from './api/mime.js'
export { openApiDocument } from './api/openapi.js'
export { API_ERRORS, FaultRuleError, QueryError, WaitTimeoutError, type ApiErrorCode } from './api/errors.js'
export {
  FaultBook,
  parseFaultRule,
  seededRandom,
  type FaultAction,
  type FaultRule,
  type FaultRuleInput,
} from './faults/rules.js'
export { faultPlan, garbleReply, type FaultPlan } from './faults/plan.js'
export { readFaultsFile } from './faults/file.js'
export {
  QUERY_PARAMS,
  matchesQuery,
  parseQuery,
  querySearchParams,
  parseHeaders,
  readHeaderBlock,
  decodeWords,
  type MessageQuery,
  type MessageRecord,
  type VerdictFilter,
} from './query.js'
export {
  EventHub,
  eventInNamespace,
  sseFrame,
  type InspectionEvent,
  type InspectionListener,
} from './events.js'
export { Counter, Histogram, Metrics } from './metrics.js'
export { main as qmqpkitMain, defaultApiUrl, type QmqpkitIo } from './cli/qmqpkit.js'
