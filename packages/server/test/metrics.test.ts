import t from 'tap'
import { Counter, Histogram, Metrics } from '../src/metrics.js'

t.test('counters keep an unlabelled total beside labelled series', async t => {
  const c = new Counter('qmqpd_x_total', 'help')
  c.inc({ verdict: 'K' })
  c.inc({ verdict: 'K' })
  c.inc({ verdict: 'D' }, 3)
  c.inc()
  t.equal(c.total, 6)
  t.equal(c.get({ verdict: 'K' }), 2)
  t.equal(
    c.render(),
    '# HELP qmqpd_x_total help\n# TYPE qmqpd_x_total counter\nqmqpd_x_total 6\nqmqpd_x_total{verdict="K"} 2\nqmqpd_x_total{verdict="D"} 3',
  )
  const odd = new Counter('qmqpd_y_total', 'h')
  odd.inc({ rule: 'a"b\\c\nd' })
  t.match(odd.render(), 'qmqpd_y_total{rule="a\\"b\\\\c\\nd"} 1')
})

t.test('histograms are cumulative', async t => {
  const h = new Histogram('qmqpd_h_seconds', 'h', [0.1, 1])
  h.observe(0.05)
  h.observe(0.5)
  h.observe(5)
  const text = h.render()
  t.match(text, 'qmqpd_h_seconds_bucket{le="0.1"} 1')
  t.match(text, 'qmqpd_h_seconds_bucket{le="1"} 2')
  t.match(text, 'qmqpd_h_seconds_bucket{le="+Inf"} 3')
  t.match(text, 'qmqpd_h_seconds_count 3')
  t.match(text, 'qmqpd_h_seconds_sum 5.55')
})

t.test('every family is prefixed qmqpd_ and declared once', async t => {
  const text = new Metrics().render()
  const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map(m => m[1]!)
  t.ok(names.length >= 7)
  t.ok(names.every(n => n.startsWith('qmqpd_')))
  t.equal(new Set(names).size, names.length)
  t.ok(text.endsWith('\n'))
})
