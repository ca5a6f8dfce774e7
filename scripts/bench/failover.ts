/**
 * Failover (issue #7): `bun scripts/bench/failover.ts [--kills 10]`.
 * A NameServer (with its embedded controller) and two brokers in controller mode, SYNC_MASTER,
 * default timings, each its own `bolide` process. This script sends SYNC messages without pause
 * and, --kills times: kill -9 the current master, measure the time until a send is acknowledged
 * by the new master (any status: SEND_OK or, with its slave gone, SLAVE_NOT_AVAILABLE), restart
 * the killed broker (it rejoins as a slave), and wait until sends are SEND_OK again. Every
 * SEND_OK message is then looked for on the final master. Prints one JSON line per kill, then
 * the median and max.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Producer } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeBody } from "../../src/protocol/body_codec.ts";
import { median } from "./_runs.ts";
import { Servers } from "./_servers.ts";

const { values } = parseArgs({ options: { kills: { type: "string", default: "10" } } });
const KILLS = Number(values.kills);
const work = mkdtempSync(join(tmpdir(), "bolide-failover-bench-"));
const servers = new Servers(work);
const procs = new Map<string, ChildProcess>();

async function launch(name: string, args: string[]): Promise<string> {
  const { proc, addr } = await servers.start(name, args);
  procs.set(name, proc);
  return addr;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ns = await launch("namesrv", ["namesrv", "--port", "0"]);
const brokerArgs = (id: number) => [
  "broker", "--namesrvAddr", ns, "--listenPort", "0", "--brokerName", "fo", "--enableControllerMode", "true",
  "--brokerId", String(id), "--brokerRole", "SYNC_MASTER", "--storePathRootDir", join(work, `b${id}`),
];
const addrs = new Map<string, string>();
addrs.set("b1", await launch("b1", brokerArgs(1)));
const admin = new RemotingClient();

async function group(): Promise<{ masterAddr: string; syncStateSet: number[] } | undefined> {
  const r = await admin.invoke(ns, createRequest(RequestCode.CONTROLLER_GET_GROUPS), 2000);
  return decodeBody<{ groups: { brokerName: string; masterAddr: string; syncStateSet: number[] }[] }>(r.body, r.serializeType).groups.find((x) => x.brokerName === "fo");
}

/** The broker the controller has made master, by process name. */
async function masterName(): Promise<string | undefined> {
  const g = await group();
  return [...addrs].find(([, a]) => a === g?.masterAddr)?.[0];
}

// The controller elects b1 within its grace period; b1 takes the role at its next heartbeat.
for (let i = 0; ; i++) {
  const create = await admin.invoke(addrs.get("b1")!, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "Failover", readQueueNums: 4, writeQueueNums: 4 }));
  if (create.code === 0) break;
  if (i > 100) throw new Error(`topic create: ${create.remark}`);
  await sleep(100);
}
addrs.set("b2", await launch("b2", brokerArgs(2)));

const producer = new Producer({ namesrvAddr: ns, group: "failover-bench" });
const acked: string[] = [];
let seq = 0;
/** Sends until `until` says stop; returns when the first send after `since` was acknowledged. */
async function sendUntil(stop: (status: string) => boolean): Promise<void> {
  for (;;) {
    const body = `m${seq++}`;
    try {
      const r = await producer.send({ topic: "Failover", body });
      if (r.status === "SEND_OK") acked.push(body);
      if (stop(r.status)) return;
    } catch {
      await sleep(10);
    }
  }
}

await sendUntil((s) => s === "SEND_OK");
while (((await group())?.syncStateSet.length ?? 0) < 2) await sendUntil(() => true);
const times: number[] = [];
for (let k = 0; k < KILLS; k++) {
  await sendUntil((s) => s === "SEND_OK" && acked.length % 200 === 0); // some load first
  const victim = (await masterName())!;
  const killedAt = Date.now();
  procs.get(victim)!.kill("SIGKILL");
  await sendUntil(() => true); // the first acknowledgement after the kill
  const ms = Date.now() - killedAt;
  times.push(ms);
  console.log(JSON.stringify({ kill: k, victim, recoveryMs: ms, newMaster: await masterName() }));
  addrs.set(victim, await launch(victim, brokerArgs(Number(victim.slice(1)))));
  await sendUntil((s) => s === "SEND_OK"); // the restarted broker holds everything again
  // … and is electable: only members of the sync state set can replace the master.
  while (((await group())?.syncStateSet.length ?? 0) < 2) await sendUntil(() => true);
}

// Every SEND_OK message is on the final master.
const consumer = new PullConsumer({ namesrvAddr: ns, group: `check-${Date.now()}`, consumeFromWhere: "first" });
await consumer.subscribe("Failover");
const seen = new Set<string>();
let quiet = 0;
while (quiet < 3) {
  const msgs = await consumer.poll(500, 4096);
  if (msgs.length === 0) quiet++;
  for (const m of msgs) seen.add(new TextDecoder().decode(m.body));
}
const lost = acked.filter((b) => !seen.has(b)).length;
console.log(JSON.stringify({
  bench: "failover",
  kills: KILLS,
  medianMs: median(times),
  maxMs: Math.max(...times),
  all: times,
  acknowledged: acked.length,
  lostAcknowledged: lost,
}));
await consumer.shutdown();
await producer.shutdown();
admin.close();
await servers.stopAll();
rmSync(work, { recursive: true, force: true });
process.exit(0);
