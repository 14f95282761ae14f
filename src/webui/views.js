// @ts-check
// Services, nodes, sessions and ACL tokens: lists that follow a blocking query each, and
// the detail pages behind them.

import { call, follow } from './api.js';
import { KeyedTable, ago, chip, confirmDialog, field, fill, formDialog, h, link, tags } from './dom.js';
import { agentReady, status } from './app.js';

/**
 * A filter is a go-bexpr expression (sent as `?filter=`) when an operator stands between
 * two operands (`"prod" in Tags`, `Status == critical`) or ends in `is [not] empty`; plain
 * words such as "plug in" stay a text search.
 */
const EXPRESSION = /(==|!=)|\S\s+(not\s+)?(in|contains|matches)\s+\S|\S\s+is\s+(not\s+)?empty\b/;

/** The agent's answer to an expression it cannot evaluate: asking again will not help. @param {import('./api.js').ApiError} e */
const filterRefused = (e) => e.status === 500 && /boolean expression|finding value|filter/i.test(e.message);

/**
 * A list that follows `path` and narrows it by the filter box: plain words search the
 * visible text in the browser, an expression goes to the agent as `?filter=`.
 * @param {import('./app.js').Ctx} ctx
 * @param {{title: string, path: string, table: KeyedTable, text: (item: any) => string,
 *          noun: string, placeholder: string, actions?: HTMLElement[], before?: HTMLElement[],
 *          shape?: (data: any) => any[]}} o
 */
export function liveList(ctx, o) {
  const count = h('span', { class: 'count muted', 'data-testid': 'count' });
  const error = h('p', { class: 'error', role: 'alert' });
  const initial = ctx.params.get('filter') ?? '';
  const input = /** @type {HTMLInputElement} */ (h('input', {
    type: 'search', class: 'filter', placeholder: o.placeholder, value: initial,
    'aria-label': `Filter ${o.noun}`, spellcheck: 'false',
  }));
  const empty = h('p', { class: 'muted empty', hidden: true }, `No ${o.noun}.`);
  fill(ctx.root, o.before ?? [],
    h('div', { class: 'toolbar' }, h('h1', null, o.title), count, input, o.actions ?? []),
    error, o.table.el, empty);

  /** @type {any[]} */
  let items = [];
  let needle = '';
  let sub = new AbortController();
  const show = () => {
    const shown = needle ? items.filter((x) => o.text(x).toLowerCase().includes(needle)) : items;
    o.table.update(shown);
    fill(count, needle ? `${shown.length} of ${items.length}` : `${items.length}`);
    empty.hidden = shown.length > 0;
    ctx.rendered();
  };
  const start = (/** @type {string} */ text) => {
    sub.abort();
    if (ctx.signal.aborted) return;
    sub = new AbortController();
    const mine = sub;
    ctx.signal.addEventListener('abort', () => mine.abort(), { once: true });
    const expr = EXPRESSION.test(text) ? text : '';
    needle = expr ? '' : text.trim().toLowerCase();
    const path = expr ? `${o.path}${o.path.includes('?') ? '&' : '?'}filter=${encodeURIComponent(expr)}` : o.path;
    follow(path, (data) => {
      fill(error);
      items = o.shape ? o.shape(data) : (data ?? []);
      show();
    }, {
      signal: sub.signal,
      allow404: true,
      permanent: expr ? filterRefused : undefined,
      onError: (e) => {
        fill(error, e.message);
        // A refusal (permission, bad filter) empties the list; an outage keeps what was
        // last seen, with the reason shown above it.
        if ((e.status >= 400 && e.status < 500) || (expr && filterRefused(e))) { items = []; show(); }
      },
    });
  };
  let debounce = 0;
  let last = initial;
  ctx.signal.addEventListener('abort', () => clearTimeout(debounce), { once: true });
  input.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      if (ctx.signal.aborted) return;
      const text = input.value;
      ctx.setParams({ filter: text });
      const wasExpr = EXPRESSION.test(last);
      const isExpr = EXPRESSION.test(text);
      last = text;
      if (wasExpr || isExpr) start(text);
      else { needle = text.trim().toLowerCase(); show(); }
    }, 200);
  });
  start(initial);
}

