// @ts-check
// The shell: header facts, theme, token, and a router whose URL names the view and the
// selection, so any screen can be bookmarked or shared (`/ui/services/web`, `/ui/kv/app/`).

import { call, connection, datacenter, every, get, setDatacenter, setToken, token } from './api.js';
import { field, fill, formDialog, h } from './dom.js';
import { servicesView, serviceView, nodesView, nodeView, checksView, sessionsView, tokensView } from './views.js';
import { kvView } from './kv.js';
import { clusterView } from './cluster.js';

const VIEWS = ['services', 'nodes', 'checks', 'kv', 'cluster', 'sessions', 'tokens'];
const THEMES = ['dark', 'light', 'high-contrast'];

/** What the views share: where to draw, when to stop, how to move and report. */
export class Ctx {
  /** @param {HTMLElement} root @param {AbortSignal} signal @param {string[]} rest @param {URLSearchParams} params */
  constructor(root, signal, rest, params) {
    this.root = root;
    this.signal = signal;
    this.rest = rest;
    this.params = params;
  }

  /** The agent's own node: its services are deregistered through the agent (never while
   * another datacenter is shown). */
  get localNode() {
    return datacenter() && datacenter() !== agentInfo.dc ? '' : agentInfo.node;
  }

  /** Replace the query string without a new history entry (the filter box). @param {Record<string,string>} p */
  setParams(p) {
    const url = new URL(location.href);
    for (const [k, v] of Object.entries(p)) {
      if (v) url.searchParams.set(k, v);
      else url.searchParams.delete(k);
    }
    history.replaceState(null, '', url);
  }

  /** Called when a view has drawn its data; the first call marks the page's first render. */
  rendered() {
    if (!firstRender) {
      firstRender = true;
      performance.mark('disco-first-render');
      document.documentElement.dataset.rendered = 'true';
    }
  }
}

let firstRender = false;
const agentInfo = { node: '', dc: '' };
/** @type {(v?: any) => void} */
let agentKnown = () => {};
/** Resolves once `/v1/agent/self` has answered (or failed): views that mark the agent's own row wait for it. */
export const agentReady = new Promise((r) => { agentKnown = r; });
/** @type {AbortController | null} */
let current = null;

