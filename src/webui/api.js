// @ts-check
// Talking to the agent: only Consul's public `/v1/` API and its `/v1/internal/ui/*` shapes,
// so the page works against any agent that speaks them.

const TOKEN_KEY = 'disco.token';
/** Long polls open at once. Browsers allow six connections per host; writes need one. */
const MAX_POLLS = 3;
const WAIT = '5m';

/** An answer other than 2xx: the agent's one-line reason. */
export class ApiError extends Error {
  /** @param {number} status @param {string} text */
  constructor(status, text) {
    super(text.trim() || `HTTP ${status}`);
    this.status = status;
  }
}

/** The ACL token sent as `X-Consul-Token`, kept in this browser only. */
export function token() {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

/** @param {string} t */
export function setToken(t) {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

/** The connection light in the header: `live`, `retrying` or `offline`. */
export const connection = new EventTarget();
let connState = 'connecting';
/** @param {string} s @param {string} [why] */
function setConn(s, why = '') {
  if (s === connState && !why) return;
  connState = s;
  connection.dispatchEvent(new CustomEvent('change', { detail: { state: s, why } }));
}

/**
 * Whether a key has a `.` or `..` segment. Browsers resolve those (even as `%2e`) before a
 * request leaves, so such a key cannot be addressed by its URL from a page.
 * @param {string} key
 */
export function hasDotSegment(key) {
  return key.split('/').some((s) => s === '.' || s === '..');
}

/** Percent-encode each segment of a KV key or name; `/` stays a separator. @param {string} key */
export function escapePath(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * One request. JSON bodies are sent as JSON, strings as text. Resolves to the decoded body
 * (JSON when the agent says so) and the `X-Consul-Index`.
 * @param {string} method
 * @param {string} path  starting with `/v1/`
 * @param {{body?: any, signal?: AbortSignal, allow404?: boolean}} [opts]
 * @returns {Promise<{data: any, index: number, status: number}>}
 */
/** The datacenter the page shows ('' = the agent's own). */
let dc = '';

/** Show datacenter `d` ('' = the agent's own): every replicated read and write asks it. @param {string} d */
export function setDatacenter(d) {
  dc = d;
}

/** The datacenter the page shows ('' = the agent's own). */
export function datacenter() {
  return dc;
}

/**
 * `path` with `dc=` when another datacenter is shown. The agent's own endpoints and the
 * datacenter list stay local, as they are in Consul.
 * @param {string} path
 */
function inDatacenter(path) {
  if (!dc || !path.startsWith('/v1/') || path.startsWith('/v1/agent/') || path.startsWith('/v1/catalog/datacenters')) {
    return path;
  }
  return `${path}${path.includes('?') ? '&' : '?'}dc=${encodeURIComponent(dc)}`;
}

export async function call(method, path, opts = {}) {
  path = inDatacenter(path);
  /** @type {Record<string, string>} */
  const headers = {};
  const t = token();
  if (t) headers['X-Consul-Token'] = t;
  let body;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string') {
      body = opts.body;
      headers['Content-Type'] = 'text/plain; charset=utf-8';
    } else {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'same-origin' });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    setConn('offline', String(err));
    throw new ApiError(0, 'the agent cannot be reached');
  }
  setConn('live');
  const index = Number(res.headers.get('X-Consul-Index') ?? 0) || 0;
  if (res.status === 404 && opts.allow404) return { data: null, index, status: 404 };
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, text);
  const type = res.headers.get('Content-Type') ?? '';
  let data = text;
  if (type.includes('json') && text !== '') data = JSON.parse(text);
  return { data, index, status: res.status };
}

/** GET, decoded. @param {string} path @param {AbortSignal} [signal] */
export async function get(path, signal) {
  return (await call('GET', path, { signal })).data;
}

let activePolls = 0;
/** @type {(() => void)[]} */
const pollQueue = [];
/** Wait for one of the long-poll slots; a released slot is handed straight to the next waiter. */
async function pollSlot() {
  if (activePolls < MAX_POLLS) { activePolls++; return; }
  await new Promise((r) => pollQueue.push(() => r(undefined)));
}
function releasePoll() {
  const next = pollQueue.shift();
  if (next) next();
  else activePolls--;
}

/** @param {number} ms @param {AbortSignal} signal */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(undefined); return; }
    const onAbort = () => { clearTimeout(t); resolve(undefined); };
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(undefined); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Follow a blocking query until `signal` aborts: `onData` runs on the first answer and
 * whenever `X-Consul-Index` moves. An index that goes backwards (a snapshot restore, a new
 * leader) starts over from 0; errors back off from 1 s to 30 s with jitter. An endpoint
 * without an index is polled every few seconds instead.
 * @param {string} path
 * @param {(data: any, index: number) => void} onData
 * @param {{signal: AbortSignal, onError?: (e: ApiError) => void, allow404?: boolean, every?: number,
 *          permanent?: (e: ApiError) => boolean}} opts
 */
export async function follow(path, onData, opts) {
  const { signal } = opts;
  let index = 0;
  let backoff = 1000;
  let first = true;
  while (!signal.aborted) {
    const sep = path.includes('?') ? '&' : '?';
    const url = index > 0 ? `${path}${sep}index=${index}&wait=${WAIT}` : path;
    let res;
    await pollSlot();
    try {
      res = await call('GET', url, { signal, allow404: opts.allow404 });
    } catch (err) {
      releasePoll();
      if (signal.aborted) return;
      const e = err instanceof ApiError ? err : new ApiError(0, String(err));
      opts.onError?.(e);
      if ((e.status >= 400 && e.status < 500 && e.status !== 429) || opts.permanent?.(e)) {
        // Bad request, permission or a bad filter: asking again gives the same answer until
        // something else (a new filter, a new token) starts a new follow.
        await sleep(30000, signal);
      } else {
        setConn(e.status === 0 ? 'offline' : 'retrying', e.message);
        await sleep(backoff * (0.75 + Math.random() / 2), signal);
        backoff = Math.min(backoff * 2, 30000);
      }
      index = 0;
      continue;
    }
    releasePoll();
    backoff = 1000;
    const next = res.index;
    if (first || next !== index || next === 0) onData(res.data, next);
    first = false;
    if (next === 0) {
      await sleep(opts.every ?? 3000, signal);
    } else if (next < index) {
      index = 0;
    } else {
      if (next === index) await sleep(50, signal);
      index = next;
    }
  }
}

/**
 * Call `fn` now and every `ms` until `signal` aborts, for endpoints that do not block
 * (raft configuration, members).
 * @param {number} ms
 * @param {() => Promise<void>} fn
 * @param {AbortSignal} signal
 */
export async function every(ms, fn, signal) {
  while (!signal.aborted) {
    try { await fn(); } catch (_) { /* shown by fn's own handler */ }
    await sleep(ms, signal);
  }
}
