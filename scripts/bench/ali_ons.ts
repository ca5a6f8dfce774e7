/**
 * Bolide through the unmodified RocketMQ client `ali-ons` (issue #15): a NameServer and a broker
 * as processes, ali-ons producing and consuming in this process. Measures produce and consume
 * throughput, send latency, and the CPU each side used in each phase (broker from /proc, client
 * from process.cpuUsage), so it shows which side is the limit: the broker should stay well under
 * one core while the client saturates its own. Then sends while the consumer's long polls are
 * held on the same connection: a send queued behind a held pull would take up to 15 s.
 *
 * Usage: bun scripts/bench/ali_ons.ts [--messages 50000] [--size 1024] [--inflight 64] [--parallel 1]
 */
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./_runs.ts";
import { freePort } from "./_ports.ts";
import { Servers } from "./_servers.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "50000" },
    size: { type: "string", default: "1024" },
    inflight: { type: "string", default: "64" },
    parallel: { type: "string", default: "1" },
  },
});
const N = Number(values.messages);
const INFLIGHT = Number(values.inflight);
const body = Buffer.from(new Uint8Array(Number(values.size)).map((_, i) => (i * 7919) % 251));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const ons = createRequire(import.meta.url)("ali-ons");
const quiet = { info() {}, debug() {}, warn() {}, error() {} };

/** CPU seconds a process has used (utime + stime, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").slice(readFileSync(`/proc/${pid}/stat`, "utf8").lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
const clientCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const work = mkdtempSync(join(tmpdir(), "bolide-ali-ons-"));
const servers = new Servers(work);
try {
  const ns = await servers.start("namesrv", ["namesrv", "--port", String(await freePort())]);
  const broker = await servers.start("broker", ["broker", "--namesrvAddr", ns.addr, "--listenPort", String(await freePort()), "--storePathRootDir", join(work, "store")]);
  const pid = broker.proc.pid!;
  const opts = { nameSrv: ns.addr, httpclient: {}, clientIP: "127.0.0.1", instanceName: "bench", logger: quiet };
  const inner = new ons.Producer({ ...opts, producerGroup: "CLIENT_INNER_PRODUCER", instanceName: "inner" });
  inner.on("error", () => {});
  ons.Producer.defaultProducer = inner;
  await inner.ready();
  const producer = new ons.Producer({ ...opts, producerGroup: "BenchP" });
  producer.on("error", () => {});
  await producer.ready();
  await producer._mqClient.createTopic(broker.addr, "TBW102", { topicName: "OnsBench", readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: "SINGLE_TAG", topicSysFlag: 0, order: false }, 3_000);

  /** Sends `n` with up to INFLIGHT in flight; the latency of each. */
  const produce = async (n: number): Promise<number[]> => {
    const lat: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: INFLIGHT }, async () => {
      while (next < n) {
        next++;
        const t = performance.now();
        await producer.send(new ons.Message("OnsBench", "T", body));
        lat.push(performance.now() - t);
      }
    }));
    return lat;
  };

  await produce(2_000); // warm-up
  let b0 = cpuSeconds(pid), c0 = clientCpu(), t0 = performance.now();
  const lat = await produce(N);
  let secs = (performance.now() - t0) / 1000;
  const produced = { phase: "produce", messages: N, msgPerSec: Math.round(N / secs), sendP50Ms: round(median(lat), 2), sendP99Ms: round(pct(lat, 0.99), 2), brokerCores: round((cpuSeconds(pid) - b0) / secs, 2), clientCores: round((clientCpu() - c0) / secs, 2) };
  console.log(JSON.stringify(produced));

  let got = 0;
  const consumer = new ons.Consumer({ ...opts, consumerGroup: "BenchC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET", parallelConsumeLimit: Number(values.parallel) });
  consumer.on("error", () => {});
  // deno-lint-ignore require-await -- ali-ons asserts its handler is an async function
  consumer.subscribe("OnsBench", "*", async () => {
    got++;
  });
  const total = N + 2_000;
  b0 = cpuSeconds(pid), c0 = clientCpu(), t0 = performance.now();
  await consumer.ready();
  while (got < total) await sleep(5);
  secs = (performance.now() - t0) / 1000;
  const consumed = { phase: "consume", messages: got, msgPerSec: Math.round(got / secs), brokerCores: round((cpuSeconds(pid) - b0) / secs, 2), clientCores: round((clientCpu() - c0) / secs, 2) };
  console.log(JSON.stringify(consumed));

  // The consumer is idle now: its pulls are held by the broker (up to 15 s) on the connection the
  // producer shares (one MQClient per clientId). Sends one at a time meanwhile.
  await sleep(1_000);
  const held: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await producer.send(new ons.Message("OnsBench", "T", body));
    held.push(performance.now() - t);
    while (got < total + i + 1) await sleep(1); // consumed: the next pull is held again
  }
  const whileHeld = { phase: "send-while-pulls-held", sends: held.length, p50Ms: round(median(held), 2), maxMs: round(Math.max(...held), 2) };
  console.log(JSON.stringify(whileHeld));
  console.log(JSON.stringify({ bench: "ali-ons", produceMsgPerSec: produced.msgPerSec, consumeMsgPerSec: consumed.msgPerSec, brokerCoresProduce: produced.brokerCores, clientCoresProduce: produced.clientCores, brokerCoresConsume: consumed.brokerCores, clientCoresConsume: consumed.clientCores, sendP99Ms: produced.sendP99Ms, sendWhilePullsHeldMaxMs: whileHeld.maxMs }));
  await consumer.close().catch(() => {});
  await producer.close().catch(() => {});
  await inner.close().catch(() => {});
} finally {
  await servers.stopAll();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
