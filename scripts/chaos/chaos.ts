/**
 * The chaos checker: a NameServer, a master and its slave, producers and consumers under load,
 * faults injected on a schedule, then the history checked (scripts/chaos/history.ts): acknowledged
 * messages lost, messages delivered that were never sent, an ordered stream delivered out of
 * order, a server that crashed by itself, duplicates, and how long each fault took to recover
 * from. Prints one summary line
 * (`chaos: OK …` or `chaos: VIOLATED …`) and exits 1 when a guarantee broke.
 *
 * Servers run as processes on loopback; as root (where `ip netns` works) each runs on a host of
 * its own in a network namespace, and the schedule adds network partitions. The disk faults go
 * through scripts/chaos/faulty_broker.ts (a slow fdatasync; ENOSPC on every write and a disk
 * that reports itself full).
 *
 * Usage: bun scripts/chaos/chaos.ts [--schedule short|long] [--minutes 30] [--flush ASYNC_FLUSH|SYNC_FLUSH]
 *          [--seed N] [--loopback] [--verbose]
 * short: each fault once (≈ 1.5 minutes, what CI runs); long: random faults for --minutes.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Admin } from "../../src/client/admin.ts";
import { Producer, selectByHash } from "../../src/client/producer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { silentLogger } from "../../src/common/log.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { NetLab } from "../../test/harness/netlab.ts";
import { Child } from "../../test/harness/process.ts";
import { Prng } from "../../test/harness/prng.ts";
import { freePort } from "../bench/_ports.ts";
import { checkHistory, type Delivery, type Fault, type Sent } from "./history.ts";

const { values } = parseArgs({
  options: {
    schedule: { type: "string", default: "short" },
    minutes: { type: "string", default: "30" },
    flush: { type: "string", default: "ASYNC_FLUSH" },
    seed: { type: "string" },
    loopback: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
const rng = new Prng(seed);
const LONG = values.schedule === "long";
const FLUSH = values.flush === "SYNC_FLUSH" ? "SYNC_FLUSH" : "ASYNC_FLUSH";
const root = join(new URL(".", import.meta.url).pathname, "..", "..");
const bun = process.execPath;
const say = (s: string) => values.verbose && console.error(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();

/** Each fault keeps its server down or degraded this long, with this much calm load after it. */
const DOWN_MS = 3_000;
const CALM_MS = LONG ? 20_000 : 6_000;
const PLAIN_LOOPS = 4;
const KEYS = 4;
const PACE_MS = 4;

// ---- the cluster -----------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "bolide-chaos-"));
const netns = !values.loopback && NetLab.available();
const lab = netns ? NetLab.create(["ns", "m", "s"]) : undefined;
const hostIp = (host: string) => lab ? lab.ip(host) : "127.0.0.1";
const ports = { ns: lab ? 9876 : await freePort(), m: lab ? 10911 : await freePort(), mHa: lab ? 10912 : await freePort(), s: lab ? 10911 : await freePort() };
const namesrvAddr = `${hostIp("ns")}:${ports.ns}`;

function spawnOn(host: string, args: string[], env: Record<string, string> = {}): Child {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (lab) return lab.spawn(host, "env", [...envArgs, bun, ...args]);
  return new Child(bun, args, env);
}

const control = (host: string) => join(dir, `${host}.control.json`);
function setDisk(host: string, c: { slowSyncMs?: number; full?: boolean }): void {
  // Written aside and renamed, so the broker never reads half a file.
  writeFileSync(`${control(host)}.tmp`, JSON.stringify(c));
  renameSync(`${control(host)}.tmp`, control(host));
}

function brokerArgs(host: "m" | "s"): string[] {
  const master = host === "m";
  return [
    join(root, "scripts/chaos/faulty_broker.ts"),
    "--namesrvAddr", namesrvAddr, "--brokerIP1", hostIp(host), "--listenPort", String(master ? ports.m : ports.s),
    "--haListenPort", String(master ? ports.mHa : -1), "--storePathRootDir", join(dir, host),
    "--brokerName", "chaos", "--brokerId", master ? "0" : "1", "--brokerRole", master ? "ASYNC_MASTER" : "SLAVE",
    "--flushDiskType", FLUSH, "--registerNameServerPeriod", "2000",
    ...(master ? [] : ["--haMasterAddress", `${hostIp("m")}:${ports.mHa}`]),
  ];
}

