// Real disco agents on loopback and Debian's chromium, for the web UI tests. Every agent
// runs in its own process group and is killed by group when the test file ends, even on
// a failure; each has its own data directory under a temporary folder.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.DISCO_BIN ?? join(ROOT, 'target/release/disco');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** `-ui`, or `-ui-dir DIR` with DISCO_UI_DIR set: edit src/webui and rerun without a rebuild. */
const UI_FLAG = process.env.DISCO_UI_DIR ? ['-ui-dir', process.env.DISCO_UI_DIR] : ['-ui'];
/** How long anything the UI should show may take to show, on a loaded 2-core machine. */
export const DEADLINE = 30_000;

/** A port the kernel just handed out on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {any} */ (s.address());
      s.close(() => res(port));
    });
  });
}

/** Poll `fn` until it returns a truthy value; fail naming `what` after the deadline. */
export async function waitFor(what, fn, deadline = DEADLINE) {
  const end = Date.now() + deadline;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One `disco agent` process. */
export class Agent {
  constructor(name, args, dir) {
    this.name = name;
    this.args = args;
    this.dir = dir;
    this.proc = null;
  }

  static async launch(name, extra, root) {
    const dir = join(root, name);
    const ports = { http: await freePort(), server: await freePort(), serf: await freePort() };
    const args = ['agent', '-node', name, '-bind', '127.0.0.1', '-client', '127.0.0.1',
      '-http-port', String(ports.http), '-dns-port', '-1', '-server-port', String(ports.server),
      '-serf-lan-port', String(ports.serf), '-serf-wan-port', '-1', '-data-dir', join(dir, 'data'), ...extra];
    const a = new Agent(name, args, dir);
    a.ports = ports;
    a.start();
    return a;
  }

  get url() { return `http://127.0.0.1:${this.ports.http}`; }

  start() {
    execFileSync('mkdir', ['-p', this.dir]);
    this.proc = spawn(BIN, this.args, { detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
  }

  /** SIGKILL the whole process group. */
  kill() {
    if (this.proc && this.proc.exitCode === null) {
      try { process.kill(-this.proc.pid, 'SIGKILL'); } catch (_) { /* already gone */ }
    }
    this.proc = null;
  }

  /** A request to this agent's HTTP API: `{status, text, json()}`. */
  async api(method, path, body) {
    const res = await fetch(this.url + path, {
      method, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  async ready() {
    await waitFor(`${this.name} to answer`, async () => (await this.api('GET', '/v1/status/leader')).status === 200);
  }
}

/** Servers that form one Raft cluster, all with the UI on. */
export async function cluster(n, extra = []) {
  const root = mkdtempSync(join(tmpdir(), 'disco-ui-'));
  const base = ['-server', '-bootstrap-expect', String(n), ...UI_FLAG, ...extra];
  const first = await Agent.launch('ui-s1', base, root);
  const agents = [first];
  for (let i = 2; i <= n; i++) {
    agents.push(await Agent.launch(`ui-s${i}`, [...base, '-retry-join', `127.0.0.1:${first.ports.serf}`, '-retry-interval', '200ms'], root));
  }
  const stop = () => {
    for (const a of agents) a.kill();
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', stop);
  for (const a of agents) await a.ready();
  await waitFor('an elected leader known to every server', async () => {
    const views = await Promise.all(agents.map(async (a) => (await a.api('GET', '/v1/status/leader')).text));
    return views[0] !== '""' && views.every((v) => v === views[0]);
  }, 60_000);
  return { agents, root, stop };
}

/** A single dev agent with the UI on, for the large catalog. */
export async function devAgent(name, extra = []) {
  const root = mkdtempSync(join(tmpdir(), 'disco-ui-'));
  const a = await Agent.launch(name, ['-dev', ...UI_FLAG, ...extra], root);
  const stop = () => { a.kill(); rmSync(root, { recursive: true, force: true }); };
  process.once('exit', stop);
  await a.ready();
  await waitFor('the dev agent to lead', async () => (await a.api('GET', '/v1/status/leader')).text !== '""');
  return { agent: a, stop };
}

/**
 * Debian's chromium, headless, with the flags that keep it off any network but ours.
 * The page records uncaught errors, dialogs (an `alert` from injected markup would show
 * here) and CSP violations for the tests to assert on.
 */
export async function browser() {
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return b;
}

/** A page with its error, dialog and CSP records. */
export async function page(b) {
  const context = await b.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await context.newPage();
  p.records = { errors: [], dialogs: [], csp: [], console: [] };
  p.on('pageerror', (e) => p.records.errors.push(String(e)));
  p.on('dialog', async (d) => { p.records.dialogs.push(d.message()); await d.dismiss(); });
  p.on('console', (m) => {
    const t = m.text();
    p.records.console.push(t);
    if (/Content Security Policy/i.test(t)) p.records.csp.push(t);
  });
  return p;
}

/** `curl`, as an operator would type it; returns stdout. */
export function curl(...args) {
  return execFileSync('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'utf8' });
}

export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}
