/**
 * Admin answers at scale (issue #16): `group progress` (GET_CONSUME_STATS through Admin) for a
 * group on one topic of 1,000 queues with an offset committed on each, and `topic list` with
 * 10,000 topics registered. A NameServer and a broker as processes; each figure the median of
 * --runs timings of the Admin call, as the CLI makes it (connections already open).
 *
 * Usage: bun scripts/bench/admin.ts [--queues 1000] [--topics 10000] [--runs 20]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { median } from "./_runs.ts";
import { freePort } from "./_ports.ts";
import { Servers } from "./_servers.ts";

const { values } = parseArgs({ options: { queues: { type: "string", default: "1000" }, topics: { type: "string", default: "10000" }, runs: { type: "string", default: "20" } } });
const QUEUES = Number(values.queues);
const TOPICS = Number(values.topics);
const RUNS = Number(values.runs);
const round = (x: number) => Math.round(x * 10) / 10;

async function timed(fn: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  await fn(); // warm
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms;
}

const work = mkdtempSync(join(tmpdir(), "bolide-admin-bench-"));
const servers = new Servers(work);
try {
  const ns = await servers.start("namesrv", ["namesrv", "--port", String(await freePort())]);
  await servers.start("broker", ["broker", "--namesrvAddr", ns.addr, "--listenPort", String(await freePort()), "--storePathRootDir", join(work, "store")]);
  const admin = new Admin({ namesrvAddr: ns.addr, timeoutMs: 30_000 });
  for (let i = 0; i < 100 && (await admin.masters()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));

  // One topic of QUEUES queues, an offset committed on every queue.
  await admin.createTopic("Wide", { queues: Math.min(QUEUES, 1024) });
  const pull = new PullConsumer({ namesrvAddr: ns.addr, group: "WideG", consumeFromWhere: "first" });
  await pull.subscribe("Wide");
  const mqs = (await admin.topicStats("Wide")).map((s) => s.mq);
  await Promise.all(mqs.map((mq) => pull.commitOffset(mq, 0)));
  const progress = await timed(() => admin.consumeStats("WideG", "Wide"));
  const rows = (await admin.consumeStats("WideG", "Wide")).length;
  await pull.shutdown();

  // TOPICS topics, created 64 at a time (each creation answers once the NameServer has it).
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < TOPICS) await admin.createTopic(`T${next++}`, { queues: 1 });
  }));
  const list = await timed(() => admin.topicList());
  const listed = (await admin.topicList()).length;
  console.log(JSON.stringify({
    bench: "admin", groupProgressQueues: rows, groupProgressMedianMs: round(median(progress)), groupProgressMaxMs: round(Math.max(...progress)),
    topicListTopics: listed, topicListMedianMs: round(median(list)), topicListMaxMs: round(Math.max(...list)),
  }));
  await admin.shutdown();
} finally {
  await servers.stopAll();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
