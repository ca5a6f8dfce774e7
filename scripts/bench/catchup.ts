/**
 * A new slave catching up must not stall its master (issue #7):
 * `bun scripts/bench/catchup.ts [--runs 3] [--secs 8] [--backlog-secs 8]`.
 * Per run: a NameServer and an ASYNC_MASTER as `bolide` processes; a backlog is produced first
 * (`bolide bench produce --mode async --inflight 256` for --backlog-secs, 1 KiB); then the same
 * produce runs --secs twice: once alone (baseline), once while a new, empty slave copies the
 * whole backlog. Prints the master's msg/s and p99 in both, how far the slave got, and the
 * ratio. Medians over the runs.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeBody } from "../../src/protocol/body_codec.ts";
import { Runs } from "./_runs.ts";
import { Servers } from "./_servers.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, secs: { type: "string", default: "8" }, "backlog-secs": { type: "string", default: "8" } } });
const RUNS = Number(values.runs);
const SECS = Number(values.secs);
const BACKLOG = Number(values["backlog-secs"]);
const bun = join(root, "node_modules/.bin/bun");
const cli = join(root, "cli.ts");
const work = mkdtempSync(join(tmpdir(), "bolide-catchup-bench-"));
const servers = new Servers(work);
const server = (name: string, args: string[]) => servers.start(name, args);

/** `bolide bench produce` in a child process, without blocking this one (the slave is polled meanwhile). */
function produce(ns: string, secs: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(bun, [cli, "bench", "produce", "--mode", "async", "--inflight", "256", "--topic", "Bench", "--namesrv", ns, "--duration", String(secs)], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    p.stdout!.on("data", (d) => (out += d));
    p.on("exit", () => {
      const line = out.split("\n").reverse().find((l) => l.startsWith("{"));
      line ? resolve(JSON.parse(line)) : reject(new Error("bench produce printed no result"));
    });
  });
}

const admin = new RemotingClient();
const maxOffset = async (addr: string) => {
  const r = await admin.invoke(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO), 5000);
  return Number(decodeBody<{ table: Record<string, string> }>(r.body, r.serializeType).table.commitLogMaxOffset);
};

const runs = new Runs();
for (let r = 0; r < RUNS; r++) {
  const dir = join(work, `run-${r}`);
  const ns = await server(`ns-${r}`, ["namesrv", "--port", "0"]);
  const common = ["--namesrvAddr", ns.addr, "--listenPort", "0", "--brokerName", "cu"];
  const master = await server(`m-${r}`, ["broker", ...common, "--brokerRole", "ASYNC_MASTER", "--storePathRootDir", join(dir, "m")]);
  const created = spawnSync(bun, [cli, "topic", "create", "--topic", "Bench", "--queues", "8", "--namesrv", ns.addr], { encoding: "utf8" });
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  await produce(ns.addr, BACKLOG);
  const backlog = await maxOffset(master.addr);
  const alone = await produce(ns.addr, SECS);
  const slave = await server(`s-${r}`, ["broker", ...common, "--brokerRole", "SLAVE", "--brokerId", "1", "--storePathRootDir", join(dir, "s")]);
  const started = Date.now();
  const during = await produce(ns.addr, SECS);
  const copied = await maxOffset(slave.addr);
  let caughtUpMs = -1;
  for (let i = 0; i < 600; i++) {
    if ((await maxOffset(slave.addr)) >= (await maxOffset(master.addr))) {
      caughtUpMs = Date.now() - started;
      break;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  const row = {
    run: r,
    backlogMB: Math.round(backlog / 1e6),
    aloneMsgPerSec: alone.msgPerSec,
    aloneP99Us: alone.p99Us,
    duringCatchUpMsgPerSec: during.msgPerSec,
    duringCatchUpP99Us: during.p99Us,
    slaveCopiedMBDuring: Math.round(copied / 1e6),
    slaveCaughtUpMs: caughtUpMs,
  };
  console.log(JSON.stringify(row));
  for (const [k, v] of Object.entries(row)) if (k !== "run") runs.add(k, v);
  for (const p of [slave.proc, master.proc, ns.proc]) await servers.stop(p);
  rmSync(dir, { recursive: true, force: true });
}
const m = runs.medians();
m["ratio during/alone msg/s"] = Math.round((m.duringCatchUpMsgPerSec / m.aloneMsgPerSec) * 100) / 100;
console.log(JSON.stringify({ bench: "catchup", runs: RUNS, secs: SECS, medians: m, all: runs.all }));
admin.close();
rmSync(work, { recursive: true, force: true });
process.exit(0);
