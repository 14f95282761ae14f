// The web UI in Debian's chromium against a real three-server cluster: each view shows
// real data, changes made with curl appear without a reload, actions taken in the page
// reach the API, and nothing an agent stores is ever interpreted as markup.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cluster, browser, page, curl, waitFor } from './harness.mjs';

const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../target/ui-screenshots');
const HTML_NAME = '<img src=x onerror=alert(1)>';

/** A CSS attribute value, quoted. */
const q = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

describe('the web UI on a three-server cluster', () => {
  let c; let b; let p; let a; let origin;
  const requests = [];

  /** The row of table `testid` whose key is `key`. */
  const row = (testid, key) => p.locator(`table[data-testid=${testid}] tbody tr[data-key=${q(key)}]`);
  const rowCount = (testid) => p.locator(`table[data-testid=${testid}] tbody tr`).count();
  const text = async (loc) => (await loc.textContent()) ?? '';
  const dialogButton = (name) => p.locator('dialog[open] button', { hasText: name });
  const api = (path) => JSON.parse(curl(`${origin}${path}`));

  before(async () => {
    c = await cluster(3);
    a = c.agents[0];
    origin = a.url;
    mkdirSync(SHOTS, { recursive: true });
    const reg = (agent, body) => curl('-X', 'PUT', `${agent.url}/v1/agent/service/register`, '-d', JSON.stringify(body));
    reg(a, { Name: 'web', ID: 'web-1', Port: 8080, Tags: ['prod', 'v1'], Check: { CheckID: 'web-1-ttl', Name: 'web-1 heartbeat', TTL: '300s', Status: 'passing' } });
    reg(c.agents[1], { Name: 'web', ID: 'web-2', Port: 8081, Tags: ['staging'] });
    reg(c.agents[2], { Name: 'db', ID: 'db-1', Port: 5432, Tags: ['primary'] });
    await waitFor('the seeded services in the catalog', () => api('/v1/catalog/service/web').length === 2 && api('/v1/catalog/service/db').length === 1);
    b = await browser();
    p = await page(b);
    p.on('request', (r) => requests.push(r.url()));
  });

  after(async () => {
    await b?.close();
    c?.stop();
  });

  it('answers / with a redirect to /ui/ and lists every service with its instances and health', async () => {
    const head = curl('-si', `${origin}/`);
    assert.match(head, /^HTTP\/1\.1 301/);
    assert.match(head, /\r\nlocation: \/ui\/\r\n/i);
    await p.goto(`${origin}/`);
    assert.equal(new URL(p.url()).pathname, '/ui/');
    await row('services', 'web').waitFor();
    await row('services', 'db').waitFor();
    await row('services', 'consul').waitFor();
    const web = await text(row('services', 'web'));
    assert.match(web, /web/);
    assert.equal(await text(row('services', 'web').locator('td').nth(2)), '2', 'two instances of web');
    assert.match(web, /passing/);
    assert.match(web, /prod/);
    assert.match(web, /staging/);
    assert.equal(await text(row('services', 'consul').locator('td').nth(2)), '3', 'three servers');
    await p.screenshot({ path: join(SHOTS, 'services.png') });
  });

  it('shows a registration made with curl and a check turning critical without a reload', async () => {
    await p.evaluate(() => { window.__sameDocument = true; });
    curl('-X', 'PUT', `${origin}/v1/agent/service/register`, '-d',
      JSON.stringify({ Name: 'api', ID: 'api-1', Port: 9090, Check: { CheckID: 'api-ttl', TTL: '300s', Status: 'passing' } }));
    await row('services', 'api').waitFor();
    assert.match(await text(row('services', 'api')), /passing/);
    curl('-X', 'PUT', `${origin}/v1/agent/check/fail/api-ttl?note=down`);
    await waitFor('the api row to turn critical', async () => /critical/.test(await text(row('services', 'api'))));
    assert.equal(await p.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  });

  it('lists every check worst first, and narrows them to the critical ones', async () => {
    await p.goto(`${origin}/ui/checks`);
    const r = row('checks', 'ui-s1/api-ttl');
    await r.waitFor();
    assert.match(await text(r), /critical/);
    assert.match(await text(r), /down/, 'the check output');
    assert.equal(await p.locator('table[data-testid=checks] tbody tr').first().getAttribute('data-key'), 'ui-s1/api-ttl', 'the critical check first');
    await row('checks', 'ui-s2/serfHealth').waitFor();
    await p.locator('input.filter').fill('Status == critical');
    await waitFor('only the critical check', async () => (await rowCount('checks')) === 1 && (await r.count()) === 1);
    await p.goto(`${origin}/ui/services`);
  });

  it('narrows the list with plain text and with a filter expression, kept in the URL', async () => {
    const box = p.locator('input.filter');
    await box.fill('web');
    await waitFor('only web', async () => (await rowCount('services')) === 1 && (await row('services', 'web').count()) === 1);
    assert.equal(new URL(p.url()).searchParams.get('filter'), 'web');
    await box.fill('"staging" in Tags');
    await waitFor('the expression to select web', async () => (await rowCount('services')) === 1 && (await row('services', 'web').count()) === 1);
    await box.fill('Name == db');
    await waitFor('the expression to select db', async () => (await rowCount('services')) === 1 && (await row('services', 'db').count()) === 1);
    await box.fill('plug in');
    await waitFor('words with an operator\'s name to stay a text search', async () => (await rowCount('services')) === 0
      && /^0 of \d+$/.test(await text(p.locator('[data-testid=count]'))));
    assert.equal(await text(p.locator('main p.error')), '', 'no filter error for plain words');
    await box.fill('Name ==');
    await waitFor('the agent\'s reason for a bad expression', async () =>
      /Failed to create boolean expression evaluator/.test(await text(p.locator('main p.error'))));
    await box.fill('');
    await waitFor('every service back', async () => (await rowCount('services')) >= 4);
  });

  it('opens a deep link to a service with its instances and checks, and keeps it on reload', async () => {
    for (const path of ['/ui/services/web', '/ui/dc1/services/web']) {
      await p.goto(origin + path);
      await row('instances', 'ui-s1/web-1').waitFor();
      await row('instances', 'ui-s2/web-2').waitFor();
      assert.match(await text(row('instances', 'ui-s1/web-1')), /web-1 heartbeat/);
      assert.match(await text(row('instances', 'ui-s1/web-1')), /:8080/);
    }
    await p.reload();
    await row('instances', 'ui-s1/web-1').waitFor();
    assert.equal(await p.locator('nav a[aria-current=page]').textContent(), 'Services');
    await p.screenshot({ path: join(SHOTS, 'service.png') });
  });

  it('deregisters an instance only after confirmation, and it leaves the API', async () => {
    await p.goto(`${origin}/ui/services/api`);
    const r = row('instances', 'ui-s1/api-1');
    await r.waitFor();
    await r.locator('button', { hasText: 'Deregister' }).click();
    await dialogButton('Cancel').click();
    assert.equal(api('/v1/catalog/service/api').length, 1, 'cancel keeps it');
    await r.locator('button', { hasText: 'Deregister' }).click();
    await dialogButton('Deregister').click();
    await waitFor('api to leave the catalog', () => api('/v1/catalog/service/api').length === 0);
    await waitFor('the instance row to go', async () => (await r.count()) === 0);
    assert.match(await text(p.locator('#status')), /deregistered api-1/);
  });

  it('registers a service from the form', async () => {
    await p.goto(`${origin}/ui/services`);
    await p.locator('button', { hasText: 'Register service' }).click();
    const form = p.locator('dialog[open] form');
    await form.locator('[name=name]').fill('form-svc');
    await form.locator('[name=port]').fill('9000');
    await form.locator('[name=tags]').fill('blue, canary');
    await form.locator('[name=meta]').fill('version=7');
    await form.locator('[name=check]').selectOption('ttl');
    await form.locator('button[type=submit]').click();
    await waitFor('form-svc on the agent', () => {
      const s = api('/v1/agent/services')['form-svc'];
      return s && s.Port === 9000 && s.Tags.join() === 'blue,canary' && s.Meta.version === '7';
    });
    await row('services', 'form-svc').waitFor();
    assert.equal(api('/v1/agent/checks')['service:form-svc']?.Type, 'ttl');
  });

  it('creates, edits and deletes KV entries with CAS, and reports a conflicting edit', async () => {
    await p.goto(`${origin}/ui/kv/`);
    await p.locator('button', { hasText: 'Create' }).click();
    // A `..` segment would be resolved away by the browser into another endpoint.
    await p.locator('dialog[open] [name=key]').fill('../agent/leave');
    await p.locator('dialog[open] button[type=submit]').click();
    await waitFor('the dot-segment refusal', async () => /cannot be "\." or "\.\."/.test(await text(p.locator('dialog[open] .error'))));
    assert.equal(JSON.parse(curl(`${origin}/v1/status/leader`)) !== '', true, 'the agent is still in its cluster');
    await p.locator('dialog[open] [name=key]').fill('app/config');
    await p.locator('dialog[open] [name=value]').fill('v1');
    await p.locator('dialog[open] button[type=submit]').click();
    await row('kv', 'app/').waitFor();
    assert.equal(curl(`${origin}/v1/kv/app/config?raw`), 'v1');
    await row('kv', 'app/').locator('a').click();
    await row('kv', 'app/config').locator('a').click();
    assert.equal(new URL(p.url()).pathname, '/ui/kv/app/config');
    const area = p.locator('textarea.value');
    await waitFor('the value in the editor', async () => (await area.inputValue()) === 'v1');
    await area.fill('v2 with\nnewline');
    await p.locator('button', { hasText: 'Save' }).click();
    await waitFor('the saved value through the API', () => curl(`${origin}/v1/kv/app/config?raw`) === 'v2 with\nnewline');

    // Someone else writes while the page has the key open: the save must not overwrite it.
    await waitFor('the editor to reload after the save', async () => (await area.inputValue()) === 'v2 with\nnewline');
    curl('-X', 'PUT', `${origin}/v1/kv/app/config`, '-d', 'from-curl');
    await area.fill('v3');
    await p.locator('button', { hasText: 'Save' }).click();
    await waitFor('the conflict notice', async () => /changed by someone else/.test(await text(p.locator('.notice'))));
    assert.equal(curl(`${origin}/v1/kv/app/config?raw`), 'from-curl', 'the other write survives');
    assert.equal(await text(p.locator('[data-testid=current-value]')), 'from-curl');
    assert.equal(await area.inputValue(), 'v3', 'the draft is kept');
    await p.locator('button', { hasText: 'Save' }).click();
    await waitFor('the deliberate second save', () => curl(`${origin}/v1/kv/app/config?raw`) === 'v3');

    curl('-X', 'PUT', `${origin}/v1/kv/app/nested/deep`, '-d', 'x');
    await p.goto(`${origin}/ui/kv/app/`);
    await row('kv', 'app/nested/').waitFor();
    await p.locator('button', { hasText: 'Delete folder' }).click();
    await dialogButton('Delete folder').click();
    await waitFor('app/ gone recursively', () => curl('-o', '/dev/null', '-w', '%{http_code}', `${origin}/v1/kv/app/?recurse`) === '404');
    await waitFor('the page back at the root', async () => new URL(p.url()).pathname === '/ui/kv/');
  });

  it('shows names and values that look like HTML as text, with no script run and no CSP report', async () => {
    curl('-X', 'PUT', `${origin}/v1/agent/service/register`, '-d', JSON.stringify({ Name: HTML_NAME, Tags: ['<b>tag</b>'] }));
    curl('-X', 'PUT', `${origin}/v1/kv/html/%3Cem%3Ebold`, '--data-binary', '<script>alert(2)</script><img src=x onerror=alert(3)>');
    await p.goto(`${origin}/ui/services`);
    const r = row('services', HTML_NAME);
    await r.waitFor();
    assert.equal(await text(r.locator('a')), HTML_NAME);
    assert.match(await text(r), /<b>tag<\/b>/);
    assert.equal(await p.locator('main img, main b, main em, main script').count(), 0, 'no markup from data');
    await r.locator('a').click();
    await p.locator('h1', { hasText: HTML_NAME }).waitFor();
    await p.goto(`${origin}/ui/kv/html/`);
    const k = p.locator('table[data-testid=kv] tbody tr a');
    await k.first().waitFor();
    assert.equal(await text(k.first()), '<em>bold');
    await k.first().click();
    const area = p.locator('textarea.value');
    await waitFor('the HTML-looking value in the editor', async () => (await area.inputValue()) === '<script>alert(2)</script><img src=x onerror=alert(3)>');
    assert.equal(await p.locator('main img, main b, main em, main script').count(), 0);
    assert.deepEqual(p.records.dialogs, [], 'no alert ran');
    assert.deepEqual(p.records.csp, [], 'no CSP violation');
  });

  it('lists each node alive, and a node deep link shows its services', async () => {
    await p.goto(`${origin}/ui/nodes`);
    for (const n of ['ui-s1', 'ui-s2', 'ui-s3']) {
      await row('nodes', n).waitFor();
      await waitFor(`${n} alive`, async () => /alive/.test(await text(row('nodes', n))));
    }
    assert.match(await text(row('nodes', 'ui-s3')), /db/);
    await p.goto(`${origin}/ui/nodes/ui-s2`);
    await p.locator('[data-testid=node]', { hasText: 'web-2' }).waitFor();
    assert.match(await text(p.locator('[data-testid=node]')), /Serf Health Status|serfHealth/);
    await p.goto(`${origin}/ui/nodes/no-such-node`);
    await p.locator('[data-testid=node]', { hasText: 'No node of that name' }).waitFor();
  });

  it('lists sessions and invalidates one after confirmation; the tokens view explains disabled ACLs', async () => {
    const id = JSON.parse(curl('-X', 'PUT', `${origin}/v1/session/create`, '-d', '{"Name":"ui-lock","TTL":"300s"}')).ID;
    await p.goto(`${origin}/ui/sessions`);
    const r = row('sessions', id);
    await r.waitFor();
    assert.match(await text(r), /ui-lock/);
    assert.match(await text(r), /300s/);
    await r.locator('button', { hasText: 'Invalidate' }).click();
    await dialogButton('Invalidate').click();
    await waitFor('the session to be destroyed', () => !api('/v1/session/list').some((s) => s.ID === id));
    await waitFor('the row to go', async () => (await r.count()) === 0);
    await p.goto(`${origin}/ui/tokens`);
    await waitFor('the ACL reason', async () => /ACL support disabled/.test(await text(p.locator('main p.error'))));
  });

  it('shows three raft peers with one leader, and follows a leadership transfer made in the page', async () => {
    await p.goto(`${origin}/ui/cluster`);
    await waitFor('three raft peers', async () => (await rowCount('raft-peers')) === 3);
    await waitFor('one leader mark', async () => (await p.locator('[data-testid=leader-mark]').count()) === 1);
    await waitFor('replication numbers', async () => /\d/.test(await text(p.locator('table[data-testid=raft-peers] tbody tr').first().locator('td').nth(5))));
    await p.screenshot({ path: join(SHOTS, 'cluster.png') });
    const conf = api('/v1/operator/raft/configuration');
    const target = conf.Servers.find((s) => !s.Leader);
    await row('raft-peers', target.ID).locator('button', { hasText: 'Make leader' }).click();
    await dialogButton('Transfer leadership').click();
    await waitFor(`${target.Node} to lead in the page`, async () => (await row('raft-peers', target.ID).locator('[data-testid=leader-mark]').count()) === 1);
    await waitFor('the API to agree', () => api('/v1/operator/raft/configuration').Servers.find((s) => s.Leader)?.ID === target.ID);
    assert.equal(await p.locator('[data-testid=leader-mark]').count(), 1);
  });

  it('shows a killed server as failed and force-leave marks it left', async () => {
    const leader = api('/v1/operator/raft/configuration').Servers.find((s) => s.Leader).Node;
    const victim = c.agents.slice(1).find((x) => x.name !== leader);
    victim.kill();
    await p.goto(`${origin}/ui/cluster`);
    const r = row('members', victim.name);
    await waitFor(`${victim.name} failed`, async () => /failed/.test(await text(r)), 60_000);
    await r.locator('button', { hasText: 'Force leave' }).click();
    await dialogButton('Force leave').click();
    await waitFor(`${victim.name} left`, async () => /left/.test(await text(r)));
    const m = api('/v1/agent/members').find((x) => x.Name === victim.name);
    assert.equal(m.Status, 3, 'left in the API too');
  });

  it('switches between the console\'s themes and remembers the choice', async () => {
    await p.goto(`${origin}/ui/services`);
    await row('services', 'web').waitFor();
    const colours = {};
    for (let i = 0; i < 3; i++) {
      await p.locator('#theme-button').click();
      const theme = await p.evaluate(() => document.documentElement.dataset.theme);
      colours[theme] = await p.evaluate(() => getComputedStyle(document.body).color);
    }
    assert.deepEqual(Object.keys(colours).sort(), ['dark', 'high-contrast', 'light']);
    assert.equal(colours.light, 'rgb(36, 41, 47)', 'themes/light.toml text = #24292f');
    assert.equal(colours.dark, 'rgb(208, 212, 220)', 'themes/dark.toml text = #d0d4dc');
    await p.locator('#theme-button').click();
    const chosen = await p.evaluate(() => document.documentElement.dataset.theme);
    await p.reload();
    await row('services', 'web').waitFor();
    assert.equal(await p.evaluate(() => document.documentElement.dataset.theme), chosen);
  });

  it('talked to nothing but its own agent and threw no error', () => {
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    assert.deepEqual(p.records.errors, []);
    assert.deepEqual(p.records.csp, []);
  });
});
