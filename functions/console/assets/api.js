// The public API, called on this origin with the operator's key and secret. The credentials live
// in this module's memory only: no cookie, no storage; signing out or closing the tab forgets them.

let credentials = null;

// The API's base path: the page is `<base>/console` (`<base>` is a stage's prefix, or nothing).
export const basePath = location.pathname.replace(/\/console\/?$/, '');

export function signIn(apiKey, apiSecret) {
  credentials = { apiKey, apiSecret };
}

export function signOut() {
  credentials = null;
}

export function signedIn() {
  return credentials !== null;
}

/** What went wrong, in words an operator can act on; `kind` drives how it is shown. */
export class ApiFailure extends Error {
  constructor(kind, message, { status = 0, details = [], requestId = null } = {}) {
    super(message);
    this.kind = kind; // unauthorized | forbidden | rate_limited | server | network | request
    this.status = status;
    this.details = details;
    this.requestId = requestId;
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * An Idempotency-Key per form: the same key while the body is the same, so sending again after a
 * network error or a 5xx cannot create the record twice; a new one once the body changes.
 */
export function idempotencyKeys() {
  let last = null;
  return {
    for(body) {
      const text = JSON.stringify(body);
      if (!last || last.text !== text) last = { text, key: newKey() };
      return last.key;
    },
    done() {
      last = null;
    },
  };
}

/**
 * One API call: resolves to the parsed body, rejects with an `ApiFailure`.
 * @param {string} method
 * @param {string} path
 * @param {{query?: Record<string, unknown>, body?: unknown, idempotencyKey?: string}} [options]
 * @returns {Promise<any>}
 */
export async function call(method, path, { query = {}, body, idempotencyKey } = {}) {
  if (!credentials) throw new ApiFailure('unauthorized', 'Sign in first.');
  const url = new URL(basePath + path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  const headers = {
    accept: 'application/json',
    'x-api-key': credentials.apiKey,
    'x-api-secret': credentials.apiSecret,
  };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiFailure('network', 'The API could not be reached. Nothing you typed is lost: check the connection and try again.');
  }
  let parsed = null;
  try {
    parsed = response.status === 204 ? null : await response.json();
  } catch {
    parsed = null;
  }
  if (response.ok) return parsed;
  const error = parsed && parsed.error ? parsed.error : null;
  const facts = { status: response.status, details: error?.details ?? [], requestId: error?.requestId ?? null };
  if (response.status === 429) {
    const wait = response.headers.get('retry-after');
    throw new ApiFailure('rate_limited', `Slow down: too many requests. Try again in ${wait ? `${wait} s` : 'a moment'}.`, facts);
  }
  if (response.status === 401 || (response.status === 403 && !error)) {
    throw new ApiFailure('unauthorized', 'The API key and secret were not accepted. Check both and sign in again.', facts);
  }
  if (response.status >= 500 || !error) {
    const id = facts.requestId ? ` (request ${facts.requestId})` : '';
    throw new ApiFailure('server', `The server failed to answer (HTTP ${response.status})${id}. Nothing you typed is lost: try again.`, facts);
  }
  throw new ApiFailure(response.status === 403 ? 'forbidden' : 'request', error.message, facts);
}

/** Every page of a list, up to `maxPages` of 100: `{items, complete}`. */
export async function collect(path, query = {}, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await call('GET', path, { query: { ...query, limit: 100, cursor } });
    items.push(...answer.data);
    cursor = answer.paging.nextCursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}
