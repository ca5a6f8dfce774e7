import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, testNeeding } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { NetLab } from "../harness/netlab.ts";
import type { Child } from "../harness/process.ts";
import { runtimeBinary } from "../harness/process.ts";
import { Producer } from "../../src/client/producer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeBody } from "../../src/protocol/body_codec.ts";
import { decodeMessages } from "../../src/client/message.ts";

/**
 * High availability with each server on a host of its own (a network namespace), started as the
 * real binary would be, and killed with SIGKILL or cut off the network.
 */
const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const SENDER = new URL("../harness/direct_sender.ts", import.meta.url).pathname;
const bun = runtimeBinary();

interface Cluster {
  lab: NetLab;
  ns: string;
  nsChild: Child;
  admin: RemotingClient;
  brokers: Map<string, Child>;
  startBroker(host: string, args: string[]): Promise<string>;
  runtime(host: string): Promise<Record<string, string>>;
}

async function cluster(lab: NetLab, dir: string, hosts: string[]): Promise<Cluster> {
  const nsChild = lab.spawn("ns", bun, [CLI, "namesrv", "--host", lab.ip("ns"), "--port", "9876", "--log-level", "warn"]);
  const ns = await nsChild.listenAddr();
  const brokers = new Map<string, Child>();
  const admin = new RemotingClient();
  const addrOf = (host: string) => `${lab.ip(host)}:10911`;
  void hosts;
  return {
    lab,
    ns,
    nsChild,
    admin,
    brokers,
    async startBroker(host, args) {
      const child = lab.spawn(host, bun, [
        CLI, "broker", "--brokerIP1", lab.ip(host), "--listenPort", "10911", "--namesrvAddr", ns, "--brokerName", "g",
        "--storePathRootDir", join(dir, host), "--registerNameServerPeriod", "1000", "--log-level", "warn", ...args,
      ]);
      brokers.set(host, child);
      return await child.listenAddr(20_000);
    },
    async runtime(host) {
      const r = await admin.invoke(addrOf(host), createRequest(RequestCode.GET_BROKER_RUNTIME_INFO), 2000);
      return decodeBody<{ table: Record<string, string> }>(r.body, r.serializeType).table;
    },
  };
}

const createTopic = async (c: Cluster, host: string, topic: string) => {
  await waitFor(async () => {
    const r = await c.admin.invoke(`${c.lab.ip(host)}:10911`, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 4, writeQueueNums: 4 }), 2000);
    return r.code === 0;
  }, { what: `topic ${topic} on ${host}`, timeoutMs: 15_000 });
};

const sameEnd = async (c: Cluster, a: string, b: string) => {
  const [x, y] = await Promise.all([c.runtime(a), c.runtime(b)]);
  return x.commitLogMaxOffset === y.commitLogMaxOffset && Number(x.commitLogMaxOffset) > 0;
};

const CONTROLLED = (id: number) => ["--enableControllerMode", "true", "--brokerId", String(id), "--brokerRole", "SYNC_MASTER"];

const NETNS = { what: "root, to make network namespaces (ip netns; Debian: iproute2)", met: NetLab.available() };

