import net, { type AddressInfo, type Socket } from 'node:net'
import { createQmqpServer, type Verdict } from '@qmqpkit/qmqp'

/** A message as a QMQP server received it. */
export interface Received {
  message: Buffer
  sender: Buffer
  recipients: Buffer[]
}

/**
 * A real QMQP server on 127.0.0.1, port 0, that records every request and answers `verdict`
 * (K by default). Stop it with close().
 */
export async function recordingServer(verdict: Verdict = { code: 'K', text: 'ok 1 qp 1' }) {
  const received: Received[] = []
  const server = createQmqpServer({
    onRequest: async req => {
      received.push({ message: await req.message.read(), sender: req.sender, recipients: req.recipients })
      return verdict
    },
  })
  const address: AddressInfo = await server.listen(0, '127.0.0.1')
  return { port: address.port, server: `127.0.0.1:${address.port}`, received, close: () => server.close(0) }
}

/** A port on 127.0.0.1 where nothing listens: connecting is refused. */
export async function refusedPort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>(resolve => probe.close(() => resolve()))
  return port
}

/** A listener that accepts and hangs up at once (a denied client under tcpserver). */
export async function hangUpServer() {
  const open = new Set<Socket>()
  const server = net.createServer(s => {
    open.add(s)
    s.destroy()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    close: async () => {
      for (const s of open) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}
