/**
 * Remoting round-trip benchmark: 1 KiB request body, empty response body, client and server in
 * separate processes, with 1 and 256 requests in flight, on Bun and on Deno. Runs each case
 * --runs times (interleaved) and prints one JSON line per case with the median and every run:
 *   {"bench":"remoting","runtime":"bun","inflight":256,"rtPerSec":…,"p50Us":…,"p99Us":…,"runs":[…]}
 * When ../shared/bench is present it also measures the raw loopback ping-pong anchor (64 B,
 * 1 outstanding, node:net) on each runtime in the same session and prints the ratio against it.
 *
 * Usage: bun scripts/bench/remoting.ts [--runs 3] [--secs 5] [--runtimes bun,deno]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { freePort, waitPort } from "./_ports.ts";
import { median } from "./_runs.ts";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    secs: { type: "string", default: "5" },
    runtimes: { type: "string", default: "bun,deno" },
    size: { type: "string", default: "1024" },
  },
});
const RUNS = Number(values.runs);
const SECS = Number(values.secs);
const runtimes = values.runtimes!.split(",");
const cmdOf = (rt: string): string[] =>
  rt === "bun" ? [join(root, "node_modules/.bin/bun")] : [join(root, "node_modules/.bin/deno"), "run", "-A"];


function start(cmd: string[], args: string[]): { proc: ChildProcess; firstLine: Promise<string> } {
  const proc = spawn(cmd[0], [...cmd.slice(1), ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = "";
    proc.stdout!.on("data", (d) => {
      buf += d;
      const i = buf.indexOf("\n");
      if (i >= 0) resolve(buf.slice(0, i));
    });
    proc.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code} before printing`)));
  });
  return { proc, firstLine };
}

async function runToEnd(cmd: string[], args: string[]): Promise<Record<string, number>> {
  const { proc, firstLine } = start(cmd, args);
  const line = await firstLine;
  await new Promise((r) => proc.on("exit", r));
  return JSON.parse(line);
}


const results = new Map<string, Record<string, number>[]>();
const anchors = new Map<string, number[]>();
const anchorDir = join(root, "..", "shared", "bench");
const haveAnchor = existsSync(join(anchorDir, "tcp_client.mjs"));

/** The raw loopback ping-pong of ../shared/bench (64 B, 1 outstanding, node:net) on `rt`, now. */
async function anchorRun(rt: string): Promise<number> {
  const port = await freePort();
  const cmd = cmdOf(rt);
  const server = spawn(cmd[0], [...cmd.slice(1), join(anchorDir, "tcp_server.mjs"), "--port", String(port), "--maxsecs", "60"], { stdio: "ignore" });
  await waitPort(port); // the anchor server prints nothing
  const r = await runToEnd(cmd, [join(anchorDir, "tcp_client.mjs"), "--port", String(port), "--mode", "pingpong", "--size", "64", "--window", "1", "--n", "5000000", "--secs", String(SECS)]);
  server.kill();
  return r.rt_per_s;
}

for (let run = 0; run < RUNS; run++) {
  for (const rt of runtimes) {
    const server = start(cmdOf(rt), ["scripts/bench/remoting_peer.ts", "--role", "server"]);
    const { port } = JSON.parse(await server.firstLine);
    for (const inflight of [1, 256]) {
      const r = await runToEnd(cmdOf(rt), [
        "scripts/bench/remoting_peer.ts", "--role", "client", "--port", String(port),
        "--inflight", String(inflight), "--secs", String(SECS), "--size", values.size!,
      ]);
      const key = `${rt}/${inflight}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      console.error(`run ${run + 1}/${RUNS} ${key}: ${JSON.stringify(r)}`);
    }
    server.proc.kill();
    if (haveAnchor) {
      const a = await anchorRun(rt);
      anchors.set(rt, [...(anchors.get(rt) ?? []), a]);
      console.error(`run ${run + 1}/${RUNS} ${rt} anchor ping-pong: ${a} RT/s`);
    }
  }
}

for (const [runtime, runs] of anchors) {
  console.log(JSON.stringify({ bench: "loopback-pingpong-anchor", runtime, inflight: 1, rtPerSec: median(runs), runs }));
}
for (const [key, runs] of results) {
  const [runtime, inflight] = key.split("/");
  const rtPerSec = median(runs.map((r) => r.rtPerSec));
  const line: Record<string, unknown> = {
    bench: "remoting",
    runtime,
    inflight: Number(inflight),
    rtPerSec,
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    runs: runs.map((r) => r.rtPerSec),
  };
  const anchor = anchors.get(runtime);
  if (anchor && inflight === "1") line.ratioToLoopbackPingPong = Math.round((rtPerSec / median(anchor)) * 100) / 100;
  console.log(JSON.stringify(line));
}
