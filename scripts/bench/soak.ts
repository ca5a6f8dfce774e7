/**
 * Soak (issue #14): a NameServer and a broker (separate processes), a producer at half of the
 * measured maximum throughput, a push consumer group and a pull consumer group reading
 * everything, a broker restart half-way, for an hour. The maximum is measured first, end to end:
 * the producer flat out with both groups consuming, for --max-secs; the soak rate is half the
 * rate the slower group kept up with. Each minute one JSON line: the broker's RSS, what was sent,
 * acknowledged and consumed. Retention runs all along (segments kept --retention-min minutes),
 * so the disk holds minutes of data, not the hour's.
 *
 * Passes when the broker's RSS at the end is within 10 % of its value after warm-up (after the
 * restart, the new process's; a minute's RSS is the median of its readings every 5 s), both
 * groups consumed every acknowledged message, and the broker logged no ERROR line. Prints a
 * summary line and exits 1 otherwise.
 *
 * Usage: bun scripts/bench/soak.ts [--minutes 60] [--warmup-minutes 5] [--size 1024] [--rate N] [--max-secs 20] [--retention-min 3]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Producer } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { silentLogger } from "../../src/common/log.ts";
import { freePort } from "./_ports.ts";
import { rssMb } from "./_runs.ts";
import { Servers } from "./_servers.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "60" },
    "warmup-minutes": { type: "string", default: "5" },
    size: { type: "string", default: "1024" },
    rate: { type: "string" },
    "max-secs": { type: "string", default: "20" },
    "retention-min": { type: "string", default: "3" },
  },
});
const MINUTES = Number(values.minutes);
const WARMUP_MIN = Math.min(Number(values["warmup-minutes"]), MINUTES / 4);
const SIZE = Number(values.size);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const body = new Uint8Array(SIZE).map((_, i) => (i * 7919) % 251); // deflates poorly, like real payloads

const work = mkdtempSync(join(tmpdir(), "bolide-soak-"));
const servers = new Servers(work);
const nsPort = await freePort();
const brokerPort = await freePort();
const ns = await servers.start("namesrv", ["namesrv", "--port", String(nsPort)]);
const brokerArgs = [
  "broker", "--namesrvAddr", ns.addr, "--listenPort", String(brokerPort), "--storePathRootDir", join(work, "store"),
  "--commitLogSegmentBytes", String(128 * 1024 * 1024), "--fileReservedTime", String(Number(values["retention-min"]) / 60),
  "--deleteWhen", Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0")).join(";"),
];
let broker = await servers.start("broker", brokerArgs);
const namesrvAddr = ns.addr;

const producer = new Producer({ namesrvAddr, group: "soak-p" });
await producer.start();
for (let i = 0; ; i++) { // the first send auto-creates the topic (once the broker has registered)
  try {
    await producer.send({ topic: "Soak", body: "first" });
    break;
  } catch (err) {
    if (i > 100) throw err;
    await sleep(100);
  }
}

let acked = 0;
let failed = 0;
let pushed = 0;
let pulled = 0;
const push = new PushConsumer({ namesrvAddr, group: "soak-push", consumeFromWhere: "first", log: silentLogger });
push.subscribe("Soak").registerMessageListener((msgs) => {
  pushed += msgs.length;
  return "CONSUME_SUCCESS";
});
await push.start();
const pull = new PullConsumer({ namesrvAddr, group: "soak-pull", consumeFromWhere: "first" });
await pull.subscribe("Soak");
let pulling = true;
const pullLoop = (async () => {
  while (pulling) {
    try {
      pulled += (await pull.poll(500, 256)).length;
    } catch {
      await sleep(100); // the broker restarting
    }
  }
})();

/** Sends at `rate` msg/s (0: as fast as 512 in flight allow) until `until`. */
async function produce(rate: number, until: number): Promise<void> {
  let inFlight = 0;
  let due = 0;
  const started = Date.now();
  let sentHere = 0;
  while (Date.now() < until) {
    due = rate > 0 ? Math.floor(((Date.now() - started) / 1000) * rate) : sentHere + 512;
    while (sentHere < due && inFlight < 512) {
      inFlight++;
      sentHere++;
      producer.send({ topic: "Soak", body }).then(() => acked++, () => failed++).finally(() => inFlight--);
    }
    await sleep(rate > 0 ? 10 : 1);
  }
  while (inFlight > 0) await sleep(10);
}

// The maximum, end to end: flat out, and the rate the slower group kept up with.
const maxSecs = Number(values["max-secs"]);
let rate = Number(values.rate ?? 0);
if (!rate) {
  const before = Math.min(pushed, pulled);
  const t = Date.now();
  await produce(0, t + maxSecs * 1000);
  const max = Math.round((Math.min(pushed, pulled) - before) / ((Date.now() - t) / 1000));
  rate = Math.round(max / 2);
  console.log(JSON.stringify({ bench: "soak", phase: "max", maxMsgPerSec: max, soakRate: rate }));
  // Let the groups catch up before the soak starts.
  while (Math.min(pushed, pulled) < acked) await sleep(200);
}

