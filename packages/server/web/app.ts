// The qmqpd web UI: plain DOM, no framework. Everything comes from the inspection API; the
// list follows the server's events (SSE). Keys: / search, j/k move, Enter or o open, 1-6 tabs,
// f fault rules, Escape back, shift+R reset.
import { QUERY_PARAMS } from '../src/query-params.js'

const QUERY_NAMES: readonly string[] = QUERY_PARAMS

interface Summary {
  cursor: string
  id: string
  namespace: string | null
  receivedAt: string
  sender: string
  recipients: string[]
  subject: string | null
  outcome: string
  faults: string[]
}

type Detail = Summary & {
  size: number
  deliveredSize: number
  stored: boolean
  verdict: { code: string; text: string } | null
  client: string
  rule: string | null
  connection: Record<string, unknown> & { env: Array<{ name: string; value: string | { base64: string } }> }
  metadata: Record<string, unknown>
  headers: { received: Array<[string, string]>; delivered: Array<[string, string]> | null }
  transcript: Record<string, unknown>
}

const token = (() => {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (m) sessionStorage.setItem('qmqpd-token', decodeURIComponent(m[1]!))
  return sessionStorage.getItem('qmqpd-token')
})()

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T

function el(tag: string, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  for (const c of children) if (c !== null) node.append(c)
  return node
}

