/**
 * Replication (issue #7): `bun scripts/bench/replication.ts [--runs 3] [--secs 8]`.
 * Each run starts a NameServer and a master/slave pair as three `bolide` processes, once with
 * the master as ASYNC_MASTER and once as SYNC_MASTER (interleaved), and runs `bolide bench
 * produce --mode async --inflight 256` (1 KiB) against each in a fourth process. Prints one
 * JSON line per run and pair, then the medians and the SYNC/ASYNC ratios.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Runs } from "./_runs.ts";
import { Servers } from "./_servers.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, secs: { type: "string", default: "8" } } });
const RUNS = Number(values.runs);
const SECS = Number(values.secs);
const bun = join(root, "node_modules/.bin/bun");
const cli = join(root, "cli.ts");
const work = mkdtempSync(join(tmpdir(), "bolide-replication-bench-"));
const servers = new Servers(work);
const server = (name: string, args: string[]) => servers.start(name, args);

function runJson(args: string[]): Record<string, unknown> {
  const r = spawnSync(bun, [cli, ...args], { encoding: "utf8", timeout: (SECS + 60) * 1000 });
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`${args.join(" ")} printed no result: ${r.stderr.slice(-500)}`);
  return JSON.parse(line);
}

async function pair(role: "ASYNC_MASTER" | "SYNC_MASTER", r: number): Promise<Record<string, unknown>> {
  const dir = join(work, `${role}-${r}`);
  const ns = await server(`ns-${role}-${r}`, ["namesrv", "--port", "0"]);
  const common = ["--namesrvAddr", ns.addr, "--listenPort", "0", "--brokerName", "bench", "--registerNameServerPeriod", "1000"];
  const master = await server(`m-${role}-${r}`, ["broker", ...common, "--brokerRole", role, "--storePathRootDir", join(dir, "m")]);
  const slave = await server(`s-${role}-${r}`, ["broker", ...common, "--brokerRole", "SLAVE", "--brokerId", "1", "--storePathRootDir", join(dir, "s")]);
  const created = spawnSync(bun, [cli, "topic", "create", "--topic", "Bench", "--queues", "8", "--namesrv", ns.addr], { encoding: "utf8" });
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  // Sends before the slave is in sync would answer SLAVE_NOT_AVAILABLE: wait for one SEND_OK.
  for (let i = 0; i < 100; i++) {
    const probe = spawnSync(bun, [cli, "send", "--topic", "Bench", "--body", "probe", "--namesrv", ns.addr], { encoding: "utf8" });
    if (probe.stdout.includes("SEND_OK")) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const res = runJson(["bench", "produce", "--mode", "async", "--inflight", "256", "--topic", "Bench", "--namesrv", ns.addr, "--duration", String(SECS)]);
  for (const p of [slave.proc, master.proc, ns.proc]) await servers.stop(p);
  rmSync(dir, { recursive: true, force: true });
  return res;
}

const runs = new Runs();
for (let r = 0; r < RUNS; r++) {
  for (const role of ["ASYNC_MASTER", "SYNC_MASTER"] as const) {
    const res = await pair(role, r);
    console.log(JSON.stringify({ run: r, role, ...res }));
    runs.add(`${role} async-256 msg/s`, Number(res.msgPerSec));
    runs.add(`${role} async-256 p99 us`, Number(res.p99Us));
    runs.add(`${role} failed sends`, Number(res.failed));
    runs.add(`${role} stored but not SEND_OK`, Number(res.notSendOk));
  }
}
const m = runs.medians();
m["ratio SYNC/ASYNC msg/s"] = Math.round((m["SYNC_MASTER async-256 msg/s"] / m["ASYNC_MASTER async-256 msg/s"]) * 100) / 100;
m["ratio SYNC/ASYNC p99"] = Math.round((m["SYNC_MASTER async-256 p99 us"] / m["ASYNC_MASTER async-256 p99 us"]) * 100) / 100;
console.log(JSON.stringify({ bench: "replication", runs: RUNS, secs: SECS, medians: m, all: runs.all }));
rmSync(work, { recursive: true, force: true });
