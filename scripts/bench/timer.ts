/**
 * Timer messages (issue #6): `bun scripts/bench/timer.ts [--runs 3] [--secs 10]`.
 * Each run starts a fresh `bolide start` (its own process and data directory), runs
 * `bolide bench timer --rate 10000 --delay-ms 3000 --pending 1000000` against it in another
 * process, and reads the broker's RSS from /proc: idle, just after 1,000,000 timers (due an hour
 * out) were sent at full speed, and settled (sampled every 500 ms until it stops falling, at most
 * 20 s) — the garbage of the sending burst is collected within seconds, the pending timers stay.
 * Prints one JSON line per run, then the medians. None of the peers in ../shared/bench
 * (NATS JetStream, Redis Streams) has per-message timers, so there is no side-by-side row.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { rssMb, Runs } from "./_runs.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, secs: { type: "string", default: "10" } } });
const RUNS = Number(values.runs);
const SECS = Number(values.secs);
const bun = join(root, "node_modules/.bin/bun");
const work = mkdtempSync(join(tmpdir(), "bolide-timer-bench-"));

const runs = new Runs();
const add = (k: string, v: number) => runs.add(k, v);

let broker: ChildProcess | undefined;
process.on("exit", () => broker?.kill("SIGKILL"));

for (let r = 0; r < RUNS; r++) {
  const out = join(work, `bolide-${r}.out`);
  const data = join(work, `data-${r}`);
  broker = spawn(bun, [join(root, "cli.ts"), "start", "--data", data, "--namesrv-port", "0", "--broker-port", "0", "--admin-port", "0", "--log-level", "warn"], { stdio: ["ignore", openSync(out, "w"), "inherit"] });
  for (let i = 0; i < 200 && !/namesrv (\S+)/.test(readFileSync(out, "utf8")); i++) await new Promise((res) => setTimeout(res, 50));
  const namesrv = /namesrv (\S+)/.exec(readFileSync(out, "utf8"))![1];
  const created = spawnSync(bun, [join(root, "cli.ts"), "topic", "create", "--topic", "TimerBench", "--queues", "8", "--namesrv", namesrv], { encoding: "utf8" });
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  await new Promise((res) => setTimeout(res, 1000)); // let the broker settle before reading idle RSS
  const idle = rssMb(broker.pid!);
  const b = spawnSync(bun, [join(root, "cli.ts"), "bench", "timer", "--topic", "TimerBench", "--namesrv", namesrv, "--rate", "10000", "--delay-ms", "3000", "--duration", String(SECS), "--pending", "1000000"], { encoding: "utf8", timeout: 600_000 });
  const line = b.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`bench timer printed no result: ${b.stderr.slice(-800)}`);
  const res = JSON.parse(line);
  const withPending = rssMb(broker.pid!);
  const samples = [withPending];
  for (let i = 0; i < 40; i++) {
    await new Promise((res) => setTimeout(res, 500));
    samples.push(rssMb(broker.pid!));
    const last = samples.slice(-6);
    if (last.length === 6 && Math.max(...last) - Math.min(...last) <= 2) break; // stable for 3 s
  }
  const settled = samples[samples.length - 1];
  if (Number(res.timersPending) !== 1_000_000) throw new Error(`expected 1,000,000 timers pending, the broker reports ${res.timersPending}`);
  console.log(JSON.stringify({ run: r, ...res, procRssIdleMb: idle, procRssAfterBurstMb: withPending, procRssSettledMb: settled, settleSamples: samples }));
  add("timers scheduled/s (10k/s asked)", res.scheduledPerSec);
  add("lateness at listener p50 ms", res.lateP50Ms);
  add("lateness at listener p99 ms", res.lateP99Ms);
  add("lateness at listener max ms", res.lateMaxMs);
  add("lateness at broker (store) p99 ms", res.storedLateP99Ms);
  add("1M pending: scheduled/s", res.pendingScheduledPerSec);
  add("broker RSS idle MB", idle);
  add("broker RSS right after sending 1M timers MB", withPending);
  add("broker RSS with 1M pending, settled MB", settled);
  add("RSS above idle right after the burst MB", withPending - idle);
  add("RSS above idle with 1M pending, settled MB", settled - idle);
  broker.kill("SIGTERM");
  await new Promise((res) => broker!.on("exit", res));
  rmSync(data, { recursive: true, force: true });
}

console.log(JSON.stringify({ bench: "timer", runs: RUNS, secs: SECS, medians: runs.medians(), all: runs.all }));
rmSync(work, { recursive: true, force: true });