const t0 = Date.now();
// The broker's RSS swings by ~25 MiB within seconds with the garbage collector (a 5-second trace
// of a 6-minute run: 95-124 MiB around a flat 108), so one reading a minute says more about
// where the sawtooth was than about growth. It is read every 5 s, and a minute's figure is the
// median of its twelve readings; the single reading at the minute is kept alongside.
const samples: { minute: number; rssMiB: number; singleMiB: number; minMiB: number; maxMiB: number }[] = [];
let readings: number[] = [];
let restarted = false;
let minute = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prober = setInterval(() => {
  if (broker.proc.pid) readings.push(rssMb(broker.proc.pid));
}, 5_000);
const sampler = setInterval(() => {
  minute++;
  const single = broker.proc.pid ? rssMb(broker.proc.pid) : NaN;
  const these = readings.filter(Number.isFinite);
  readings = [];
  const rss = these.length ? median(these) : single;
  samples.push({ minute, rssMiB: rss, singleMiB: single, minMiB: Math.min(...these), maxMiB: Math.max(...these) });
  console.log(JSON.stringify({ bench: "soak", minute, rssMiB: rss, singleMiB: single, minMiB: Math.min(...these), maxMiB: Math.max(...these), acked, failed, pushed, pulled, lagPush: acked - pushed, lagPull: acked - pulled }));
}, 60_000);
const ackedBefore = acked;
const soaking = produce(rate, t0 + MINUTES * 60_000);
// The broker restart in the middle (a clean stop and start on the same store and port), half a
// minute off the minute's sample.
await sleep((MINUTES / 2) * 60_000 + 30_000);
await servers.stop(broker.proc);
broker = await servers.start("broker", brokerArgs);
restarted = true;
const restartMinute = minute;
await soaking;
clearInterval(sampler);
clearInterval(prober);
const deadline = Date.now() + 120_000;
while (Math.min(pushed, pulled) < acked && Date.now() < deadline) await sleep(200);
pulling = false;
await pullLoop;

// After warm-up: the first sample past warm-up after the restart (the process measured at the end).
const warm = samples.find((s) => s.minute >= restartMinute + WARMUP_MIN) ?? samples.find((s) => s.minute >= WARMUP_MIN);
const end = samples.at(-1);
const errors = readdirSync(work).filter((f) => f.startsWith("broker-") && f.endsWith(".err"))
  .flatMap((f) => readFileSync(join(work, f), "utf8").split("\n").filter((l) => / ERROR /.test(l)));
const rssRatio = warm && end ? end.rssMiB / warm.rssMiB : NaN;
const singleRatio = warm && end ? end.singleMiB / warm.singleMiB : NaN;
// The trend after warm-up (least squares over the minute medians), in MiB an hour: growth the
// end-to-start ratio could miss.
const tail = samples.filter((s) => warm && s.minute >= warm.minute);
const mx = tail.reduce((a, s) => a + s.minute, 0) / tail.length;
const my = tail.reduce((a, s) => a + s.rssMiB, 0) / tail.length;
const slope = tail.reduce((a, s) => a + (s.minute - mx) * (s.rssMiB - my), 0) / tail.reduce((a, s) => a + (s.minute - mx) ** 2, 0);
const ok = restarted && Math.abs(rssRatio - 1) <= 0.1 && pushed >= acked && pulled >= acked && errors.length === 0;
const achieved = Math.round((acked - ackedBefore) / ((Date.now() - t0) / 1000));
console.log(JSON.stringify({
  bench: "soak", ok, minutes: MINUTES, rate, achievedMsgPerSec: achieved, acked, failed, pushed, pulled,
  rssAfterWarmupMiB: warm?.rssMiB, rssEndMiB: end?.rssMiB, rssRatio: Math.round(rssRatio * 1000) / 1000,
  singleAfterWarmupMiB: warm?.singleMiB, singleEndMiB: end?.singleMiB, singleRatio: Math.round(singleRatio * 1000) / 1000,
  trendMiBPerHour: Math.round(slope * 60 * 10) / 10,
  rssFirstProcess: samples.filter((s) => s.minute < restartMinute).map((s) => s.rssMiB),
  rssAfterRestart: samples.filter((s) => s.minute >= restartMinute).map((s) => s.rssMiB),
  singleFirstProcess: samples.filter((s) => s.minute < restartMinute).map((s) => s.singleMiB),
  singleAfterRestart: samples.filter((s) => s.minute >= restartMinute).map((s) => s.singleMiB),
  errorLines: errors.length, firstErrors: errors.slice(0, 5),
}));
await push.shutdown();
await pull.shutdown();
await producer.shutdown();
await servers.stopAll();
rmSync(work, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