describe("high availability across hosts (network namespaces)", () => {
  testNeeding(NETNS, "replication catches up after the slave is killed with SIGKILL and restarted", async () => {
    using dir = tempDir();
    await using lab = NetLab.create(["ns", "m", "s"]);
    const c = await cluster(lab, dir.path, ["m", "s"]);
    await c.startBroker("m", ["--brokerRole", "ASYNC_MASTER"]);
    await c.startBroker("s", ["--brokerRole", "SLAVE", "--brokerId", "1", "--haMetadataSyncInterval", "500"]);
    await createTopic(c, "m", "Rep");
    const producer = new Producer({ namesrvAddr: c.ns, group: "pg" });
    await waitFor(async () => (await producer.send({ topic: "Rep", body: "probe" }).catch(() => undefined))?.status === "SEND_OK", { what: "a route" });
    for (let i = 0; i < 2000; i++) await producer.send({ topic: "Rep", body: `a${i}` });
    await waitFor(() => sameEnd(c, "m", "s"), { what: "the slave caught up", timeoutMs: 20_000 });
    c.brokers.get("s")!.kill("SIGKILL");
    await c.brokers.get("s")!.exited;
    for (let i = 0; i < 2000; i++) await producer.send({ topic: "Rep", body: `b${i}` });
    await c.startBroker("s", ["--brokerRole", "SLAVE", "--brokerId", "1"]);
    await waitFor(() => sameEnd(c, "m", "s"), { what: "the restarted slave caught up", timeoutMs: 20_000 });
    for (let q = 0; q < 4; q++) {
      const max = async (host: string) => Number((await c.admin.invoke(`${lab.ip(host)}:10911`, createRequest(RequestCode.GET_MAX_OFFSET, { topic: "Rep", queueId: q }))).extFields?.offset);
      assert.equal(await max("s"), await max("m"), `queue ${q}`);
    }
    await producer.shutdown();
    c.admin.close();
  }, 120_000);

  testNeeding(NETNS, "SIGKILL the SYNC_MASTER under load: a new master within seconds, every acknowledged message on it and consumed, the old one back as a slave", async () => {
    using dir = tempDir();
    await using lab = NetLab.create(["ns", "b1", "b2"]);
    const c = await cluster(lab, dir.path, ["b1", "b2"]);
    await c.startBroker("b1", CONTROLLED(1));
    await createTopic(c, "b1", "Orders"); // succeeds once b1 is elected
    await c.startBroker("b2", CONTROLLED(2));
    const producer = new Producer({ namesrvAddr: c.ns, group: "pg" });
    await waitFor(async () => (await producer.send({ topic: "Orders", body: "probe" }).catch(() => undefined))?.status === "SEND_OK", { what: "b2 in sync", timeoutMs: 20_000 });
    await waitFor(async () => (await c.runtime("b1")).haSlaves?.includes('"inSync":true'), { what: "b2 in sync" });
    const seen = new Map<string, number>();
    const consumer = new PushConsumer({ namesrvAddr: c.ns, group: "cg", consumeFromWhere: "first", rebalanceIntervalMs: 1000, pullDelayWhenExceptionMs: 200 });
    consumer.subscribe("Orders", "*").registerMessageListener((msgs) => {
      for (const m of msgs) {
        const b = new TextDecoder().decode(m.body);
        seen.set(b, (seen.get(b) ?? 0) + 1);
      }
    });
    await consumer.start();
    // The sync state set takes the slave at the master's next heartbeat: wait for it, as an
    // operator would before pulling a plug.
    await waitFor(async () => {
      const r = await c.admin.invoke(c.ns, createRequest(RequestCode.CONTROLLER_GET_GROUPS), 2000);
      return decodeBody<{ groups: { syncStateSet: number[] }[] }>(r.body, r.serializeType).groups[0]?.syncStateSet.length === 2;
    }, { what: "both brokers in the sync state set" });

    const acked: string[] = [];
    let killedAt = 0;
    let recoveredAt = 0;
    for (let i = 0; acked.length < 1000 || recoveredAt === 0; i++) {
      assert.ok(killedAt === 0 || Date.now() - killedAt < 30_000, "no acknowledged send within 30 s of the kill");
      if (i === 500) {
        killedAt = Date.now();
        c.brokers.get("b1")!.kill("SIGKILL");
      }
      try {
        const r = await producer.send({ topic: "Orders", body: `m${i}` });
        if (killedAt > 0 && recoveredAt === 0) recoveredAt = Date.now();
        if (r.status === "SEND_OK" || killedAt > 0) acked.push(`m${i}`); // after the kill: stored on the new master
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const recoveryMs = recoveredAt - killedAt;
    assert.match((await c.runtime("b2")).brokerRole, /elected/);
    await waitFor(() => acked.every((b) => seen.has(b)), { what: "every acknowledged message consumed", timeoutMs: 30_000 });
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(`hosts: SIGKILL of the master → first acknowledged send ${recoveryMs} ms later; ${acked.length} acknowledged, all consumed; ${duplicates} delivered more than once`);
    assert.ok(recoveryMs < 10_000, `recovery took ${recoveryMs} ms`);

    await c.startBroker("b1", CONTROLLED(1));
    await waitFor(() => sameEnd(c, "b1", "b2"), { what: "the old master back as a slave", timeoutMs: 30_000 });
    assert.match((await c.runtime("b1")).brokerRole, /SLAVE/);
    await consumer.shutdown();
    await producer.shutdown();
    c.admin.close();
  }, 120_000);

  testNeeding(NETNS, "cut the master off the network: no SEND_OK from it once the new master answers, and it rejoins as a slave when the link returns", async () => {
    using dir = tempDir();
    await using lab = NetLab.create(["ns", "b1", "b2"]);
    const c = await cluster(lab, dir.path, ["b1", "b2"]);
    const b1 = await c.startBroker("b1", CONTROLLED(1));
    await createTopic(c, "b1", "Split");
    const b2 = await c.startBroker("b2", CONTROLLED(2));
    await waitFor(async () => {
      const r = await c.admin.invoke(c.ns, createRequest(RequestCode.CONTROLLER_GET_GROUPS), 2000);
      return decodeBody<{ groups: { syncStateSet: number[] }[] }>(r.body, r.serializeType).groups[0]?.syncStateSet.length === 2;
    }, { what: "both brokers in the sync state set", timeoutMs: 20_000 });
    // A client on b1's own host keeps sending to b1, and one here to b2, each straight to its broker.
    const local = lab.spawn("b1", bun, [SENDER, b1, "Split", "6000"]);
    const remote = lab.spawn("ns", bun, [SENDER, b2, "Split", "6000"]);
    await waitFor(() => local.stdoutLines.some((l) => l.endsWith(" 0")), { what: "b1 acknowledging before the cut" });
    lab.cut("b1");
    const cutAt = Date.now();
    await local.exited;
    await remote.exited;
    // b1 may answer 11/12 (stored only there, cut when it rejoins), but a SEND_OK needs b2's copy.
    const acks = (child: Child, codes: string[]) =>
      child.stdoutLines.filter((l) => l !== "done").map((l) => l.split(" ")).filter(([, , code]) => codes.includes(code)).map(([at, body, code]) => ({ at: Number(at), body, code }));
    const byB1 = acks(local, ["0"]).filter((a) => a.at >= cutAt);
    const byB2 = acks(remote, ["0", "11", "12"]);
    assert.ok(byB2.length > 0, `b2 became master and acknowledged: ${remote.stdoutLines.slice(-2).join(" | ")} ${remote.stderr.slice(-300)} B2: ${c.brokers.get("b2")!.stderr.slice(-1500)} NS: ${c.nsChild.stderr.slice(-1500)}`);
    const lastB1 = Math.max(cutAt, ...byB1.map((a) => a.at));
    const firstB2 = Math.min(...byB2.map((a) => a.at));
    console.log(`hosts: after the cut b1 acknowledged ${byB1.length} sends, the last ${lastB1 - cutAt} ms after it; b2 answered from ${firstB2 - cutAt} ms`);
    assert.ok(lastB1 < firstB2, "b1 and b2 both acknowledged at once");

    lab.heal("b1");
    /** Every body of the topic as a broker serves it, queue by queue. */
    const bodiesAt = async (addr: string) => {
      const out: string[] = [];
      for (let q = 0; q < 4; q++) {
        for (let off = 0; ;) {
          const r = await c.admin.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "check", topic: "Split", queueId: q, queueOffset: off, maxMsgNums: 1000, sysFlag: 0 }));
          if (r.code !== 0) break;
          for (const m of decodeMessages(r.body, "g", 1 << 24)) out.push(new TextDecoder().decode(m.body));
          off = Number(r.extFields?.nextBeginOffset);
        }
      }
      return out;
    };
    // The same content on both, not only the same length: b1 may have stored messages alone
    // (answered 11 or 12) as long as what b2 wrote at the same offsets; those must be gone.
    await waitFor(async () => (await c.runtime("b1").catch(() => undefined))?.brokerRole.includes("SLAVE") &&
      JSON.stringify(await bodiesAt(b1)) === JSON.stringify(await bodiesAt(b2)), {
      what: "b1 back as b2's slave, with b2's content",
      timeoutMs: 30_000,
    });
    // What b1 acknowledged with SEND_OK before the cut was replicated, so b2 has it.
    const bodies = new Set(await bodiesAt(b2));
    const missing = acks(local, ["0"]).filter((a) => !bodies.has(a.body));
    assert.deepEqual(missing, [], "SEND_OK messages of b1 missing on b2");
    c.admin.close();
  }, 120_000);
});
