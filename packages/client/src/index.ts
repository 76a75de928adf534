export {
  send,
  resolveServers,
  type Envelope,
  type MessageInput,
  type SendOptions,
  type SendResult,
} from './library.js'
export { sendPrepared, type SendPreparedOptions } from './send-prepared.js'
export {
  qmqpTransport,
  type QmqpTransport,
  type QmqpTransportOptions,
  type QmqpSentMessageInfo,
  type NodemailerMail,
} from './nodemailer-transport.js'
export {
  readQmqpServers,
  parseQmqpServers,
  parseServerLine,
  formatServer,
  QMQP_PORT,
  type QmqpServer,
} from './control.js'
export { clientHome, homeOfScript, DEFAULT_CLIENT_HOME } from './home.js'
export { setupHome, commandScript, CLIENT_COMMANDS, type SetupOptions, type SetupReport } from './setup.js'
export { parseQueueEnvelope, encodeQueueEnvelope } from './envelope.js'
export { QUEUE_EXIT, queueExitText, queueExitFor, injectOutcome } from './queue-exit.js'
export { planSendmail, type SendmailPlan } from './sendmail-args.js'
export { mailsubjHeader } from './mailsubj-message.js'
export { ClientError, ClientConfigError, ClientRejectedError, ClientUsageError } from './errors.js'
export * from './inject/index.js'