/** The part of the URL after the UI's base, split into decoded segments. */
function route() {
  const base = new URL(document.baseURI).pathname;
  let path = location.pathname;
  path = path.startsWith(base) ? path.slice(base.length) : path.replace(/^\//, '');
  const parts = path.split('/').map((s) => {
    try { return decodeURIComponent(s); } catch (_) { return s; }
  });
  // Consul's own UI puts the datacenter first (`/ui/dc1/services`): accept those links.
  let dcInPath = '';
  if (parts.length > 1 && parts[0] !== '' && !VIEWS.includes(parts[0])) dcInPath = parts.shift() ?? '';
  return { parts, dcInPath };
}

/** The datacenter the URL names: `?dc=`, else Consul's path form. @param {string} dcInPath */
function urlDatacenter(dcInPath) {
  return new URLSearchParams(location.search).get('dc') ?? dcInPath;
}

/** Move to an app URL (relative to the UI's base). @param {string} href */
export function navigate(href) {
  const url = new URL(href, document.baseURI);
  // The datacenter shown follows every link until the switch changes it.
  const dc = datacenter();
  if (dc && !url.searchParams.has('dc')) url.searchParams.set('dc', dc);
  history.pushState(null, '', url);
  render();
}

function render() {
  current?.abort();
  current = new AbortController();
  const { parts, dcInPath } = route();
  const dc = urlDatacenter(dcInPath);
  setDatacenter(dc && dc !== agentInfo.dc ? dc : '');
  showDatacenter();
  const view = parts[0] || 'services';
  const rest = parts.slice(1);
  const root = /** @type {HTMLElement} */ (document.getElementById('view'));
  fill(root);
  for (const a of document.querySelectorAll('nav a')) {
    if (/** @type {HTMLElement} */ (a).dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const ctx = new Ctx(root, current.signal, rest, new URLSearchParams(location.search));
  document.title = `disco · ${view}${rest.length && rest[0] ? ` · ${rest.join('/')}` : ''}`;
  switch (view) {
    case 'services': (rest[0] ? serviceView : servicesView)(ctx); break;
    case 'nodes': (rest[0] ? nodeView : nodesView)(ctx); break;
    case 'checks': checksView(ctx); break;
    case 'kv': kvView(ctx); break;
    case 'cluster': clusterView(ctx); break;
    case 'sessions': sessionsView(ctx); break;
    case 'tokens': tokensView(ctx); break;
    default: fill(root, h('h1', null, 'Not found'), h('p', null, 'No view is called ', h('code', null, view), '.'));
  }
}

/** One line at the foot of the page for the outcome of an action. @param {string} text @param {boolean} [ok] */
export function status(text, ok = true) {
  const el = /** @type {HTMLElement} */ (document.getElementById('status'));
  el.dataset.ok = String(ok);
  fill(el, text);
}

function applyTheme(/** @type {string} */ t) {
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  const btn = document.getElementById('theme-button');
  if (btn) fill(btn, `Theme: ${t || 'auto'}`);
}

function setup() {
  applyTheme(localStorage.getItem('disco.theme') ?? '');
  document.getElementById('theme-button')?.addEventListener('click', () => {
    const now = document.documentElement.dataset.theme ?? '';
    const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
    localStorage.setItem('disco.theme', next);
    applyTheme(next);
  });
  document.getElementById('token-button')?.addEventListener('click', () => {
    formDialog('ACL token', [
      field('Secret ID', 'token', { value: token(), autocomplete: 'off', spellcheck: 'false',
        hint: 'Sent as X-Consul-Token with every request from this browser; empty uses the agent\'s default token.' }),
    ], 'Use token', async (form) => {
      const t = String(new FormData(form).get('token') ?? '').trim();
      setToken(t);
      await loadAgent();
      render();
    });
  });
  document.addEventListener('click', (e) => {
    const a = /** @type {HTMLElement} */ (e.target)?.closest?.('a[data-link]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(/** @type {HTMLAnchorElement} */ (a).href);
  });
  window.addEventListener('popstate', render);
  document.getElementById('dc')?.addEventListener('change', (e) => {
    const d = /** @type {HTMLSelectElement} */ (e.target).value;
    // The same view, without Consul's `/<dc>/` path segment, which would win otherwise.
    const url = new URL(route().parts.map(encodeURIComponent).join('/'), document.baseURI);
    url.search = location.search;
    url.searchParams.delete('filter');
    if (d && d !== agentInfo.dc) url.searchParams.set('dc', d);
    else url.searchParams.delete('dc');
    setDatacenter(d === agentInfo.dc ? '' : d);
    history.pushState(null, '', url);
    render();
  });
  const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
  connection.addEventListener('change', (e) => {
    const { state, why } = /** @type {CustomEvent} */ (e).detail;
    conn.dataset.state = state;
    conn.title = why || 'Connection to the agent';
    fill(conn, state);
  });
}

/** The datacenter switch: every datacenter the agent knows, the shown one selected. */
async function loadDatacenters() {
  const select = /** @type {HTMLSelectElement} */ (document.getElementById('dc'));
  let list = [];
  try {
    list = (await call('GET', '/v1/catalog/datacenters')).data ?? [];
  } catch (_) {
    list = [];
  }
  const names = [...new Set([agentInfo.dc, ...list, datacenter()].filter(Boolean))];
  fill(select, ...names.map((d) => h('option', { value: d }, d)));
  showDatacenter();
}

/** Select the shown datacenter in the switch. */
function showDatacenter() {
  const select = /** @type {HTMLSelectElement | null} */ (document.getElementById('dc'));
  if (!select) return;
  const shown = datacenter() || agentInfo.dc;
  if (shown && ![...select.options].some((o) => o.value === shown)) select.append(h('option', { value: shown }, shown));
  select.value = shown;
}

/** The leader in the header, every 10 s. */
function followLeader() {
  const forever = new AbortController().signal;
  every(10000, async () => {
    try {
      const leader = await get('/v1/status/leader');
      let name = leader || 'none';
      if (leader) {
        // The node's name reads better than its address; operator:read may be missing.
        const conf = await get('/v1/operator/raft/configuration?stale').catch(() => null);
        name = conf?.Servers?.find((/** @type {any} */ s) => s.Address === leader)?.Node ?? leader;
      }
      fill(/** @type {HTMLElement} */ (document.getElementById('leader')), name);
    } catch (_) {
      fill(/** @type {HTMLElement} */ (document.getElementById('leader')), 'unknown');
    }
  }, forever);
}

async function start() {
  performance.mark('disco-app-start');
  setup();
  render();
  // The view's own query goes first; the header's facts follow on the next task.
  await new Promise((r) => setTimeout(r, 0));
  followLeader();
  await loadAgent();
  agentKnown();
  // A datacenter named by the URL is known only now that the agent's own is.
  if (urlDatacenter(route().dcInPath) === agentInfo.dc) setDatacenter('');
  every(30000, loadDatacenters, new AbortController().signal);
}

/** Who this agent is (its node name, datacenter), as the current token may see it. */
async function loadAgent() {
  try {
    const self = (await call('GET', '/v1/agent/self')).data;
    agentInfo.node = self?.Config?.NodeName ?? '';
    agentInfo.dc = self?.Config?.Datacenter ?? '';
  } catch (_) {
    // Without agent:read the page still works; deregistration goes through the catalog.
    agentInfo.node = '';
  }
  showDatacenter();
}

start();
