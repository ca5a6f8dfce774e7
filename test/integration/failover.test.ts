import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { createTopic, startBroker, startNameServer } from "../harness/servers.ts";
import { Producer } from "../../src/client/producer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { TcpProxy } from "../harness/tcp_proxy.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeRecord } from "../../src/common/message_record.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";
import type { MessageStore } from "../../src/store/message_store.ts";

/** Fast controller-mode timings, so the same code paths run in a second. */
const CONTROLLED = (brokerId: number): Partial<BrokerConfig> => ({
  enableControllerMode: true,
  brokerId,
  brokerRole: "SYNC_MASTER",
  controllerHeartbeatInterval: 100,
  controllerLeaseMs: 600,
  haSendHeartbeatInterval: 200,
  haMetadataSyncInterval: 200,
  haHousekeepingInterval: 1000,
  slaveTimeout: 1000,
  registerNameServerPeriod: 500,
});

const isMaster = (b: BrokerController) => b.runtimeInfo().brokerRole.includes("elected");

/** Every body in every queue of `topic`, as the store serves them. */
function bodies(store: MessageStore, topic: string, queues: number): string[] {
  const out: string[] = [];
  for (let q = 0; q < queues; q++) {
    let offset = store.minOffset(topic, q);
    for (;;) {
      const r = store.getMessage(topic, q, offset, 256);
      if (r.status !== "FOUND") break;
      for (const raw of r.messages) out.push(new TextDecoder().decode(decodeRecord(raw).body));
      offset = r.nextBeginOffset;
    }
  }
  return out;
}

