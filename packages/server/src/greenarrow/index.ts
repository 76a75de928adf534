export {
  applyGreenArrow,
  type GreenArrowDetails,
  type GreenArrowExtras,
  type GreenArrowResult,
} from './apply.js'
export {
  defaultGreenArrowConfig,
  DEFAULT_MAX_HEADER_BYTES,
  GREENARROW_CHECKS,
  type GreenArrowCheck,
  type GreenArrowConfig,
  type GreenArrowHooks,
  type GreenArrowPolicy,
} from './config.js'
export { HeaderBlock, HeaderField, scanHeader, type HeaderScan } from './header-block.js'
export { readHeader, type HeaderRead } from './header-reader.js'
export {
  postfixDate,
  qmailDate,
  qmailSafe,
  quoteLocalPart,
  receivedLine,
  type ReceivedFacts,
  type ReceivedFormat,
} from './received-line.js'
export { SplicedBody } from './spliced-body.js'
export {
  DKIM_HEADER_MAX_BYTES,
  MAIL_CLASS_MAX_LENGTH,
  instanceIdProblem,
  listIdProblem,
  mailClassProblem,
  parseDkim,
} from './validate.js'
export { parseVerpSender, verpSenderFor, type VerpSender } from './verp.js'