const servers: Record<string, Child> = {};
/** What each server wrote to stderr, over its restarts (kept to show when a guarantee broke). */
const logs: Record<string, string> = { ns: "", m: "", s: "" };
/** Servers that exited when no fault stopped them: a crash, a guarantee broken in itself. */
const crashes: string[] = [];
const stopping = new Set<Child>();
async function startServer(host: "ns" | "m" | "s"): Promise<void> {
  if (servers[host]) logs[host] += servers[host].stderr;
  const child = host === "ns"
    ? spawnOn("ns", [join(root, "cli.ts"), "namesrv", "--host", hostIp("ns"), "--port", String(ports.ns), "--log-level", "warn"])
    : spawnOn(host, brokerArgs(host), { BOLIDE_CHAOS_CONTROL: control(host) });
  servers[host] = child;
  void child.exited.then(() => {
    if (!stopping.has(child)) crashes.push(`${host} exited (code ${child.exitCode}, signal ${child.signal}) at ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  });
  await child.firstLine(30_000);
}

/** Stops a server as a fault does (not counted as a crash). */
async function stopServer(host: string, signal: NodeJS.Signals): Promise<void> {
  stopping.add(servers[host]);
  servers[host].kill(signal);
  await servers[host].exited;
}

for (const h of ["m", "s"]) setDisk(h, {});
await startServer("ns");
await startServer("m");
await startServer("s");
say(`cluster up (${netns ? "network namespaces" : "loopback"}, ${FLUSH}), seed ${seed}, dir ${dir}`);

const admin = new Admin({ namesrvAddr });
for (;;) {
  try {
    await admin.createTopic("ChaosT", { queues: 8 });
    await admin.createTopic("ChaosO", { queues: 4, order: true });
    break;
  } catch (err) {
    if (Date.now() - t0 > 30_000) throw err;
    await sleep(200);
  }
}

// ---- load and history ------------------------------------------------------------------------

const sent: Sent[] = [];
const delivered: Delivery[] = [];
const faults: Fault[] = [];
let producing = true;

const producer = new Producer({ namesrvAddr, group: "chaos-p", sendTimeoutMs: 3_000 });
await producer.start();

async function plainLoop(loop: number): Promise<void> {
  for (let i = 0; producing; i++) {
    const id = `p${loop}-${i}`;
    let acked = false;
    try {
      const r = await producer.send({ topic: "ChaosT", body: JSON.stringify({ id }) });
      acked = r.status === "SEND_OK";
    } catch { /* not acknowledged */ }
    sent.push({ id, at: Date.now(), acked });
    await sleep(acked ? PACE_MS : 50);
  }
}

async function orderedLoop(k: number): Promise<void> {
  const key = `k${k}`;
  for (let seq = 0; producing; seq++) {
    const id = `${key}-${seq}`;
    let acked = false;
    try {
      const r = await producer.send({ topic: "ChaosO", body: JSON.stringify({ id, key, seq }), keys: key }, selectByHash, key);
      acked = r.status === "SEND_OK";
    } catch { /* not acknowledged */ }
    sent.push({ id, key, seq, at: Date.now(), acked });
    await sleep(acked ? PACE_MS : 50);
  }
}

const record = (body: Uint8Array) => {
  const m = JSON.parse(new TextDecoder().decode(body)) as { id: string; key?: string; seq?: number };
  delivered.push({ ...m, at: Date.now() });
};
const consumers: PushConsumer[] = [];
for (let i = 0; i < 2; i++) {
  const c = new PushConsumer({ namesrvAddr, group: "chaos-c", consumeFromWhere: "first", instanceName: `c${i}`, log: silentLogger });
  c.subscribe("ChaosT").registerMessageListener((msgs) => {
    for (const m of msgs) record(m.body);
    return "CONSUME_SUCCESS";
  });
  consumers.push(c);
}
const orderly = new PushConsumer({ namesrvAddr, group: "chaos-o", consumeFromWhere: "first", log: silentLogger });
orderly.subscribe("ChaosO").registerOrderlyListener((msgs) => {
  for (const m of msgs) record(m.body);
  return "SUCCESS";
});
consumers.push(orderly);
for (const c of consumers) await c.start();

// With --verbose, a line a second: what was acknowledged and refused in it.
let seen = 0;
const progress = setInterval(() => {
  const now = sent.slice(seen);
  seen = sent.length;
  say(`acked ${now.filter((x) => x.acked).length}/s, failed ${now.filter((x) => !x.acked).length}/s, delivered ${delivered.length}`);
}, 1_000);
if (!values.verbose) clearInterval(progress);

const loops = [
  ...Array.from({ length: PLAIN_LOOPS }, (_, i) => plainLoop(i)),
  ...Array.from({ length: KEYS }, (_, k) => orderedLoop(k)),
];

// ---- faults ----------------------------------------------------------------------------------

type FaultKind = "kill" | "stop" | "partition" | "full-disk" | "slow-disk" | "restart" | "slave-kill";

async function inject(kind: FaultKind): Promise<void> {
  const start = Date.now();
  say(`fault ${kind}`);
  switch (kind) {
    case "kill":
      await stopServer("m", "SIGKILL");
      await sleep(DOWN_MS);
      await startServer("m");
      break;
    case "stop":
      servers.m.kill("SIGSTOP");
      await sleep(DOWN_MS);
      servers.m.kill("SIGCONT");
      break;
    case "partition":
      lab!.cut("m");
      await sleep(DOWN_MS);
      lab!.heal("m");
      break;
    case "full-disk":
      setDisk("m", { full: true });
      await sleep(DOWN_MS);
      setDisk("m", {});
      break;
    case "slow-disk":
      setDisk("m", { slowSyncMs: 200 });
      await sleep(DOWN_MS);
      setDisk("m", {});
      break;
    case "restart": // graceful, while the slave replicates
      await stopServer("m", "SIGTERM");
      await startServer("m");
      break;
    case "slave-kill":
      await stopServer("s", "SIGKILL");
      await sleep(DOWN_MS);
      await startServer("s");
      break;
  }
  faults.push({ kind, start, end: Date.now() });
}

const kinds: FaultKind[] = ["kill", "stop", ...(netns ? ["partition" as const] : []), "full-disk", "slow-disk", "restart", "slave-kill"];
await sleep(CALM_MS);
if (LONG) {
  const until = t0 + Number(values.minutes) * 60_000;
  while (Date.now() < until) {
    await inject(kinds[rng.int(kinds.length)]);
    await sleep(CALM_MS / 2 + rng.int(CALM_MS));
  }
} else {
  for (const kind of kinds) {
    await inject(kind);
    await sleep(CALM_MS);
  }
}

// ---- settle and check ------------------------------------------------------------------------

producing = false;
await Promise.all(loops);
clearInterval(progress);
const ackedIds = new Set(sent.filter((s) => s.acked).map((s) => s.id));
const settleDeadline = Date.now() + (LONG ? 180_000 : 60_000);
while (Date.now() < settleDeadline) {
  const got = new Set(delivered.map((d) => d.id));
  let missing = 0;
  for (const id of ackedIds) if (!got.has(id)) missing++;
  if (missing === 0) break;
  await sleep(250);
}
const settledMs = Date.now() - (settleDeadline - (LONG ? 180_000 : 60_000));

// The slave caught up: every queue's max offset equals the master's.
const raw = new RemotingClient();
let replicaBehind = 0;
const replicaDeadline = Date.now() + 30_000;
for (;;) {
  replicaBehind = 0;
  for (const [topic, n] of [["ChaosT", 8], ["ChaosO", 4]] as const) {
    for (let q = 0; q < n; q++) {
      const max = async (host: string, port: number) => Number((await raw.invoke(`${hostIp(host)}:${port}`, createRequest(RequestCode.GET_MAX_OFFSET, { topic, queueId: q }), 3_000)).extFields?.offset ?? NaN);
      try {
        replicaBehind += Math.max(0, (await max("m", ports.m)) - (await max("s", ports.s)));
      } catch {
        replicaBehind += 1;
      }
    }
  }
  if (replicaBehind === 0 || Date.now() > replicaDeadline) break;
  await sleep(250);
}

for (const c of consumers) await c.shutdown().catch(() => {});
await producer.shutdown().catch(() => {});
await admin.shutdown();
raw.close();

const v = checkHistory(sent, delivered, faults);
const ok = v.ok && replicaBehind === 0 && crashes.length === 0;
const rec = v.recovery.map((r) => `${r.kind}=${r.ms === undefined ? "never" : `${r.ms}ms`}`).join(",");
console.log(
  `chaos: ${ok ? "OK" : "VIOLATED"} ${FLUSH} ${netns ? "netns" : "loopback"} seed=${seed} ${((Date.now() - t0) / 1000).toFixed(0)}s ` +
    `faults=${faults.length} acked=${v.acked} failed=${v.failed} delivered=${v.delivered} lost=${v.lost.length} ` +
    `unexpected=${v.unexpected.length} reordered=${v.reordered.length} duplicated=${v.duplicated} replicaBehind=${replicaBehind} crashes=${crashes.length} ` +
    `settled=${settledMs}ms recovery[${rec}]`,
);
const masterLog = () => (logs.m + servers.m.stderr).slice(-6000);
if (values.verbose && ok) console.error(`master stderr tail:\n${masterLog()}`);
if (!ok) {
  if (v.lost.length) console.error(`lost (first 20): ${v.lost.slice(0, 20).join(" ")}`);
  if (v.unexpected.length) console.error(`unexpected (first 20): ${v.unexpected.slice(0, 20).join(" ")}`);
  if (v.reordered.length) console.error(`reordered (first 20): ${v.reordered.slice(0, 20).join(" ")}`);
  for (const c of crashes) console.error(`crash: ${c}`);
  console.error(`history kept in ${dir}; master stderr tail:\n${masterLog()}`);
}
for (const s of Object.values(servers)) {
  stopping.add(s);
  await s[Symbol.asyncDispose]();
}
if (lab) await lab[Symbol.asyncDispose]();
if (ok) rmSync(dir, { recursive: true, force: true });
else writeFileSync(join(dir, "history.json"), JSON.stringify({ seed, sent, delivered, faults }));
process.exit(ok ? 0 : 1);