describe("automatic failover", () => {
  test("kill the SYNC_MASTER under load: the slave is elected, every acknowledged message is on it, and the old master rejoins as a slave", async () => {
    using dir = tempDir();
    await using ns = await startNameServer({ controller: { heartbeatTimeoutMs: 800 } });
    await using b1 = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => isMaster(b1), { what: "broker 1 elected" });
    const admin = new RemotingClient();
    await createTopic(b1.addr, "Orders", 4);
    await using b2 = await startBroker(ns.addr, join(dir.path, "b2"), CONTROLLED(2));
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg", sendTimeoutMs: 2000 });
    await waitFor(async () => (await producer.send({ topic: "Orders", body: "probe" })).status === "SEND_OK", { what: "broker 2 in sync" });
    await waitFor(() => ns.controller!.controller.view(b1.config.brokerName)!.syncStateSet.includes(2), { what: "broker 2 in the sync state set" });

    const acked: string[] = []; // SEND_OK: on both replicas
    const storedAlone: string[] = []; // after the kill: stored on the new master, no slave yet (SLAVE_NOT_AVAILABLE)
    let killedAt = 0;
    let firstAckAfterKill = 0;
    let failures = 0;
    for (let i = 0; acked.length + storedAlone.length < 600 || (killedAt > 0 && firstAckAfterKill === 0); i++) {
      assert.ok(killedAt === 0 || Date.now() - killedAt < 20_000, "no acknowledged send within 20 s of the kill");
      if (i === 300) {
        killedAt = Date.now();
        await b1.kill(); // as kill -9: no flush, no goodbye
      }
      const body = `m${i}`;
      try {
        const r = await producer.send({ topic: "Orders", body });
        if (killedAt > 0 && firstAckAfterKill === 0) firstAckAfterKill = Date.now();
        if (r.status === "SEND_OK") acked.push(body);
        else if (killedAt > 0) storedAlone.push(body);
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.ok(isMaster(b2), "broker 2 is the master");
    const recoveryMs = firstAckAfterKill - killedAt;
    const stored = bodies(b2.store, "Orders", 4);
    const have = new Set(stored);
    const lost = [...acked, ...storedAlone].filter((b) => !have.has(b));
    const duplicates = stored.length - have.size;
    console.log(`failover: first acknowledged send ${recoveryMs} ms after the kill; ${failures} sends failed meanwhile; ${lost.length} lost; ${duplicates} duplicates`);
    assert.deepEqual(lost, [], "acknowledged messages missing on the new master");
    assert.ok(storedAlone.length > 0, "the new master took sends while it had no slave (SLAVE_NOT_AVAILABLE)");
    assert.ok(recoveryMs < 5_000, `recovery took ${recoveryMs} ms`);

    // The old master comes back: it follows broker 2, cutting whatever it wrote that 2 never had.
    await using back = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => !isMaster(back) && back.store.commitLogMaxOffset === b2.store.commitLogMaxOffset, { what: "broker 1 caught up as a slave" });
    for (let off = b2.store.commitLogMinOffset; off < b2.store.commitLogMaxOffset;) {
      const c = b2.store.readReplica(off, 1 << 20)!;
      assert.deepEqual(back.store.readReplica(off, 1 << 20), c, `chunk at ${off}`);
      off = c.next;
    }
    const r = await producer.send({ topic: "Orders", body: "after the rejoin" });
    assert.equal(r.status, "SEND_OK", "broker 2 has its slave back in sync");
    admin.close();
    await producer.shutdown();
  }, 60_000);

  test("a master cut off from the controller: no write is acknowledged on both sides, and it rejoins when the link returns", async () => {
    using dir = tempDir();
    await using ns = await startNameServer({ controller: { heartbeatTimeoutMs: 800 } });
    await using link = await TcpProxy.start(ns.addr); // broker 1's only way to the controller
    await using b1 = await startBroker(ns.addr, join(dir.path, "b1"), { ...CONTROLLED(1), controllerAddr: link.addr });
    await waitFor(() => isMaster(b1), { what: "broker 1 elected" });
    const admin = new RemotingClient();
    await createTopic(b1.addr, "Split", 2);
    await using b2 = await startBroker(ns.addr, join(dir.path, "b2"), CONTROLLED(2));
    await waitFor(() => ns.controller!.controller.view("broker-a")!.syncStateSet.includes(2), { what: "broker 2 in the sync state set" });
    // Two producers that each talk to one broker only, so we see what each side acknowledges.
    const direct = (addr: string) => async (body: string) => {
      const r = await admin.invoke(addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", topic: "Split", queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 }, new TextEncoder().encode(body)), 2000);
      return r.code;
    };
    const toB1 = direct(b1.addr);
    const toB2 = direct(b2.addr);
    assert.equal(await toB1("before"), 0);

    link.cut();
    const cutAt = Date.now();
    // Broker 1 acknowledges with SEND_OK only what broker 2 copied, and broker 2 stops copying
    // before it takes over: broker 1's SEND_OKs all come before broker 2's first answer (any
    // answer that stored the message: SEND_OK, or SLAVE_NOT_AVAILABLE (11) / FLUSH_SLAVE_TIMEOUT
    // (12) while it has no slave). Broker 1's own 11s and 12s are stored there only, and cut
    // when it rejoins.
    const stored = (code: number) => code === 0 || code === 11 || code === 12;
    const ackedByB1: { body: string; at: number; code: number }[] = [];
    const ackedByB2: { body: string; at: number }[] = [];
    for (let i = 0; Date.now() - cutAt < 2500; i++) {
      const [c1, c2] = await Promise.all([toB1(`b1-${i}`).catch(() => -1), toB2(`b2-${i}`).catch(() => -1)]);
      if (c1 === 0) ackedByB1.push({ body: `b1-${i}`, at: Date.now(), code: c1 });
      if (stored(c2)) ackedByB2.push({ body: `b2-${i}`, at: Date.now() });
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(isMaster(b2), "broker 2 was elected");
    assert.ok(ackedByB2.length > 0, "broker 2 acknowledges as the new master");
    const lastB1 = Math.max(0, ...ackedByB1.map((a) => a.at));
    const firstB2 = Math.min(...ackedByB2.map((a) => a.at));
    assert.ok(lastB1 < firstB2, `broker 1 acknowledged at ${lastB1 - cutAt} ms, after broker 2 began at ${firstB2 - cutAt} ms`);
    // What broker 1 acknowledged with SEND_OK (SYNC_MASTER: replicated first) is on broker 2.
    const onB2 = new Set(bodies(b2.store, "Split", 2));
    assert.deepEqual(ackedByB1.filter((a) => a.code === 0 && !onB2.has(a.body)).map((a) => a.body), []);
    console.log(`partition: broker 1 acknowledged ${ackedByB1.length} sends (SEND_OK) after the cut, the last ${lastB1 - cutAt} ms after it; broker 2 answered from ${firstB2 - cutAt} ms`);

    link.heal();
    // Same content, not only the same length: what broker 1 stored alone (11s and 12s) may
    // happen to be as long as what broker 2 wrote at the same offsets.
    const same = () => JSON.stringify(bodies(b1.store, "Split", 2)) === JSON.stringify(bodies(b2.store, "Split", 2));
    await waitFor(() => !isMaster(b1) && b1.store.commitLogMaxOffset === b2.store.commitLogMaxOffset && same(), { what: "broker 1 back as broker 2's slave" });
    admin.close();
  }, 60_000);

  test("consumers keep consuming through a failover without losing an acknowledged message", async () => {
    using dir = tempDir();
    await using ns = await startNameServer({ controller: { heartbeatTimeoutMs: 800 } });
    await using b1 = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => isMaster(b1), { what: "broker 1 elected" });
    const admin = new RemotingClient();
    await createTopic(b1.addr, "Flow", 4);
    await using b2 = await startBroker(ns.addr, join(dir.path, "b2"), CONTROLLED(2));
    await waitFor(() => ns.controller!.controller.view("broker-a")!.syncStateSet.includes(2), { what: "broker 2 in the sync state set" });
    const seen = new Map<string, number>();
    const consumer = new PushConsumer({
      namesrvAddr: ns.addr,
      group: "flow-cg",
      consumeFromWhere: "first",
      rebalanceIntervalMs: 300,
      persistConsumerOffsetIntervalMs: 100,
      pullDelayWhenExceptionMs: 100,
      brokerSuspendMaxTimeMs: 500,
    });
    consumer.subscribe("Flow", "*").registerMessageListener((msgs) => {
      for (const m of msgs) {
        const b = new TextDecoder().decode(m.body);
        seen.set(b, (seen.get(b) ?? 0) + 1);
      }
    });
    await consumer.start();
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg", sendTimeoutMs: 2000 });
    const acked: string[] = [];
    for (let i = 0; acked.length < 400; i++) {
      if (i === 200) await b1.kill();
      try {
        const r = await producer.send({ topic: "Flow", body: `f${i}` });
        if (r.status === "SEND_OK" || (i > 200 && r.status === "SLAVE_NOT_AVAILABLE")) acked.push(`f${i}`);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await waitFor(() => acked.every((b) => seen.has(b)), { what: "every acknowledged message consumed", timeoutMs: 20_000 });
    const dupes = [...seen.values()].filter((n) => n > 1).length;
    console.log(`consume through failover: ${acked.length} acknowledged, all consumed, ${dupes} delivered more than once`);
    await consumer.shutdown();
    await producer.shutdown();
    admin.close();
  }, 60_000);
});