const withToken = (url: string) =>
  token ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : url

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) }
  if (token) headers['authorization'] = `Bearer ${token}`
  const res = await fetch(path, { ...init, headers })
  const text = await res.text()
  const body = text ? JSON.parse(text) : {}
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`)
  return body as T
}

/** `to:bob subject:"big sale" header:X-Tag:a word` → URL parameters; bare words search the subject. */
function searchParams(text: string): URLSearchParams {
  const params = new URLSearchParams()
  const words: string[] = []
  for (const m of text.matchAll(/(\w+):("[^"]*"|\S+)|("[^"]*"|\S+)/g)) {
    if (m[1] && QUERY_NAMES.includes(m[1])) {
      const value = m[2]!.replace(/^"|"$/g, '')
      if (m[1] === 'header') params.append('header', value)
      else params.set(m[1], value)
    } else words.push((m[0] ?? '').replace(/^"|"$/g, ''))
  }
  if (words.length) params.set('subject', words.join(' '))
  return params
}

const state = {
  messages: [] as Summary[],
  selected: -1,
  openId: null as string | null,
  tab: 'overview',
  fresh: new Set<string>(),
}

const namespaceSelect = $<HTMLSelectElement>('#namespace')
const currentNamespace = () => (namespaceSelect.value === '*' ? undefined : namespaceSelect.value)

function setStatus(text: string) {
  $('#status').textContent = text
}

async function loadList() {
  const params = searchParams($<HTMLInputElement>('#q').value)
  const ns = currentNamespace()
  if (ns !== undefined) params.set('namespace', ns)
  params.set('order', 'desc')
  params.set('limit', '500')
  try {
    const page = await api<{ messages: Summary[]; total: number }>(`/api/v1/messages?${params}`)
    state.messages = page.messages
    renderList()
    setStatus(`${page.total} message${page.total === 1 ? '' : 's'}`)
  } catch (err) {
    setStatus(`error: ${(err as Error).message}`)
  }
}

function renderList() {
  const body = $('#list tbody')
  body.replaceChildren(
    ...state.messages.map((m, i) => {
      const row = el(
        'tr',
        { 'data-id': m.id, tabindex: '-1' },
        el('td', {}, new Date(m.receivedAt).toLocaleTimeString()),
        el('td', {}, m.namespace ?? ''),
        el('td', { class: `verdict-${m.outcome}` }, m.outcome + (m.faults.length ? ' ⚡' : '')),
        el('td', { title: m.sender }, m.sender || '<>'),
        el('td', { title: m.recipients.join(', ') }, m.recipients.join(', ')),
        el('td', { title: m.subject ?? '' }, m.subject ?? ''),
      )
      if (i === state.selected) row.classList.add('selected')
      if (state.fresh.has(m.id)) row.classList.add('new')
      row.addEventListener('click', () => select(i, true))
      return row
    }),
  )
  $('#empty').hidden = state.messages.length > 0
}

function select(i: number, open: boolean) {
  if (state.messages.length === 0) return
  state.selected = Math.max(0, Math.min(state.messages.length - 1, i))
  renderList()
  const row = $('#list tbody').children[state.selected] as HTMLElement | undefined
  row?.scrollIntoView({ block: 'nearest' })
  if (open) void openMessage(state.messages[state.selected]!.id)
}

const TABS = ['overview', 'headers', 'text', 'html', 'raw', 'transcript']

function dl(entries: Array<[string, unknown]>) {
  return el(
    'dl',
    {},
    ...entries.flatMap(([k, v]) => [
      el('dt', {}, k),
      el(
        'dd',
        {},
        v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v),
      ),
    ]),
  )
}

async function openMessage(id: string) {
  state.openId = id
  state.fresh.delete(id)
  $('#faults').hidden = true
  $('#view').hidden = false
  let m: Detail
  try {
    m = await api<Detail>(`/api/v1/messages/${encodeURIComponent(id)}`)
  } catch (err) {
    $('#tab-body').replaceChildren(el('p', { class: 'error' }, (err as Error).message))
    return
  }
  if (state.openId !== id) return
  $('#tabs').replaceChildren(
    ...TABS.map((name, i) => {
      const b = el(
        'button',
        { role: 'tab', 'aria-selected': String(name === state.tab), title: `${i + 1}` },
        name,
      )
      b.addEventListener('click', () => {
        state.tab = name
        void openMessage(id)
      })
      return b
    }),
  )
  const body = $('#tab-body')
  const envText = (v: string | { base64: string }) => (typeof v === 'string' ? v : `base64:${v.base64}`)
  switch (state.tab) {
    case 'overview':
      body.replaceChildren(
        el('h2', {}, m.subject ?? '(no subject)'),
        el('h3', {}, 'Envelope'),
        dl([
          ['id', m.id],
          ['namespace', m.namespace],
          ['received', m.receivedAt],
          ['sender', m.sender || '<>'],
          ['recipients', m.recipients.join(', ')],
          ['size', `${m.size} bytes received, ${m.deliveredSize} delivered`],
          ['verdict', m.verdict ? `${m.verdict.code} ${m.verdict.text}` : 'closed without a reply'],
          ['stored', m.stored ? 'yes' : 'no'],
          ['faults', m.faults.length ? m.faults.join(', ') : 'none'],
        ]),
        el('h3', {}, 'Connection'),
        dl([
          ['client', `${m.client}:${m.connection['remotePort']}`],
          ['server', `${m.connection['localIp']}:${m.connection['localPort']}`],
          ['matched rule', m.rule ?? '(none)'],
          ['decision', m.connection['decision']],
        ]),
        el('h3', {}, 'Environment'),
        el('pre', { id: 'env' }, m.connection.env.map(e => `${e.name}=${envText(e.value)}`).join('\n')),
        el('h3', {}, 'GreenArrow metadata'),
        dl(Object.entries(m.metadata)),
      )
      break
    case 'headers': {
      const table = (rows: Array<[string, string]> | null) =>
        rows ? el('pre', {}, rows.map(([k, v]) => `${k}: ${v}`).join('\n')) : el('p', {}, 'not kept')
      body.replaceChildren(
        el('h3', {}, 'As received'),
        table(m.headers.received),
        el('h3', {}, 'As delivered'),
        table(m.headers.delivered),
      )
      break
    }
    case 'text': {
      try {
        const { parts } = await api<{
          parts: Array<{ path: string; contentType: string; text: string | null }>
        }>(`/api/v1/messages/${encodeURIComponent(id)}/parts`)
        const text = parts.find(p => p.contentType === 'text/plain')
        body.replaceChildren(
          el('pre', {}, text?.text ?? '(no text/plain part)'),
          el('h3', {}, 'Parts'),
          el('pre', {}, parts.map(p => `${p.path}  ${p.contentType}`).join('\n')),
        )
      } catch (err) {
        body.replaceChildren(el('p', {}, (err as Error).message))
      }
      break
    }
    case 'html':
      // No scripts, no forms, no same-origin access; the server adds a CSP that blocks remote loads.
      body.replaceChildren(
        el('iframe', {
          sandbox: '',
          referrerpolicy: 'no-referrer',
          title: 'HTML body',
          src: withToken(`/api/v1/messages/${encodeURIComponent(id)}/html`),
        }),
      )
      break
    case 'raw': {
      try {
        const res = await fetch(withToken(`/api/v1/messages/${encodeURIComponent(id)}/raw`))
        body.replaceChildren(el('pre', {}, res.ok ? await res.text() : 'not kept'))
      } catch (err) {
        body.replaceChildren(el('p', {}, (err as Error).message))
      }
      break
    }
    case 'transcript':
      body.replaceChildren(el('pre', {}, JSON.stringify(m.transcript, null, 2)))
      break
  }
}

async function loadNamespaces() {
  const { namespaces } = await api<{ namespaces: Array<{ namespace: string | null; messages: number }> }>(
    '/api/v1/namespaces',
  )
  const chosen = namespaceSelect.value
  namespaceSelect.replaceChildren(
    el('option', { value: '*' }, 'all'),
    ...namespaces.map(n =>
      el('option', { value: n.namespace ?? '' }, `${n.namespace ?? '(none)'} (${n.messages})`),
    ),
  )
  namespaceSelect.value = [...namespaceSelect.options].some(o => o.value === chosen) ? chosen : '*'
}

interface Rule {
  id: string
  match: Record<string, unknown>
  action: Record<string, unknown>
  remaining: number | null
  hits: number
}

async function loadFaults() {
  const ns = currentNamespace()
  const { faults } = await api<{ faults: Rule[] }>(
    `/api/v1/faults${ns === undefined ? '' : `?namespace=${encodeURIComponent(ns)}`}`,
  )
  $('#fault-list tbody').replaceChildren(
    ...faults.map(r => {
      const del = el('button', { type: 'button' }, 'remove')
      del.addEventListener('click', async () => {
        await api(`/api/v1/faults/${r.id}`, { method: 'DELETE' })
        void loadFaults()
      })
      return el(
        'tr',
        {},
        el('td', {}, r.id),
        el('td', {}, JSON.stringify(r.match)),
        el('td', {}, JSON.stringify(r.action)),
        el('td', {}, r.remaining === null ? '∞' : String(r.remaining)),
        el('td', {}, String(r.hits)),
        el('td', {}, del),
      )
    }),
  )
}

function showFaults() {
  $('#view').hidden = true
  $('#faults').hidden = false
  void loadFaults()
}

$('#fault-form').addEventListener('submit', async ev => {
  ev.preventDefault()
  const form = ev.target as HTMLFormElement
  const data = new FormData(form)
  const match: Record<string, string | string[]> = {}
  for (const [k, v] of searchParams(String(data.get('match') ?? ''))) match[k] = k === 'header' ? [v] : v
  const [kind, value] = String(data.get('kind')).split(':')
  const action: Record<string, unknown> = {}
  if (kind === 'reply') action['reply'] = value
  if (kind === 'drop') action['drop'] = value
  if (kind === 'garble') action['garble'] = value
  if (data.get('text') && kind === 'reply') action['text'] = String(data.get('text'))
  if (data.get('delayMs')) action['delayMs'] = Number(data.get('delayMs'))
  const rule: Record<string, unknown> = { match, action }
  if (data.get('count')) rule['count'] = Number(data.get('count'))
  try {
    await api('/api/v1/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rule),
    })
    $('#fault-error').textContent = ''
    form.reset()
    void loadFaults()
  } catch (err) {
    $('#fault-error').textContent = (err as Error).message
  }
})

async function reset() {
  const ns = currentNamespace()
  const what = ns === undefined ? 'all messages and fault rules' : `namespace ${ns || '(none)'}`
  if (!window.confirm(`Remove ${what}?`)) return
  await api(`/api/v1/reset${ns === undefined ? '' : `?namespace=${encodeURIComponent(ns)}`}`, {
    method: 'POST',
  })
  state.openId = null
  $('#view').hidden = true
  await Promise.all([loadList(), loadNamespaces()])
}

let pending: ReturnType<typeof setTimeout> | undefined
function refreshSoon() {
  clearTimeout(pending)
  pending = setTimeout(() => {
    void loadList()
    void loadNamespaces()
  }, 80)
}

function listen() {
  const events = new EventSource(withToken('/api/v1/events'))
  events.addEventListener('open', () => setStatus('live'))
  events.addEventListener('message', ev => {
    const e = JSON.parse((ev as MessageEvent).data) as { message: Summary }
    state.fresh.add(e.message.id)
    refreshSoon()
  })
  for (const type of ['reset', 'fault-added', 'fault-removed'])
    events.addEventListener(type, () => {
      refreshSoon()
      if (!$('#faults').hidden) void loadFaults()
    })
  events.addEventListener('error', () => setStatus('reconnecting…'))
}

$('#search').addEventListener('submit', ev => {
  ev.preventDefault()
  void loadList()
})
$('#q').addEventListener('input', () => refreshSoon())
namespaceSelect.addEventListener('change', () => {
  void loadList()
  if (!$('#faults').hidden) void loadFaults()
})
$('#faults-button').addEventListener('click', showFaults)
$('#reset-button').addEventListener('click', () => void reset())

document.addEventListener('keydown', (ev: KeyboardEvent) => {
  const typing = ev.target instanceof HTMLElement && /^(INPUT|SELECT|TEXTAREA)$/.test(ev.target.tagName)
  if (ev.key === 'Escape') {
    if (typing) (ev.target as HTMLElement).blur()
    else {
      $('#view').hidden = true
      $('#faults').hidden = true
    }
    return
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return
  if (ev.key === '/') {
    ev.preventDefault()
    $('#q').focus()
  } else if (ev.key === 'j' || ev.key === 'ArrowDown') select(state.selected + 1, !$('#view').hidden)
  else if (ev.key === 'k' || ev.key === 'ArrowUp') select(state.selected - 1, !$('#view').hidden)
  else if (ev.key === 'Enter' || ev.key === 'o') select(Math.max(0, state.selected), true)
  else if (ev.key === 'f') showFaults()
  else if (ev.key === 'R') void reset()
  else if (/^[1-6]$/.test(ev.key) && state.openId) {
    state.tab = TABS[Number(ev.key) - 1]!
    void openMessage(state.openId)
  }
})

void loadNamespaces()
void loadList()
listen()
