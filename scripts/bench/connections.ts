/**
 * What connections cost the broker, measured as its RSS (a separate process): idle ones, ones
 * stalled mid-frame, and clients that pipeline pulls and never read their answers.
 *
 * Usage: bun scripts/bench/connections.ts [--idle 10000] [--stalled 1000] [--readers 20]
 * Prints one JSON line: the broker's RSS at rest, after each load, and what it closed.
 */
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Admin } from "../../src/client/admin.ts";
import { Producer } from "../../src/client/producer.ts";
import { Limits, MiB } from "../../src/common/limits.ts";
import { encodeFrameBytes } from "../../src/protocol/frame_codec.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import { rssMb } from "./_runs.ts";
import { Servers } from "./_servers.ts";

const { values } = parseArgs({
  options: { idle: { type: "string", default: "10000" }, stalled: { type: "string", default: "1000" }, readers: { type: "string", default: "20" } },
});
const work = mkdtempSync(join(tmpdir(), "bolide-bench-conn-"));
const servers = new Servers(work);
const ns = await servers.start("namesrv", ["namesrv", "--port", "0"]);
const broker = await servers.start("broker", ["broker", "--namesrvAddr", ns.addr, "--listenPort", "0", "--storePathRootDir", join(work, "store"), "--brokerName", "bench",
  // Every connection here comes from 127.0.0.1: let one address have them all.
  "--serverMaxConnectionsPerAddress", "20000"]);
const [host, port] = broker.addr.split(":");
const admin = new Admin({ namesrvAddr: ns.addr });
const info = () => admin.brokerRuntimeInfo(broker.addr);
const pid = broker.proc.pid!;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** RSS once it stops moving (three samples 500 ms apart within 1 MB), MB. */
async function settledRss(): Promise<number> {
  const xs = [rssMb(pid)];
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    xs.push(rssMb(pid));
    const last = xs.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) <= 1) return last[2];
  }
}

function connect(opts: { paused?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) });
    if (opts.paused) s.pause();
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

const out: Record<string, number | string> = { bench: "connections" };
// Messages for the pulls, first: 70 random 60 KiB bodies make every 1,024-message pull 4 MiB.
const producer = new Producer({ namesrvAddr: ns.addr, group: "bench" });
await producer.start();
await admin.createTopic("Big", { queues: 1 });
const body = new Uint8Array(60 * 1024);
for (let i = 0; i < 70; i++) await producer.send({ topic: "Big", body: crypto.getRandomValues(body) });
await producer.shutdown();
const base = Number((await info()).connections);
out.restRssMb = await settledRss();

// 1. Idle connections.
const idle: net.Socket[] = [];
const idleCount = Number(values.idle);
for (let i = 0; i < idleCount; i++) {
  const s = await connect();
  s.on("error", () => {});
  idle.push(s);
}
await until("the broker to hold every idle connection", async () => Number((await info()).connections) >= base + idleCount);
out.idleConnections = idleCount;
out.refused = Number((await info()).connectionsRefused);
out.idleRssMb = await settledRss();
out.idleCostMb = (out.idleRssMb as number) - (out.restRssMb as number);
for (const s of idle) s.destroy();
await until("the idle connections to close", async () => Number((await info()).connections) <= base);
out.afterIdleRssMb = await settledRss();

// 2. Connections stalled mid-frame: each announces a 16 MiB frame and sends 1 MiB of it.
const stalledCount = Number(values.stalled);
let closedByBroker = 0;
const stalled: net.Socket[] = [];
const prefix = new Uint8Array(8);
new DataView(prefix.buffer).setInt32(0, Limits.maxFrameBytes - 1);
new DataView(prefix.buffer).setUint32(4, (SerializeType.JSON << 24) | 100);
const part = new Uint8Array(1 * MiB);
let peakStalled = 0;
for (let i = 0; i < stalledCount; i++) {
  const s = await connect();
  s.on("error", () => {});
  s.on("close", () => closedByBroker++);
  s.write(prefix);
  s.write(part);
  stalled.push(s);
  if (i % 50 === 0) peakStalled = Math.max(peakStalled, rssMb(pid));
}
await until("every stalled frame to be sent", () => stalled.every((s) => s.writableLength === 0 || s.destroyed));
out.stalledConnections = stalledCount;
out.stalledClosedByBroker = closedByBroker;
out.stalledBufferedMb = Math.round(Number((await info()).bufferedFrameBytes) / MiB);
out.stalledRssMb = Math.max(peakStalled, await settledRss());
out.stalledCostMb = (out.stalledRssMb as number) - (out.afterIdleRssMb as number);
for (const s of stalled) s.destroy();
await until("the stalled connections to close", async () => Number((await info()).connections) <= base);
out.afterStalledRssMb = await settledRss();

// 3. Clients that pipeline 150 pulls of 1,024 messages and never read.
const readers: net.Socket[] = [];
const frames = [];
for (let i = 1; i <= 150; i++) {
  frames.push(encodeFrameBytes({
    ...createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "greedy", topic: "Big", queueId: 0, queueOffset: 0, maxMsgNums: 1024, sysFlag: 0 }),
    opaque: i,
    flag: 0,
  }));
}
const pipelined = Buffer.concat(frames);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
for (let i = 0; i < Number(values.readers); i++) {
  const s = await connect({ paused: true });
  s.on("error", () => {});
  s.write(pipelined);
  readers.push(s);
}
await new Promise((r) => setTimeout(r, 3_000)); // a window for the peak, well inside writeStallTimeoutMs
clearInterval(sampler);
out.neverReadingClients = readers.length;
out.neverReadingPeakRssMb = peak;
out.neverReadingCostMb = peak - (out.afterStalledRssMb as number);
out.connectionBudgetMb = (Limits.maxBufferedFrameBytesTotal + Limits.maxWriteBacklogBytesTotal) / MiB;
for (const s of readers) s.destroy();

await admin.shutdown();
await servers.stopAll();
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify(out));
process.exit(0);
