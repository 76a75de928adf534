/**
 * What happens on the inspection side, for live views (Server-Sent Events, the web UI) and
 * in-process listeners. Each event names the namespace it concerns (undefined: all of them).
 */
export type InspectionEvent =
  | { type: 'message'; namespace: string | null; cursor: string; message: unknown }
  | { type: 'reset'; namespace: string | null | undefined; cursor: string; removed: number }
  | { type: 'fault-added'; namespace: string | null | undefined; rule: unknown }
  | { type: 'fault-removed'; namespace: string | null | undefined; id: string }
  | {
      type: 'connection'
      namespace: string | null
      id: string
      client: string
      decision: string
      outcome: string
    }

export type InspectionListener = (event: InspectionEvent) => void

/** A synchronous fan-out: a listener that throws is dropped, the others still hear the event. */
export class EventHub {
  readonly #listeners = new Set<InspectionListener>()

  /** Starts listening; call the returned function to stop. */
  subscribe(listener: InspectionListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  emit(event: InspectionEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch {
        this.#listeners.delete(listener)
      }
    }
  }

  get listeners(): number {
    return this.#listeners.size
  }
}

/** Does an event concern this namespace? (undefined: the listener wants every namespace.) */
export function eventInNamespace(event: InspectionEvent, namespace: string | null | undefined): boolean {
  if (namespace === undefined || event.namespace === undefined) return true
  return event.namespace === namespace
}

/** One Server-Sent Events frame: `event:` the type, `data:` the JSON, an `id:` when given. */
export function sseFrame(event: InspectionEvent, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}
