/**
 * Broker benchmark, side by side with NATS JetStream (issues #4 and #5): Bolide's `bolide bench
 * produce`, `bench consume` and `bench consume --push` (throughput, and latency at 10,000 msg/s)
 * against `bolide start`, and ../shared/bench/nats_bench.mjs against a local
 * nats-server, interleaved run by run, 1 KiB messages, broker and client in separate processes.
 * Prints one JSON line per run and a summary with medians and ratios, plus the broker's RSS idle
 * and at full load (from /proc).
 *
 * Usage: bun scripts/bench/broker_vs_peers.ts [--runs 3] [--secs 8]
 * Needs nats-server on PATH (apt-get install nats-server) for the NATS rows; copies
 * ../shared/bench to a temporary directory and installs its npm client there.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort, waitPort } from "./_ports.ts";
import { rssMb, Runs } from "./_runs.ts";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, secs: { type: "string", default: "8" } } });
const RUNS = Number(values.runs);
const SECS = Number(values.secs);
const bun = join(root, "node_modules/.bin/bun");
const work = mkdtempSync(join(tmpdir(), "bolide-peers-"));



function run(cmd: string, args: string[], cwd = root): Record<string, number | string> {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: (SECS + 60) * 1000 });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`${cmd} ${args.join(" ")} printed no result: ${r.stderr.slice(-500)}`);
  return JSON.parse(line);
}

const runs = new Runs();
const add = (k: string, v: number) => runs.add(k, v);

// --- NATS JetStream --------------------------------------------------------------------------
let nats: ChildProcess | undefined;
let natsPort = 0;
const natsDir = join(work, "nats-bench");
const haveNats = spawnSync("sh", ["-c", "command -v nats-server"]).status === 0 && existsSync(join(root, "..", "shared", "bench", "nats_bench.mjs"));
if (haveNats) {
  cpSync(join(root, "..", "shared", "bench"), natsDir, { recursive: true });
  spawnSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: natsDir, stdio: "ignore" });
}
async function startNats(): Promise<void> {
  natsPort = await freePort();
  const store = join(work, `nats-store-${Date.now()}`);
  writeFileSync(join(work, "nats.conf"), `listen: 127.0.0.1:${natsPort}\njetstream { store_dir: "${store}" }\n`);
  nats = spawn("nats-server", ["-c", join(work, "nats.conf")], { stdio: "ignore" });
  await waitPort(natsPort);
}

// --- Bolide ----------------------------------------------------------------------------------
let broker: ChildProcess | undefined;
let namesrv = "";
async function startBolide(): Promise<void> {
  const out = join(work, "bolide.out");
  const data = join(work, `bolide-${Date.now()}`);
  const fd = (await import("node:fs")).openSync(out, "w");
  broker = spawn(bun, [join(root, "cli.ts"), "start", "--data", data, "--namesrv-port", "0", "--broker-port", "0", "--admin-port", "0", "--log-level", "warn"], { stdio: ["ignore", fd, "inherit"] });
  for (let i = 0; i < 200 && !/namesrv (\S+)/.test(readFileSync(out, "utf8")); i++) await new Promise((r) => setTimeout(r, 50));
  namesrv = /namesrv (\S+)/.exec(readFileSync(out, "utf8"))![1];
  const created = spawnSync(bun, [join(root, "cli.ts"), "topic", "create", "--topic", "BenchTopic", "--queues", "8", "--namesrv", namesrv], { encoding: "utf8" });
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
}

const bolide = (args: string[]) => run(bun, [join(root, "cli.ts"), "bench", ...args, "--topic", "BenchTopic", "--namesrv", namesrv, "--duration", String(SECS)]);
const natsBench = (args: string[]) => run(bun, ["nats_bench.mjs", "--server", `127.0.0.1:${natsPort}`, "--size", "1024", "--secs", String(SECS), ...args], natsDir);

// Children must not outlive this script, whatever happens.
const cleanup = () => {
  broker?.kill("SIGKILL");
  nats?.kill("SIGKILL");
};
process.on("exit", cleanup);
process.on("uncaughtException", (err) => {
  console.error(err);
  cleanup();
  process.exit(1);
});

for (let r = 0; r < RUNS; r++) {
  await startBolide();
  add("bolide idle RSS MB", rssMb(broker!.pid!));
  const s = bolide(["produce", "--mode", "sync", "--inflight", "1"]);
  console.log(JSON.stringify({ run: r, ...s }));
  add("bolide sync-1 msg/s", Number(s.msgPerSec));
  add("bolide sync-1 p99 us", Number(s.p99Us));
  const a = bolide(["produce", "--mode", "async", "--inflight", "256"]);
  console.log(JSON.stringify({ run: r, ...a }));
  add("bolide async-256 msg/s", Number(a.msgPerSec));
  add("bolide load RSS MB", rssMb(broker!.pid!));
  const c = bolide(["consume", "--group", `bench-${r}`]);
  console.log(JSON.stringify({ run: r, ...c }));
  add("bolide consume msg/s", Number(c.msgPerSec));
  // The same backlog again, through a PushConsumer (new group, no-op listener, default settings).
  const pc = bolide(["consume", "--push", "--group", `bench-push-${r}`]);
  console.log(JSON.stringify({ run: r, ...pc }));
  add("bolide push-consume msg/s", Number(pc.msgPerSec));
  // Born → listener latency at a fixed 10,000 msg/s (producer and push consumer in one process),
  // after 3 s at that rate (reported as the warm-up row).
  const pl = bolide(["consume", "--push", "--rate", "10000"]);
  console.log(JSON.stringify({ run: r, ...pl }));
  add("bolide push 10k/s p50 us", Number(pl.p50Us));
  add("bolide push 10k/s p99 us", Number(pl.p99Us));
  add("bolide push 10k/s p99.9 us", Number(pl.p999Us));
  add("bolide push 10k/s warm-up p99 us", Number(pl.warmupP99Us));
  broker!.kill("SIGTERM");
  await new Promise((res) => broker!.on("exit", res));

  if (haveNats) {
    await startNats();
    const ns = natsBench(["--mode", "sync", "--n", "500000"]);
    console.log(JSON.stringify({ run: r, peer: "nats", ...ns }));
    add("nats sync msg/s", Number(ns.msgs_per_s ?? ns.rate ?? ns.msgPerSec));
    const na = natsBench(["--mode", "async", "--window", "256", "--n", "2000000"]);
    console.log(JSON.stringify({ run: r, peer: "nats", ...na }));
    add("nats async-256 msg/s", Number(na.msgs_per_s ?? na.rate ?? na.msgPerSec));
    // As in ANCHORS.md: the stream is pre-filled with 400,000 messages, then drained (up to 20 s).
    const nc = run(bun, ["nats_bench.mjs", "--server", `127.0.0.1:${natsPort}`, "--size", "1024", "--secs", "20", "--mode", "consume", "--n", "400000", "--batch", "1000"], natsDir);
    console.log(JSON.stringify({ run: r, peer: "nats", ...nc }));
    add("nats consume msg/s", Number(nc.msgs_per_s ?? nc.rate ?? nc.msgPerSec));
    nats!.kill("SIGTERM");
    await new Promise((res) => nats!.on("exit", res));
  }
}

const summary = runs.medians();
if (haveNats) {
  summary["ratio sync-1 bolide/nats"] = Math.round(summary["bolide sync-1 msg/s"] / summary["nats sync msg/s"] * 100) / 100;
  summary["ratio async-256 bolide/nats"] = Math.round(summary["bolide async-256 msg/s"] / summary["nats async-256 msg/s"] * 100) / 100;
  summary["ratio consume bolide/nats"] = Math.round(summary["bolide consume msg/s"] / summary["nats consume msg/s"] * 100) / 100;
  summary["ratio push-consume bolide/nats"] = Math.round(summary["bolide push-consume msg/s"] / summary["nats consume msg/s"] * 100) / 100;
}
console.log(JSON.stringify({ bench: "broker-vs-peers", runs: RUNS, secs: SECS, medians: summary, all: runs.all }));
rmSync(work, { recursive: true, force: true });
