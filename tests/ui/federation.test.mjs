// Two datacenters joined over the WAN, the page served by dc1's agent: the header's
// datacenter switch lists both, choosing dc2 shows dc2's catalog and KV (read through dc1's
// agent with `?dc=`), the choice follows links and survives a reload, Consul's
// `/ui/<dc>/...` links open that datacenter, and switching back shows dc1 again.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { devAgent, browser, page, curl, waitFor, freePort } from './harness.mjs';

describe('the web UI across two datacenters', () => {
  let d1; let d2; let b; let p; let origin;

  before(async () => {
    const wan1 = await freePort();
    const wan2 = await freePort();
    d1 = await devAgent('fed-a', ['-datacenter', 'dc1', '-serf-wan-port', String(wan1)]);
    d2 = await devAgent('fed-b', ['-datacenter', 'dc2', '-serf-wan-port', String(wan2)]);
    origin = d1.agent.url;
    curl('-X', 'PUT', `${origin}/v1/agent/join/127.0.0.1:${wan2}?wan=1`);
    await waitFor('dc1 to know dc2', async () =>
      (await d1.agent.api('GET', '/v1/catalog/datacenters')).text.includes('dc2'));
    curl('-X', 'PUT', `${origin}/v1/agent/service/register`, '-d', '{"Name":"only-in-dc1","Port":1}');
    curl('-X', 'PUT', `${d2.agent.url}/v1/agent/service/register`, '-d', '{"Name":"only-in-dc2","Port":2}');
    curl('-X', 'PUT', `${d2.agent.url}/v1/kv/app/colour`, '-d', 'blue');
    b = await browser();
    p = await page(b);
  });

  after(async () => {
    await b?.close();
    d1?.stop();
    d2?.stop();
  });

  const row = (testid, key) => p.locator(`table[data-testid=${testid}] tbody tr[data-key="${key}"]`);
  const select = () => p.locator('select[data-testid=dc]');

  it('lists both datacenters and shows the other one\'s catalog when chosen', async () => {
    await p.goto(`${origin}/ui/services`);
    await row('services', 'only-in-dc1').waitFor();
    await waitFor('the switch to list dc2', async () =>
      (await select().locator('option').allTextContents()).join(',') === 'dc1,dc2');
    assert.equal(await select().inputValue(), 'dc1');
    await select().selectOption('dc2');
    await row('services', 'only-in-dc2').waitFor();
    assert.equal(await row('services', 'only-in-dc1').count(), 0, 'dc1\'s service is not in dc2');
    assert.equal(new URL(p.url()).searchParams.get('dc'), 'dc2');
    // The header's leader is dc2's.
    await waitFor('dc2\'s leader in the header', async () => (await p.locator('#leader').textContent()) === 'fed-b');
  });

  it('keeps the datacenter across links and a reload', async () => {
    await row('services', 'only-in-dc2').locator('a').first().click();
    await p.getByText('fed-b', { exact: false }).first().waitFor();
    assert.equal(new URL(p.url()).searchParams.get('dc'), 'dc2');
    await p.reload();
    await p.getByText('fed-b', { exact: false }).first().waitFor();
    assert.equal(await select().inputValue(), 'dc2');
    await p.locator('nav a[data-view=kv]').click();
    await p.locator('table[data-testid=kv] tbody tr[data-key="app/"]').waitFor();
  });

  it('opens Consul\'s /ui/<dc>/ links in that datacenter, and switches back', async () => {
    await p.goto(`${origin}/ui/dc2/services`);
    await row('services', 'only-in-dc2').waitFor();
    await select().selectOption('dc1');
    await row('services', 'only-in-dc1').waitFor();
    assert.equal(await row('services', 'only-in-dc2').count(), 0);
    assert.equal(new URL(p.url()).searchParams.get('dc'), null, 'the agent\'s own datacenter needs no ?dc=');
    assert.deepEqual(p.records.errors, []);
    assert.deepEqual(p.records.csp, []);
  });
});
