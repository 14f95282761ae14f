// node-consul (npm `consul` 2.x, unmodified) against disco: sessions, locks, transactions,
// events and a watch, through a client agent and a server of one cluster.
// Usage: node scenario.js <client-http-port> <server-http-port> <client-node-name>
// Prints "PASS: ..." / "FAIL: ..." lines; exits 1 on the first unexpected exception.
"use strict";
const Consul = require("consul");

const [clientPort, serverPort, clientNode] = process.argv.slice(2);
const a = new Consul({ host: "127.0.0.1", port: Number(clientPort) });
const b = new Consul({ host: "127.0.0.1", port: Number(serverPort) });
let failed = 0;

function check(name, ok, detail) {
  if (ok) {
    console.log(`PASS: node-consul ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL: node-consul ${name} ${JSON.stringify(detail)}`);
  }
}

const b64 = (s) => Buffer.from(s).toString("base64");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(f, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > until) return v;
    await sleep(100);
  }
}

async function main() {
  // Sessions: created on the client agent (its node by default), seen by the server.
  const s1 = await a.session.create({ name: "nc-primary", ttl: "15s", lockdelay: "1s" });
  const s2 = await b.session.create({ name: "nc-standby", lockdelay: "1s" });
  check("session.create returns an ID", typeof s1.ID === "string" && s1.ID.length === 36, s1);
  const info = await b.session.info(s1.ID);
  check("session.info", info && info.Name === "nc-primary" && info.Node === clientNode, info);
  const onNode = await b.session.node(clientNode);
  check("session.node lists it", onNode.some((s) => s.ID === s1.ID), onNode);
  const all = await a.session.list();
  check("session.list lists both", [s1.ID, s2.ID].every((id) => all.some((s) => s.ID === id)), all);
  const renewed = await a.session.renew(s1.ID);
  check("session.renew echoes the TTL", renewed[0] && renewed[0].TTL === "15s", renewed);

  // Locks: one holder; the holder's session is in the entry; release lets the other in.
  check("acquire by the first session", (await a.kv.set({ key: "nc/leader", value: "primary", acquire: s1.ID })) === true);
  // disco answers `false`, as Consul does; node-consul 2.0.1 hands a `false` body back as
  // undefined, so anything but `true` is a refusal here.
  const refused = await b.kv.set({ key: "nc/leader", value: "standby", acquire: s2.ID });
  check("acquire by the second is refused", refused !== true, refused);
  const held = await b.kv.get("nc/leader");
  check("the entry names its holder", held && held.Session === s1.ID && held.LockIndex === 1 && held.Value === "primary", held);
  check("release by the holder", (await a.kv.set({ key: "nc/leader", value: "released", release: s1.ID })) === true);
  // The release started no lock-delay: the standby takes it at once.
  check("the standby acquires after a release", (await b.kv.set({ key: "nc/leader", value: "standby", acquire: s2.ID })) === true);
  const now = await a.kv.get("nc/leader");
  check("LockIndex counts acquisitions", now.Session === s2.ID && now.LockIndex === 2, now);

  // Transactions: all or nothing.
  const ok = await a.transaction.create([
    { KV: { Verb: "set", Key: "nc/txn/a", Value: b64("1") } },
    { KV: { Verb: "cas", Key: "nc/txn/b", Index: 0, Value: b64("2") } },
    { KV: { Verb: "get", Key: "nc/leader" } },
  ]);
  check("txn applies every op", ok.Results.length === 3 && ok.Errors === null, ok);
  let conflict = null;
  try {
    await a.transaction.create([
      { KV: { Verb: "set", Key: "nc/txn/c", Value: b64("3") } },
      { KV: { Verb: "cas", Key: "nc/txn/a", Index: 1, Value: b64("x") } },
    ]);
  } catch (e) {
    conflict = e;
  }
  check("a failing txn is a 409", conflict && conflict.response && conflict.response.statusCode === 409, conflict && conflict.message);
  const c = await b.kv.get("nc/txn/c");
  check("a failing txn changes nothing", c === undefined || c === null, c);

  // Events: the firing agent lists its event right away; the server receives it by gossip.
  const fired = await a.event.fire("nc-deploy", "v1");
  check("event.fire answers the event", fired.Name === "nc-deploy" && fired.Payload === "v1", fired);
  const local = await a.event.list({ name: "nc-deploy" });
  check("event.list right after fire", local.length === 1 && local[0].ID === fired.ID && local[0].Payload === "v1", local);
  const remote = await eventually(async () => {
    const l = await b.event.list("nc-deploy");
    return l.find((e) => e.ID === fired.ID);
  }, 15000);
  check("the event reaches the server", remote && remote.Payload === "v1", remote);

  // A watch on a key sees each new value.
  const seen = [];
  const w = a.watch({ method: a.kv.get, options: { key: "nc/watched", wait: "5s" } });
  w.on("change", (data) => seen.push(data ? data.Value : null));
  w.on("error", (e) => seen.push(`error: ${e.message}`));
  await eventually(async () => seen.length >= 1, 10000);
  await b.kv.set("nc/watched", "one");
  await eventually(async () => seen.includes("one"), 10000);
  await b.kv.set("nc/watched", "two");
  await eventually(async () => seen.includes("two"), 10000);
  w.end();
  check("the watch saw both writes in order", seen.indexOf("one") >= 0 && seen.indexOf("one") < seen.indexOf("two"), seen);
  check("the watch saw no error", !seen.some((s) => typeof s === "string" && s.startsWith("error")), seen);

  // Destroying the holder's session releases its lock.
  await b.session.destroy(s2.ID);
  const after = await a.kv.get("nc/leader");
  check("destroy releases the lock", after && !after.Session && after.Value === "standby", after);
  await a.session.destroy(s1.ID);
  check("destroyed sessions are gone", (await b.session.info(s1.ID)) === undefined);

  console.log(`node-consul: ${failed === 0 ? "ok" : `${failed} failed`}`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL: node-consul scenario threw ${e && e.stack}`);
  process.exit(1);
});
