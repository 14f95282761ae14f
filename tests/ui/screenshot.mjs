// Photograph a running agent's web UI: `node screenshot.mjs URL OUT.png [dark|light]`.
// Used by scripts/screenshot.sh for the README's picture.
import { browser } from './harness.mjs';

const [url, out, theme = 'dark'] = process.argv.slice(2);
const b = await browser();
const context = await b.newContext({ viewport: { width: 1280, height: 640 } });
await context.addInitScript((t) => localStorage.setItem('disco.theme', t), theme);
const p = await context.newPage();
await p.goto(url);
await p.waitForFunction(() => document.documentElement.dataset.rendered === 'true');
// The leader's name and the live dot arrive with the first answers.
await p.waitForFunction(() => document.getElementById('conn')?.dataset.state === 'live');
await p.waitForTimeout(500);
await p.screenshot({ path: out });
await b.close();
console.log(`wrote ${out}`);
