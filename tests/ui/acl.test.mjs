// The web UI on an agent with ACLs on and `default_policy: deny`: without a token the page
// shows the agent's refusals and no data; the token entered in the header is sent with
// every request, and what it may read appears; a read-only token's write is refused with
// the agent's reason and changes nothing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devAgent, browser, page, curl, waitFor } from './harness.mjs';

const MGMT = 'b1c6f0a4-5d2e-4c3b-9a8f-7e6d5c4b3a21';

describe('the web UI with ACLs on', () => {
  let d; let b; let p; let origin; let readOnly;
  const h = ['-H', `X-Consul-Token: ${MGMT}`];

  before(async () => {
    const cfg = join(process.env.TMPDIR ?? '/tmp', `disco-ui-acl-${process.pid}.json`);
    writeFileSync(cfg, JSON.stringify({ acl: { enabled: true, default_policy: 'deny', tokens: { initial_management: MGMT } } }));
    d = await devAgent('ui-acl', ['-config-file', cfg]);
    origin = d.agent.url;
    curl(...h, '-X', 'PUT', `${origin}/v1/agent/service/register`, '-d', '{"Name":"secret-svc","Port":1}');
    curl(...h, '-X', 'PUT', `${origin}/v1/acl/policy`, '-d',
      JSON.stringify({ Name: 'read-all', Rules: 'service_prefix "" { policy = "read" } node_prefix "" { policy = "read" } key_prefix "" { policy = "read" }' }));
    readOnly = JSON.parse(curl(...h, '-X', 'PUT', `${origin}/v1/acl/token`, '-d',
      JSON.stringify({ Description: 'ui reader', Policies: [{ Name: 'read-all' }] })));
    curl(...h, '-X', 'PUT', `${origin}/v1/kv/cfg/flag`, '-d', 'on');
    b = await browser();
    p = await page(b);
  });

  after(async () => {
    await b?.close();
    d?.stop();
  });

  const row = (testid, key) => p.locator(`table[data-testid=${testid}] tbody tr[data-key="${key}"]`);

  it('shows nothing without a token, and the data once a token is set in the header', async () => {
    await p.goto(`${origin}/ui/services`);
    await waitFor('the services view to answer', async () => p.evaluate(() => document.documentElement.dataset.rendered === 'true'));
    assert.equal(await row('services', 'secret-svc').count(), 0, 'an anonymous page lists nothing');
    await p.locator('#token-button').click();
    await p.locator('dialog[open] [name=token]').fill(readOnly.SecretID);
    await p.locator('dialog[open] button[type=submit]').click();
    await row('services', 'secret-svc').waitFor();
    assert.equal(await p.evaluate(() => localStorage.getItem('disco.token')), readOnly.SecretID);
  });

  it('refuses a read-only token\'s write with the agent\'s reason and changes nothing', async () => {
    await p.goto(`${origin}/ui/kv/cfg/flag`);
    const area = p.locator('textarea.value');
    await waitFor('the value', async () => (await area.inputValue()) === 'on');
    await area.fill('off');
    await p.locator('button', { hasText: 'Save' }).click();
    await waitFor('the permission error', async () => /Permission denied/i.test((await p.locator('.notice').textContent()) ?? ''));
    assert.equal(curl(...h, `${origin}/v1/kv/cfg/flag?raw`), 'on');
  });

  it('lists tokens without their secrets for a management token', async () => {
    await p.evaluate((t) => localStorage.setItem('disco.token', t), MGMT);
    await p.goto(`${origin}/ui/tokens`);
    await row('tokens', readOnly.AccessorID).waitFor();
    const text = (await row('tokens', readOnly.AccessorID).textContent()) ?? '';
    assert.match(text, /ui reader/);
    assert.match(text, /read-all/);
    assert.equal((await p.locator('main').textContent())?.includes(readOnly.SecretID), false, 'no secret on the page');
    assert.equal((await p.locator('main').textContent())?.includes(MGMT), false, 'no secret on the page');
    assert.deepEqual(p.records.errors, []);
  });
});
