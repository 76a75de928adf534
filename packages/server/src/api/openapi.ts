import { QUERY_PARAMS } from '../query.js'

const queryDescriptions: Record<(typeof QUERY_PARAMS)[number], string> = {
  to: 'a recipient contains this (any case)',
  from: 'the envelope sender contains this (any case)',
  subject: 'the Subject contains this (any case)',
  header: 'Name:value — a header of that name contains value (any case); repeatable',
  mailclass: 'GreenArrow mail class, exactly',
  vmta: 'VirtualMTA, exactly',
  sendid: 'SendID, exactly',
  listid: 'ListID, exactly',
  client: 'client IP address, exactly',
  rule: 'the access rule key that matched, exactly',
  namespace: 'namespace, exactly; empty for messages without one',
  verdict: 'K, Z, D, or drop (closed without a reply)',
  since: 'received at or after (ISO 8601 or ms since the epoch)',
  until: 'received before (ISO 8601 or ms since the epoch)',
}

const queryParameters = QUERY_PARAMS.map(name => ({
  name,
  in: 'query',
  required: false,
  description: queryDescriptions[name],
  schema: name === 'header' ? { type: 'array', items: { type: 'string' } } : { type: 'string' },
}))

const param = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
})

const json = (ref: string, description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
})

/** The OpenAPI 3.1 description of the inspection API, served at /api/v1/openapi.json. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'qmqpd inspection API',
    version: '1',
    description:
      'Messages qmqpd received, server-side waits, namespaces, resets and deterministic fault rules. ' +
      'With --api-token every /api and /metrics request needs Authorization: Bearer TOKEN (or ?access_token=).',
  },
  paths: {
    '/api/v1/messages': {
      get: {
        summary: 'List and search messages',
        parameters: [
          ...queryParameters,
          param('cursor', 'page after this cursor (ascending) or before it (descending)'),
          param('limit', 'at most this many (1-1000, default 100)', { type: 'integer' }),
          param('order', 'asc (default) or desc', { type: 'string', enum: ['asc', 'desc'] }),
        ],
        responses: { '200': json('MessagePage', 'a page of messages'), '400': json('Error', 'bad query') },
      },
    },
    '/api/v1/messages/{id}': {
      get: {
        summary:
          'One message in full: envelope, connection, environment, rule, metadata, headers, transcript',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': json('MessageDetail', 'the message'), '404': json('Error', 'no such message') },
      },
    },
    '/api/v1/messages/{id}/raw': {
      get: {
        summary: 'The message bytes as received or as delivered',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          param('part', 'received (default) or delivered', {
            type: 'string',
            enum: ['received', 'delivered'],
          }),
        ],
        responses: { '200': { description: 'message/rfc822' }, '404': json('Error', 'not kept') },
      },
    },
    '/api/v1/messages/{id}/parts': {
      get: {
        summary: 'The MIME leaves of the delivered message, text parts decoded',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'parts' }, '404': json('Error', 'not kept') },
      },
    },
    '/api/v1/messages/{id}/html': {
      get: {
        summary: 'The first text/html part, served with a sandboxing Content-Security-Policy',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'text/html' }, '404': json('Error', 'no HTML part') },
      },
    },
    '/api/v1/wait': {
      get: {
        summary: 'Wait until count matching messages are committed after the cursor',
        parameters: [
          ...queryParameters,
          param('after', 'a cursor; without it messages already stored count'),
          param('count', 'how many (default 1)', { type: 'integer' }),
          param('timeout', 'seconds (or 500ms, 10s, 1m); default 30, at most 300'),
        ],
        responses: {
          '200': json('WaitResult', 'the messages'),
          '408': json('WaitResult', 'timed out; what was found so far'),
        },
      },
    },
    '/api/v1/reset': {
      post: {
        summary: "Remove all messages (or one namespace's) and its fault rules; returns a fresh cursor",
        parameters: [param('namespace', 'only this namespace (empty: messages without one)')],
        responses: { '200': json('ResetResult', 'done') },
      },
    },
    '/api/v1/faults': {
      get: {
        summary: 'Fault rules in force',
        parameters: [param('namespace', "only this namespace's rules")],
        responses: { '200': { description: 'rules' } },
      },
      post: {
        summary: 'Add a fault rule',
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/FaultRuleInput' } } },
        },
        responses: { '201': { description: 'the rule, with its id' }, '400': json('Error', 'bad rule') },
      },
    },
    '/api/v1/faults/{id}': {
      delete: {
        summary: 'Remove a fault rule',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': { description: 'removed' }, '404': json('Error', 'no such rule') },
      },
    },
    '/api/v1/namespaces': {
      get: {
        summary: 'Namespaces with messages or fault rules, with counts',
        responses: { '200': { description: 'namespaces' } },
      },
    },
    '/api/v1/events': {
      get: {
        summary: 'Live events (Server-Sent Events): message, reset, fault-added, fault-removed, connection',
        parameters: [param('namespace', 'only this namespace')],
        responses: { '200': { description: 'text/event-stream' } },
      },
    },
    '/livez': { get: { summary: 'The process is alive', responses: { '200': { description: 'ok' } } } },
    '/readyz': {
      get: {
        summary: 'Ready: the QMQP port is bound and the backend is open',
        responses: { '200': { description: 'ready' }, '503': { description: 'not yet' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics (qmqpd_*)', responses: { '200': { description: 'text' } } },
    },
  },
  components: {
    schemas: {
      Error: {
        type: 'object',
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
      MessageSummary: {
        type: 'object',
        properties: {
          cursor: { type: 'string' },
          id: { type: 'string' },
          namespace: { type: ['string', 'null'] },
          receivedAt: { type: 'string', format: 'date-time' },
          stored: { type: 'boolean' },
          sender: { type: 'string' },
          recipients: { type: 'array', items: { type: 'string' } },
          subject: { type: ['string', 'null'] },
          size: { type: 'integer' },
          verdict: { type: ['object', 'null'] },
          outcome: { type: 'string', enum: ['K', 'Z', 'D', 'drop'] },
          faults: { type: 'array', items: { type: 'string' } },
        },
      },
      MessageDetail: { allOf: [{ $ref: '#/components/schemas/MessageSummary' }] },
      MessagePage: {
        type: 'object',
        properties: {
          messages: { type: 'array', items: { $ref: '#/components/schemas/MessageSummary' } },
          nextCursor: { type: ['string', 'null'] },
          cursor: { type: 'string', description: 'the latest cursor: wait after it for new messages only' },
        },
      },
      WaitResult: {
        type: 'object',
        properties: {
          messages: { type: 'array', items: { $ref: '#/components/schemas/MessageSummary' } },
          cursor: { type: 'string' },
        },
      },
      ResetResult: {
        type: 'object',
        properties: {
          cursor: { type: 'string' },
          removed: { type: 'integer' },
          faultsRemoved: { type: 'integer' },
        },
      },
      FaultRuleInput: {
        type: 'object',
        required: ['action'],
        properties: {
          match: { type: 'object', description: 'query fields, as the list parameters' },
          action: {
            type: 'object',
            properties: {
              reply: { enum: ['Z', 'D'] },
              text: { type: 'string' },
              delayMs: { type: 'integer' },
              drop: { enum: ['before-reply', 'after-store'] },
              garble: { oneOf: [{ type: 'boolean' }, { enum: ['truncate', 'length'] }] },
              slowReadBps: { type: 'integer' },
            },
          },
          count: { type: ['integer', 'null'] },
          probability: { type: 'number' },
          seed: { type: 'integer' },
        },
      },
    },
  },
}
