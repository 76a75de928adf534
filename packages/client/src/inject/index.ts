export { prepareMessage, senderFromArg, recipientFromArg, returnPathLine, rewriteDomains } from './prepare.js'
export type { InjectContext, PreparedMessage } from './prepare.js'
export { parseInjectArgs, INJECT_OPTSTRING } from './args.js'
export type { InjectArgs, InjectFlags, RecipientMode } from './args.js'
export {
  readInjectControl,
  readControlFile,
  readMftFile,
  parseMftList,
  resolveControl,
  controlLine,
} from './control-files.js'
export type { InjectControlValues, ResolvedControl } from './control-files.js'
export { mailClassFromEnv, applyMailClass, unsupportedWarnings } from './mail-class.js'
export type { MailClassMode, MailClassSetting } from './mail-class.js'
export { runQueueProgram, queueReply, envelopeBytes } from './queue.js'
export type { QueueProgramOptions } from './queue.js'
export { quote2, quoteNeed } from './quote.js'
export {
  InjectError,
  InjectUsageError,
  InjectAddressError,
  InjectParseError,
  InjectReadError,
  InjectMemoryError,
  InjectHomeError,
  InjectConfigError,
  InjectQueueError,
  InjectQueueStartError,
} from './errors.js'