/** Worst of a list of check statuses, as Consul aggregates them. @param {any[]} checks */
export function worst(checks) {
  let s = 'passing';
  for (const c of checks ?? []) {
    if (c.Status === 'critical') return 'critical';
    if (c.Status === 'warning') s = 'warning';
  }
  return s;
}

/** @param {any} s a `/v1/internal/ui/services` entry */
function healthChips(s) {
  return h('span', { class: 'chips' },
    s.ChecksPassing ? chip('passing', `${s.ChecksPassing} passing`) : null,
    s.ChecksWarning ? chip('warning', `${s.ChecksWarning} warning`) : null,
    s.ChecksCritical ? chip('critical', `${s.ChecksCritical} critical`) : null,
    !s.ChecksPassing && !s.ChecksWarning && !s.ChecksCritical ? h('span', { class: 'muted' }, 'no checks') : null);
}

/** `/ui/services`: every service with its instance count and check totals. @param {import('./app.js').Ctx} ctx */
export function servicesView(ctx) {
  const table = new KeyedTable(['Service', 'Health', 'Instances', 'Nodes', 'Tags'], (s) => s.Name, (s) => [
    link(`services/${encodeURIComponent(s.Name)}`, s.Name),
    healthChips(s),
    String(s.InstanceCount ?? 0),
    String((s.Nodes ?? []).length),
    tags(s.Tags),
  ], 'services');
  liveList(ctx, {
    title: 'Services', path: '/v1/internal/ui/services', table, noun: 'services',
    placeholder: 'name or tag, or an expression: "prod" in Tags',
    text: (s) => `${s.Name} ${(s.Tags ?? []).join(' ')}`,
    actions: [h('button', { type: 'button', class: 'primary', onclick: registerDialog }, 'Register service')],
  });
}

