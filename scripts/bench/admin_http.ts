/**
 * The admin endpoint at scale (issue #17): `GET /api/topics` and `GET /metrics` of `bolide start`
 * with --topics topics (2 queues each) and --groups groups, each group with offsets committed
 * on 10 topics (so /metrics carries groups × 10 × 2 lag series). Each figure is the p50 / p99 of
 * --runs sequential HTTP requests from this process. Prints one JSON line.
 *
 * Usage: bun scripts/bench/admin_http.ts [--topics 1000] [--groups 100] [--runs 200]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { freePort } from "./_ports.ts";

const { values } = parseArgs({ options: { topics: { type: "string", default: "1000" }, groups: { type: "string", default: "100" }, runs: { type: "string", default: "200" } } });
const TOPICS = Number(values.topics);
const GROUPS = Number(values.groups);
const RUNS = Number(values.runs);
const root = join(dirname(new URL(import.meta.url).pathname), "../..");
const work = mkdtempSync(join(tmpdir(), "bolide-admin-http-"));
const out = join(work, "start.out");
const adminPort = await freePort();
const server = spawn(process.execPath, [join(root, "cli.ts"), "start", "--data", join(work, "data"), "--namesrv-port", "0", "--broker-port", "0", "--admin-port", String(adminPort), "--log-level", "warn"], {
  stdio: ["ignore", openSync(out, "w"), "inherit"],
});
process.on("exit", () => server.kill("SIGKILL"));
let ns = "";
for (let i = 0; i < 200 && !ns; i++) {
  ns = /namesrv (\S+)/.exec(readFileSync(out, "utf8"))?.[1] ?? "";
  if (!ns) await new Promise((r) => setTimeout(r, 50));
}
if (!ns) throw new Error("bolide start did not start");

const admin = new Admin({ namesrvAddr: ns, timeoutMs: 30_000 });
let next = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  while (next < TOPICS) await admin.createTopic(`T${next++}`, { queues: 2 });
}));
for (let g = 0; g < GROUPS; g++) {
  const pull = new PullConsumer({ namesrvAddr: ns, group: `G${g}`, consumeFromWhere: "first" });
  const mqs = Array.from({ length: 10 }, (_, t) => [0, 1].map((queueId) => ({ topic: `T${(g * 10 + t) % TOPICS}`, brokerName: "broker-a", queueId }))).flat();
  await pull.assign(mqs);
  await Promise.all(mqs.map((mq) => pull.commitOffset(mq, 0)));
  await pull.shutdown();
}

async function timed(path: string): Promise<{ p50: number; p99: number; bytes: number }> {
  const url = `http://127.0.0.1:${adminPort}${path}`;
  let bytes = (await (await fetch(url)).text()).length; // warm
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    bytes = (await (await fetch(url)).text()).length;
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), bytes };
}

const topics = await timed("/api/topics");
const metrics = await timed("/metrics");
console.log(JSON.stringify({ bench: "admin-http", topics: TOPICS, groups: GROUPS, runs: RUNS, apiTopicsP50Ms: topics.p50, apiTopicsP99Ms: topics.p99, metricsP50Ms: metrics.p50, metricsP99Ms: metrics.p99, metricsBytes: metrics.bytes }));
await admin.shutdown();
server.kill("SIGTERM");
rmSync(work, { recursive: true, force: true });
process.exit(0);
