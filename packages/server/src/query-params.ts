/**
 * The query parameters every endpoint and command shares, in documentation order. This file
 * has no imports so that the browser UI (web/app.ts, bundled by esbuild) can share it.
 */
export const QUERY_PARAMS = [
  'to',
  'from',
  'subject',
  'header',
  'mailclass',
  'vmta',
  'sendid',
  'listid',
  'client',
  'rule',
  'namespace',
  'verdict',
  'since',
  'until',
] as const