/** The console's register form, as a dialog: `PUT /v1/agent/service/register`. */
function registerDialog() {
  formDialog('Register a service', [
    field('Name', 'name', { required: true, autocomplete: 'off' }),
    field('ID', 'id', { autocomplete: 'off', hint: 'Defaults to the name.' }),
    field('Address', 'address', { autocomplete: 'off', placeholder: 'the node\'s address' }),
    field('Port', 'port', { type: 'number', min: 0, max: 65535 }),
    field('Tags', 'tags', { autocomplete: 'off', placeholder: 'comma, separated' }),
    field('Meta', 'meta', { multiline: true, rows: 2, placeholder: 'key=value, one a line' }),
    h('label', { class: 'field' }, h('span', null, 'Check'),
      h('select', { name: 'check' },
        h('option', { value: '' }, 'none'),
        h('option', { value: 'ttl' }, 'TTL'),
        h('option', { value: 'http' }, 'HTTP'),
        h('option', { value: 'tcp' }, 'TCP'))),
    field('Check target', 'target', { autocomplete: 'off', placeholder: 'http://127.0.0.1:8080/health or host:port' }),
    field('Interval or TTL', 'interval', { value: '10s' }),
  ], 'Register', async (form) => {
    const f = new FormData(form);
    const get = (/** @type {string} */ k) => String(f.get(k) ?? '').trim();
    /** @type {Record<string, any>} */
    const body = { Name: get('name') };
    if (!body.Name) throw new Error('A service needs a name.');
    if (get('id')) body.ID = get('id');
    if (get('address')) body.Address = get('address');
    if (get('port')) body.Port = Number(get('port'));
    const tagList = get('tags').split(',').map((t) => t.trim()).filter(Boolean);
    if (tagList.length) body.Tags = tagList;
    const meta = get('meta');
    if (meta) {
      body.Meta = {};
      for (const line of meta.split('\n')) {
        if (!line.trim()) continue;
        const at = line.indexOf('=');
        if (at < 1) throw new Error(`Meta line "${line}" is not key=value.`);
        body.Meta[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
    }
    const kind = get('check');
    const interval = get('interval') || '10s';
    if (kind === 'ttl') body.Check = { TTL: interval };
    if (kind === 'http') body.Check = { HTTP: get('target'), Interval: interval };
    if (kind === 'tcp') body.Check = { TCP: get('target'), Interval: interval };
    if ((kind === 'http' || kind === 'tcp') && !get('target')) throw new Error('An HTTP or TCP check needs a target.');
    await call('PUT', '/v1/agent/service/register', { body });
    status(`registered ${body.Name}`);
  });
}

/** Checks as lines: status, name, output. @param {any[]} checks */
function checkList(checks) {
  if (!checks || checks.length === 0) return h('span', { class: 'muted' }, 'no checks');
  return h('ul', { class: 'checks' }, checks.map((c) => h('li', null,
    chip(c.Status), ' ', h('span', { class: 'check-name' }, c.Name || c.CheckID),
    c.Output ? h('pre', { class: 'output' }, c.Output) : null)));
}

/** Deregister one instance with confirmation, as the console does. */
async function deregister(/** @type {import('./app.js').Ctx} */ ctx, /** @type {string} */ node, /** @type {string} */ id) {
  await agentReady;
  const local = node === ctx.localNode;
  const ok = await confirmDialog(`Deregister ${id}?`, [
    h('p', null, 'Instance ', h('code', null, id), ' on node ', h('code', null, node), '.'),
    h('p', { class: 'muted' }, local
      ? 'It is registered with this agent, which removes it and its checks.'
      : 'It is removed from the catalog; if the node\'s agent still has it, its next sync puts it back.'),
  ], 'Deregister');
  if (!ok) return;
  try {
    if (local) await call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
    else await call('PUT', '/v1/catalog/deregister', { body: { Node: node, ServiceID: id } });
    status(local ? `deregistered ${id}` : `deregistered ${id} on ${node} from the catalog`);
  } catch (e) {
    status(`deregister ${id}: ${/** @type {Error} */ (e).message}`, false);
  }
}

/** `/ui/services/<name>`: its instances with their checks. @param {import('./app.js').Ctx} ctx */
export function serviceView(ctx) {
  const name = ctx.rest[0];
  const table = new KeyedTable(['Instance', 'Node', 'Address', 'Tags', 'Health', 'Checks', ''],
    (e) => `${e.Node?.Node}/${e.Service?.ID}`, (e) => {
      const svc = e.Service ?? {};
      const addr = svc.Address || e.Node?.Address || '';
      return [
        svc.ID,
        link(`nodes/${encodeURIComponent(e.Node?.Node ?? '')}`, e.Node?.Node ?? ''),
        svc.Port ? `${addr}:${svc.Port}` : addr,
        tags(svc.Tags),
        chip(worst(e.Checks)),
        checkList(e.Checks),
        h('button', { type: 'button', class: 'danger small', onclick: () => deregister(ctx, e.Node?.Node, svc.ID) }, 'Deregister'),
      ];
    }, 'instances');
  liveList(ctx,
    {
      before: [h('p', { class: 'crumbs' }, link('services', 'Services'), ' / ', h('span', null, name))],
      title: name, path: `/v1/health/service/${encodeURIComponent(name)}`, table, noun: 'instances',
      placeholder: 'node, address or tag, or Checks.Status == critical',
      text: (e) => `${e.Service?.ID} ${e.Node?.Node} ${e.Service?.Address} ${(e.Service?.Tags ?? []).join(' ')}`,
    });
}

/** `/ui/nodes`: every node with its gossip health, checks and services. @param {import('./app.js').Ctx} ctx */
export function nodesView(ctx) {
  const table = new KeyedTable(['Node', 'Address', 'Gossip', 'Checks', 'Services'], (n) => n.Node, (n) => {
    const serf = (n.Checks ?? []).find((c) => c.CheckID === 'serfHealth');
    const counts = { passing: 0, warning: 0, critical: 0 };
    for (const c of n.Checks ?? []) if (c.Status in counts) counts[/** @type {'passing'} */ (c.Status)]++;
    return [
      link(`nodes/${encodeURIComponent(n.Node)}`, n.Node),
      n.Address,
      serf ? chip(serf.Status, serf.Status === 'passing' ? 'alive' : 'failed') : h('span', { class: 'muted' }, '—'),
      h('span', { class: 'chips' }, Object.entries(counts).filter(([, v]) => v).map(([k, v]) => chip(k, `${v} ${k}`))),
      h('span', { class: 'tags' }, (n.Services ?? []).map((s) => link(`services/${encodeURIComponent(s.Service)}`, s.Service))),
    ];
  }, 'nodes');
  liveList(ctx, {
    title: 'Nodes', path: '/v1/internal/ui/nodes', table, noun: 'nodes',
    placeholder: 'name or address, or Meta.rack == r1',
    text: (n) => `${n.Node} ${n.Address} ${(n.Services ?? []).map((/** @type {any} */ s) => s.Service).join(' ')}`,
  });
}

/** `/ui/nodes/<name>`: one node's facts, checks and services. @param {import('./app.js').Ctx} ctx */
export function nodeView(ctx) {
  const name = ctx.rest[0];
  const body = h('div', { 'data-testid': 'node' });
  fill(ctx.root, h('p', { class: 'crumbs' }, link('nodes', 'Nodes'), ' / ', h('span', null, name)), h('h1', null, name), body);
  follow(`/v1/internal/ui/node/${encodeURIComponent(name)}`, (n) => {
    if (!n) { fill(body, h('p', { class: 'muted' }, 'No node of that name is in the catalog.')); ctx.rendered(); return; }
    const meta = Object.entries(n.Meta ?? {});
    fill(body,
      h('dl', { class: 'facts' },
        h('dt', null, 'Address'), h('dd', null, n.Address),
        h('dt', null, 'Datacenter'), h('dd', null, n.Datacenter),
        h('dt', null, 'ID'), h('dd', null, n.ID || '—'),
        meta.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      h('h2', null, 'Checks'),
      checkList(n.Checks),
      h('h2', null, 'Services'),
      (n.Services ?? []).length === 0 ? h('p', { class: 'muted' }, 'No services.') :
        h('table', { class: 'grid' },
          h('thead', null, h('tr', null, ['ID', 'Service', 'Port', 'Tags', ''].map((x) => h('th', null, x)))),
          h('tbody', null, n.Services.map((/** @type {any} */ s) => h('tr', null,
            h('td', null, s.ID),
            h('td', null, link(`services/${encodeURIComponent(s.Service)}`, s.Service)),
            h('td', null, String(s.Port ?? '')),
            h('td', null, tags(s.Tags)),
            h('td', null, h('button', { type: 'button', class: 'danger small', onclick: () => deregister(ctx, name, s.ID) }, 'Deregister')))))));
    ctx.rendered();
  }, { signal: ctx.signal, allow404: true, onError: (e) => fill(body, h('p', { class: 'error' }, e.message)) });
}

/** `/ui/checks`: every check in the datacenter, worst first, as the console's Checks view. @param {import('./app.js').Ctx} ctx */
export function checksView(ctx) {
  const rank = { critical: 0, warning: 1, passing: 2 };
  const table = new KeyedTable(['Status', 'Check', 'Node', 'Service', 'Type', 'Output'], (c) => `${c.Node}/${c.CheckID}`, (c) => [
    chip(c.Status),
    h('span', { title: c.CheckID }, c.Name || c.CheckID),
    link(`nodes/${encodeURIComponent(c.Node)}`, c.Node),
    c.ServiceName ? link(`services/${encodeURIComponent(c.ServiceName)}`, c.ServiceName) : h('span', { class: 'muted' }, 'node'),
    c.Type || (c.CheckID === 'serfHealth' ? 'serf' : '—'),
    c.Output ? h('pre', { class: 'output' }, c.Output) : h('span', { class: 'muted' }, '—'),
  ], 'checks');
  liveList(ctx, {
    title: 'Checks', path: '/v1/health/state/any', table, noun: 'checks',
    placeholder: 'name, node or service, or Status == critical',
    text: (c) => `${c.Status} ${c.Name} ${c.CheckID} ${c.Node} ${c.ServiceName} ${c.Output}`,
    shape: (data) => (data ?? []).slice().sort((/** @type {any} */ a, /** @type {any} */ b) =>
      ((rank[/** @type {'passing'} */ (a.Status)] ?? 0) - (rank[/** @type {'passing'} */ (b.Status)] ?? 0))
      || (a.Node < b.Node ? -1 : a.Node > b.Node ? 1 : 0) || (a.CheckID < b.CheckID ? -1 : a.CheckID > b.CheckID ? 1 : 0)),
  });
}

/** Nanoseconds as Consul's JSON writes durations (`LockDelay`) → seconds. @param {number} ns */
function seconds(ns) {
  return typeof ns === 'number' ? `${ns / 1e9}s` : String(ns ?? '');
}

/** `/ui/sessions`: every session, with invalidation. @param {import('./app.js').Ctx} ctx */
export function sessionsView(ctx) {
  const table = new KeyedTable(['ID', 'Name', 'Node', 'Behavior', 'TTL', 'Lock delay', 'Checks', ''], (s) => s.ID, (s) => [
    h('code', { title: s.ID }, s.ID.slice(0, 8)),
    s.Name || h('span', { class: 'muted' }, '—'),
    link(`nodes/${encodeURIComponent(s.Node)}`, s.Node),
    s.Behavior,
    s.TTL || '—',
    seconds(s.LockDelay),
    (s.NodeChecks ?? s.Checks ?? []).join(', ') || '—',
    h('button', {
      type: 'button', class: 'danger small', onclick: async () => {
        const ok = await confirmDialog('Invalidate session?', [h('p', null, 'Session ', h('code', null, s.ID), s.Name ? ` (${s.Name})` : '', ' is destroyed; the locks it holds are released or their keys deleted, as its behavior says.')], 'Invalidate');
        if (!ok) return;
        try {
          await call('PUT', `/v1/session/destroy/${encodeURIComponent(s.ID)}`);
          status(`destroyed session ${s.Name || s.ID}`);
        } catch (e) { status(/** @type {Error} */ (e).message, false); }
      },
    }, 'Invalidate'),
  ], 'sessions');
  liveList(ctx, {
    title: 'Sessions', path: '/v1/session/list', table, noun: 'sessions',
    placeholder: 'name, node or ID',
    text: (s) => `${s.ID} ${s.Name} ${s.Node}`,
  });
}

/** `/ui/tokens`: ACL tokens without their secrets. @param {import('./app.js').Ctx} ctx */
export function tokensView(ctx) {
  const names = (/** @type {any[]} */ l) => (l ?? []).map((p) => p.Name || p.ID).join(', ') || '—';
  const table = new KeyedTable(['Accessor ID', 'Description', 'Policies', 'Roles', 'Scope', 'Created'], (t) => t.AccessorID, (t) => [
    h('code', null, t.AccessorID),
    t.Description || h('span', { class: 'muted' }, '—'),
    names(t.Policies),
    names(t.Roles),
    t.Local ? 'local' : 'global',
    ago(t.CreateTime),
  ], 'tokens');
  liveList(ctx, {
    title: 'ACL tokens', path: '/v1/acl/tokens', table, noun: 'tokens',
    placeholder: 'accessor, description or policy',
    text: (t) => `${t.AccessorID} ${t.Description} ${names(t.Policies)} ${names(t.Roles)}`,
  });
}
