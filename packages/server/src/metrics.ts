/**
 * qmqpd's Prometheus metrics, kept as plain counters and rendered in the text exposition format
 * (version 0.0.4). Every family is prefixed `qmqpd_`; a labelled counter also has its total as
 * a series without labels, so `qmqpd_messages_total` works without `sum()`.
 */

type Labels = Record<string, string>

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels)
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

/** A counter family: the unlabelled total plus one series per label set. */
export class Counter {
  total = 0
  readonly series = new Map<string, { labels: Labels; value: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    this.total += by
    if (Object.keys(labels).length === 0) return
    const key = labelText(labels)
    const s = this.series.get(key)
    if (s) s.value += by
    else this.series.set(key, { labels, value: by })
  }

  /** The value of one labelled series (0 when never incremented). */
  get(labels: Labels): number {
    return this.series.get(labelText(labels))?.value ?? 0
  }

  render(): string {
    const lines = [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      `${this.name} ${this.total}`,
    ]
    for (const { labels, value } of this.series.values())
      lines.push(`${this.name}${labelText(labels)} ${value}`)
    return lines.join('\n')
  }
}

/** A histogram of seconds with fixed buckets. */
export class Histogram {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0)
  }

  observe(seconds: number): void {
    this.sum += seconds
    this.count++
    this.buckets.forEach((le, i) => {
      if (seconds <= le) this.counts[i]!++
    })
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket{le="${le}"} ${this.counts[i]}`))
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`)
    lines.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`)
    return lines.join('\n')
  }
}

/** The metrics qmqpd keeps. */
export class Metrics {
  readonly connections = new Counter(
    'qmqpd_connections_total',
    'Connections accepted on the QMQP port, by access decision (allow, deny, none, loopback-default).',
  )
  readonly messages = new Counter(
    'qmqpd_messages_total',
    'Requests answered, by verdict: K, Z, D, or drop (closed without a reply).',
  )
  readonly bytes = new Counter('qmqpd_message_bytes_total', 'Message bytes received in requests, by verdict.')
  readonly byRule = new Counter('qmqpd_rule_messages_total', 'Messages by the access rule key that matched.')
  readonly byMailClass = new Counter('qmqpd_mailclass_messages_total', 'Messages by GreenArrow mail class.')
  readonly faults = new Counter('qmqpd_faults_applied_total', 'Test faults applied, by kind.')
  readonly commit = new Histogram(
    'qmqpd_backend_commit_seconds',
    'Time the backends took to answer a delivery (K only after the commit).',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  )

  /** The exposition text (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    return (
      [this.connections, this.messages, this.bytes, this.byRule, this.byMailClass, this.faults, this.commit]
        .map(m => m.render())
        .join('\n') + '\n'
    )
  }
}
