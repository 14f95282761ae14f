// @ts-check
// Raft peers (with the leader and how far each server trails it) and gossip members, with
// the console's two cluster actions: transfer leadership and force-leave.

import { call, every } from './api.js';
import { KeyedTable, chip, confirmDialog, fill, h, link } from './dom.js';
import { agentReady, status } from './app.js';

/** Serf's member states, by the number `/v1/agent/members` gives. */
const MEMBER_STATUS = ['none', 'alive', 'leaving', 'left', 'failed'];

/** @param {import('./app.js').Ctx} ctx */
export function clusterView(ctx) {
  const raftError = h('p', { class: 'error', role: 'alert' });
  const membersError = h('p', { class: 'error', role: 'alert' });
  const raftCount = h('span', { class: 'count muted' });
  const membersCount = h('span', { class: 'count muted' });
  /** @type {Map<string, any>} */
  let health = new Map();
  let leaderIndex = 0;

  const peers = new KeyedTable(['Node', 'ID', 'Address', 'State', 'Voter', 'Last index', 'Lag', 'Last contact', ''], (p) => p.ID, (p) => {
    const hp = health.get(p.ID);
    const lag = hp && leaderIndex ? Math.max(0, leaderIndex - (hp.LastIndex ?? 0)) : null;
    return [
      link(`nodes/${encodeURIComponent(p.Node)}`, p.Node),
      h('code', null, p.ID),
      p.Address,
      p.Leader ? h('span', { class: 'leader', 'data-testid': 'leader-mark' }, '★ leader') : 'follower',
      p.Voter ? 'yes' : 'no',
      hp ? String(hp.LastIndex ?? '') : '—',
      lag === null ? '—' : h('span', { class: lag > 100 ? 'warning-text' : '' }, String(lag)),
      hp ? (p.Leader ? '—' : (hp.LastContact ?? '—')) : '—',
      !p.Leader && p.Voter
        ? h('button', { type: 'button', class: 'small', onclick: () => transfer(p) }, 'Make leader')
        : null,
    ];
  }, 'raft-peers');

  const members = new KeyedTable(['Name', 'Address', 'Status', 'Type', 'Datacenter', 'Build', ''], (m) => m.Name, (m) => {
    const st = MEMBER_STATUS[m.Status] ?? String(m.Status);
    const tone = st === 'alive' ? 'passing' : st === 'failed' ? 'critical' : 'warning';
    const role = m.Tags?.role === 'consul' ? 'server' : 'client';
    return [
      m.Name,
      `${m.Addr}:${m.Port}`,
      chip(tone, st),
      role,
      m.Tags?.dc ?? '—',
      m.Tags?.build ?? '—',
      m.Name === ctx.localNode || st === 'left'
        ? null
        : h('button', { type: 'button', class: 'danger small', onclick: () => forceLeave(m.Name) }, 'Force leave'),
    ];
  }, 'members');

  fill(ctx.root,
    h('div', { class: 'toolbar' }, h('h1', null, 'Raft peers'), raftCount,
      h('button', { type: 'button', onclick: () => transfer(null) }, 'Transfer leadership')),
    raftError, peers.el,
    h('div', { class: 'toolbar' }, h('h1', null, 'Gossip members'), membersCount),
    membersError, members.el);

  every(2000, async () => {
    try {
      const [conf, ap] = await Promise.all([
        call('GET', '/v1/operator/raft/configuration', { signal: ctx.signal }),
        call('GET', '/v1/operator/autopilot/health', { signal: ctx.signal }).catch(() => null),
      ]);
      health = new Map();
      leaderIndex = 0;
      for (const s of ap?.data?.Servers ?? []) {
        health.set(s.ID, s);
        if (s.Leader) leaderIndex = s.LastIndex ?? 0;
      }
      const servers = conf.data?.Servers ?? [];
      // Rows depend on the health numbers too: include them in what the table compares.
      peers.update(servers.map((/** @type {any} */ p) => ({ ...p, _h: health.get(p.ID) ?? null, _l: leaderIndex })));
      fill(raftCount, `${servers.length}`);
      fill(raftError);
      ctx.rendered();
    } catch (e) {
      if (!ctx.signal.aborted) fill(raftError, /** @type {Error} */ (e).message);
    }
  }, ctx.signal);

  agentReady.then(() => every(3000, async () => {
    try {
      const list = (await call('GET', '/v1/agent/members', { signal: ctx.signal })).data ?? [];
      list.sort((/** @type {any} */ a, /** @type {any} */ b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      members.update(list);
      fill(membersCount, `${list.length}`);
      fill(membersError);
    } catch (e) {
      if (!ctx.signal.aborted) fill(membersError, /** @type {Error} */ (e).message);
    }
  }, ctx.signal));
}

/** `POST /v1/operator/raft/transfer-leader[?id=]`, after confirmation. @param {any} peer */
async function transfer(peer) {
  const ok = await confirmDialog('Transfer leadership?',
    peer
      ? h('p', null, 'The leader steps down in favour of ', h('code', null, peer.Node), ' (', h('code', null, peer.ID), ').')
      : h('p', null, 'The leader steps down and another voter takes over.'),
    'Transfer leadership');
  if (!ok) return;
  try {
    const path = peer ? `/v1/operator/raft/transfer-leader?id=${encodeURIComponent(peer.ID)}` : '/v1/operator/raft/transfer-leader';
    await call('POST', path);
    status(peer ? `leadership transferred to ${peer.Node}` : 'leadership transferred');
  } catch (e) {
    status(`transfer leadership: ${/** @type {Error} */ (e).message}`, false);
  }
}

/** `PUT /v1/agent/force-leave/<node>`, after confirmation. @param {string} node */
async function forceLeave(node) {
  const ok = await confirmDialog(`Force ${node} to leave?`,
    h('p', null, 'The member ', h('code', null, node), ' is marked as left, and its services and checks leave the catalog. A live agent rejoins by itself.'),
    'Force leave');
  if (!ok) return;
  try {
    await call('PUT', `/v1/agent/force-leave/${encodeURIComponent(node)}`);
    status(`${node} forced to leave`);
  } catch (e) {
    status(`force-leave ${node}: ${/** @type {Error} */ (e).message}`, false);
  }
}
