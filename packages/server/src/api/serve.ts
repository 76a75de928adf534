import type { FastifyInstance } from 'fastify'
import type { Backend } from '../backend.js'
import type { Config } from '../config.js'
import { formatAddress } from '../config.js'
import { QmqpdBindError } from '../errors.js'
import { readFaultsFile } from '../faults/file.js'
import { buildApi } from './app.js'
import { Inspection, parseNamespaceFrom } from './inspection.js'

/** qmqpd's test-server side as the command runs it: the inspection state and its HTTP API. */
export interface TestServer {
  inspection: Inspection
  /** `http://host:port` of the API, or null when only faults/namespaces are configured. */
  url: string | null
  /** The backends are open and the QMQP port is bound: catalogue what is stored, become ready. */
  attach(backends: readonly Backend[]): Promise<void>
  close(): Promise<void>
}

/** True when any test-server option is given. */
export function testingWanted(config: Config): boolean {
  const t = config.testing
  return t.api !== null || t.faultsFile !== null || t.namespaceFrom !== null
}

/**
 * Builds the inspection state from the configuration and starts the API (before the QMQP port,
 * so /readyz can say "not yet"). Null when no test-server option is given.
 */
export async function startTestServer(config: Config): Promise<TestServer | null> {
  if (!testingWanted(config)) return null
  const t = config.testing
  const inspection = new Inspection({
    namespaceFrom: t.namespaceFrom === null ? null : parseNamespaceFrom(t.namespaceFrom),
    retention: t.retention,
    faults: t.faultsFile === null ? [] : readFaultsFile(t.faultsFile),
  })
  let api: FastifyInstance | null = null
  let url: string | null = null
  if (t.api !== null) {
    api = buildApi(inspection, { token: t.apiToken })
    try {
      await api.listen({ host: t.api.host, port: t.api.port })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      const where = formatAddress(t.api.host, t.api.port)
      throw new QmqpdBindError(where, e.code, false, `unable to bind the API on ${where}: ${e.message}`)
    }
    const a = api.server.address() as { address: string; port: number }
    url = `http://${formatAddress(a.address, a.port)}`
  }
  return {
    inspection,
    url,
    async attach(backends) {
      await inspection.attach(backends)
      inspection.setListening()
    },
    async close() {
      inspection.close()
      await api?.close()
    },
  }
}
