// The services view on an agent with 5,000 services: every row arrives, live updates still
// land, and the time to the first rendered rows is measured (written to
// target/bench/ui-first-render.json for docs/benchmarks.md; not a pass/fail threshold).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devAgent, browser, page, waitFor, curl } from './harness.mjs';

const SERVICES = Number(process.env.DISCO_UI_SERVICES ?? 5000);
const LOADS = Number(process.env.DISCO_UI_LOADS ?? 5);
const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../target/bench');

describe(`the services view with ${SERVICES} services`, () => {
  let d; let b; let p;

  before(async () => {
    d = await devAgent('ui-large');
    const a = d.agent;
    // Registered through the catalog, 32 at a time, as a configuration tool would.
    let next = 0;
    const worker = async () => {
      while (next < SERVICES) {
        const i = next++;
        const res = await a.api('PUT', '/v1/catalog/register', {
          Node: `node-${i % 50}`, Address: `10.0.${i % 50}.1`,
          Service: { Service: `svc-${String(i).padStart(5, '0')}`, Port: 8000 + (i % 1000), Tags: i % 2 ? ['odd', 'v2'] : ['even'] },
          Check: { CheckID: `c-${i}`, Name: 'probe', ServiceID: `svc-${String(i).padStart(5, '0')}`, Status: i % 10 ? 'passing' : 'critical' },
        });
        assert.equal(res.status, 200, res.text);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    b = await browser();
    p = await page(b);
  });

  after(async () => {
    await b?.close();
    d?.stop();
  });

  it('shows every service, measures the first render, and still follows changes', async () => {
    const origin = d.agent.url;
    // Each load in a fresh page, so no load pays for tearing down the previous 5,000 rows.
    const times = [];
    const app = [];
    const fetches = [];
    for (let i = 0; i < LOADS; i++) {
      const fresh = await page(b);
      await fresh.goto(`${origin}/ui/services`);
      await fresh.waitForFunction(() => document.documentElement.dataset.rendered === 'true', null, { timeout: 60_000 });
      const m = await fresh.evaluate(() => {
        const at = (n) => performance.getEntriesByName(n)[0].startTime;
        const f = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/v1/internal/ui/services'));
        return { first: at('disco-first-render'), app: at('disco-first-render') - at('disco-app-start'), fetch: f ? f.responseEnd - f.requestStart : NaN };
      });
      times.push(m.first);
      app.push(m.app);
      fetches.push(m.fetch);
      await fresh.context().close();
    }
    await p.goto(`${origin}/ui/services`);
    const total = SERVICES + 1;
    await waitFor(`all ${total} rows`, async () =>
      (await p.locator('table[data-testid=services] tbody tr').count()) === total, 60_000);
    assert.equal(await p.locator('[data-testid=count]').textContent(), String(total));
    assert.match((await p.locator('tr[data-key="svc-00010"]').textContent()) ?? '', /critical/);

    curl('-X', 'PUT', `${origin}/v1/catalog/register`, '-d',
      JSON.stringify({ Node: 'node-late', Address: '10.1.0.1', Service: { Service: 'svc-late' } }));
    await p.locator('tr[data-key="svc-late"]').waitFor({ timeout: 30_000 });

    const med = (l) => { const s = [...l].sort((x, y) => x - y); return Math.round(s[Math.floor(s.length / 2)] * 10) / 10; };
    const median = med(times);
    const bytes = Number(curl('-s', '-o', '/dev/null', '-w', '%{size_download}', `${origin}/v1/internal/ui/services`));
    const report = { services: SERVICES, loads: LOADS, first_render_ms: times.map((t) => Math.round(t * 10) / 10), median_ms: median,
      app_median_ms: med(app), fetch_median_ms: med(fetches), services_json_bytes: bytes };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'ui-first-render.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`first render with ${SERVICES} services: median ${report.median_ms} ms from navigation over ${LOADS} loads (${report.first_render_ms.join(', ')}), ${report.app_median_ms} ms from the app's start (the services fetch ${report.fetch_median_ms} ms); /v1/internal/ui/services ${bytes} bytes`);
    assert.deepEqual(p.records.errors, []);
  });
});
