import { Agent } from './harness.mjs';
const a = await Agent.launch('ui-seed', ['-dev', '-ui'], '/tmp/ui-seed');
await a.ready();
await new Promise(r => setTimeout(r, 1500));
let next = 0;
const worker = async () => { while (next < 5000) { const i = next++;
  await a.api('PUT', '/v1/catalog/register', { Node: `node-${i % 50}`, Address: `10.0.${i % 50}.1`,
    Service: { Service: `svc-${String(i).padStart(5, '0')}`, Port: 8000, Tags: i % 2 ? ['odd', 'v2'] : ['even'] },
    Check: { CheckID: `c-${i}`, Name: 'probe', ServiceID: `svc-${String(i).padStart(5, '0')}`, Status: 'passing' } }); } };
await Promise.all(Array.from({ length: 32 }, worker));
console.log(a.url, a.proc.pid);
process.exit(0);
