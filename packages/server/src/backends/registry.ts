import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import { discardBackendFactory } from './discard.js'
import { BackendSpecError } from './errors.js'
import { execBackendFactory } from './exec.js'
import { maildirBackendFactory } from './maildir.js'
import { memoryBackendFactory } from './memory.js'
import { qmqpBackendFactory } from './qmqp.js'
import { sqliteBackendFactory } from './sqlite.js'

const factories = new Map<string, BackendFactory>()

/** Makes `factory.scheme` available to `createBackend`; a scheme registered twice is an error. */
export function registerBackend(factory: BackendFactory): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(factory.scheme))
    throw new BackendSpecError(factory.scheme, 'bad scheme name')
  if (factories.has(factory.scheme))
    throw new BackendSpecError(factory.scheme, `scheme ${factory.scheme} is already registered`)
  factories.set(factory.scheme, factory)
}

// The built-in backends. A new one is a file exporting its factory, and one line here.
registerBackend(sqliteBackendFactory)
registerBackend(maildirBackendFactory)
registerBackend(memoryBackendFactory)
registerBackend(discardBackendFactory)
registerBackend(execBackendFactory)
registerBackend(qmqpBackendFactory)

/** The registered schemes, in registration order (`sqlite`, `maildir`, …). */
export function backendSchemes(): string[] {
  return [...factories.keys()]
}

/** The registered factories, for `--help` (each has a one-line `description`). */
export function backendFactories(): BackendFactory[] {
  return [...factories.values()]
}

/**
 * Makes the backend a `--backend` value names: the scheme is what precedes the first `:`.
 * Throws BackendSpecError for an unknown scheme or a malformed spec, BackendOpenError when the
 * store cannot be opened.
 */
export async function createBackend(spec: string, context: BackendContext = {}): Promise<Backend> {
  const colon = spec.indexOf(':')
  if (colon <= 0) throw new BackendSpecError(spec, `expected SCHEME:…, one of ${backendSchemes().join(', ')}`)
  const factory = factories.get(spec.slice(0, colon))
  if (!factory) throw new BackendSpecError(spec, `unknown scheme; known: ${backendSchemes().join(', ')}`)
  return factory.create(spec, context)
}
