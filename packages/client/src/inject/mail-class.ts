/**
 * GREENARROW_MAILCLASS for the QMQP Sending Service. QMQP carries no environment, so the mail
 * class has to travel in the message: qmqpkit adds `X-GreenArrow-MailClass: VALUE` (a header the
 * Engine reads first anyway). This is a qmqpkit decision, not qmail behaviour.
 */
import { InjectConfigError } from './errors.js'
import { fieldNamed } from './header-fields.js'

/** `add-if-missing` (default): only when the message has none; `replace`: ours instead of theirs; `off`. */
export type MailClassMode = 'add-if-missing' | 'replace' | 'off'

export interface MailClassSetting {
  value: Buffer
  mode: MailClassMode
}

export const MAILCLASS_FIELD = 'x-greenarrow-mailclass'

/**
 * The setting from the environment: `GREENARROW_MAILCLASS` (value as given) and
 * `QMQPKIT_MAILCLASS_MODE`; `undefined` when GREENARROW_MAILCLASS is not set.
 */
export function mailClassFromEnv(env: Map<string, Buffer>): MailClassSetting | undefined {
  const value = env.get('GREENARROW_MAILCLASS')
  const modeRaw = env.get('QMQPKIT_MAILCLASS_MODE')
  let mode: MailClassMode = 'add-if-missing'
  if (modeRaw !== undefined && modeRaw.length) {
    const m = modeRaw.toString('latin1')
    if (m !== 'add-if-missing' && m !== 'replace' && m !== 'off') {
      throw new InjectConfigError(
        `qmail-inject: fatal: QMQPKIT_MAILCLASS_MODE must be add-if-missing, replace or off, not ${m}\n`,
      )
    }
    mode = m
  }
  return value === undefined ? undefined : { value, mode }
}

/**
 * Applies the setting to the kept header fields: returns the field to add (or undefined) and
 * the fields to keep (without the message's own mail-class fields in `replace` mode).
 */
export function applyMailClass(
  fields: Buffer[],
  setting: MailClassSetting | undefined,
): { add: Buffer | undefined; fields: Buffer[] } {
  if (!setting || setting.mode === 'off') return { add: undefined, fields }
  const field = Buffer.concat([Buffer.from('X-GreenArrow-MailClass: '), setting.value, Buffer.from('\n')])
  if (setting.mode === 'replace')
    return { add: field, fields: fields.filter(f => !fieldNamed(f, MAILCLASS_FIELD)) }
  return { add: fields.some(f => fieldNamed(f, MAILCLASS_FIELD)) ? undefined : field, fields }
}

/** Variables the Sending Service does not support: one warning line each when set. */
export const UNSUPPORTED_VARIABLES = ['GREENARROW_MTAID', 'GREENARROW_SENDID', 'GREENARROW_LISTID'] as const

export function unsupportedWarnings(env: Map<string, Buffer>): string[] {
  return UNSUPPORTED_VARIABLES.filter(v => env.has(v)).map(
    v => `qmail-inject: warning: ${v} is not supported by the QMQP Sending Service; ignored`,
  )
}
