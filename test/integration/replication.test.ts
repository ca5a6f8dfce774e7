import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { Brokers, createTopic, startBroker, startNameServer } from "../harness/servers.ts";
import { Producer } from "../../src/client/producer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { parseOffsetMsgId } from "../../src/common/message_id.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import type { MessageStore } from "../../src/store/message_store.ts";

/** Every chunk of both logs, compared: same offsets, same bytes. */
function assertSameLog(master: MessageStore, slave: MessageStore): void {
  assert.equal(slave.commitLogMaxOffset, master.commitLogMaxOffset);
  for (let off = master.commitLogMinOffset; off < master.commitLogMaxOffset;) {
    const c = master.readReplica(off, 1 << 20)!;
    assert.deepEqual(slave.readReplica(off, 1 << 20), c, `chunk at ${off}`);
    off = c.next;
  }
}

/** Small segments, so a few thousand messages cross segment boundaries. */
const SMALL: Partial<BrokerConfig> = { commitLogSegmentBytes: 1024 * 1024, maxMessageSize: 64 * 1024 };

const SLAVE: Partial<BrokerConfig> = {
  brokerRole: "SLAVE",
  brokerId: 1,
  haSendHeartbeatInterval: 200,
  haMetadataSyncInterval: 200,
  registerNameServerPeriod: 200,
};

describe("replication", () => {
  test("a slave copies the master's CommitLog byte for byte, serves reads and metadata, refuses writes, and catches up after a restart and a crash", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "m", ...SMALL }], topics: { Rep: 4 } });
    const { ns, broker: master, producer } = cluster;
    const dir = { path: cluster.dir };
    const body = "x".repeat(800);
    for (let i = 0; i < 1500; i++) await producer.send({ topic: "Rep", body: `${i}:${body}`, keys: `k${i}` });
    await using started = new Brokers();
    let slave = started.track(await startBroker(ns.addr, join(dir.path, "s"), { ...SLAVE, ...SMALL }));
    await waitFor(() => slave.store.commitLogMaxOffset === master.store.commitLogMaxOffset, { what: "the slave caught up" });
    assert.ok(master.store.commitLogMaxOffset > 1024 * 1024, "the copy crossed a segment boundary");
    assertSameLog(master.store, slave.store);

    const admin = new RemotingClient();
    // Reads: the slave answers pulls from its own ConsumeQueues.
    const pulled = await admin.invoke(slave.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "cg", topic: "Rep", queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: 0 }));
    assert.equal(pulled.code, ResponseCode.SUCCESS);
    assert.equal(slave.store.maxOffset("Rep", 0), master.store.maxOffset("Rep", 0));
    // Metadata: topics and committed offsets come over from the master.
    await admin.invoke(master.addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: "cg", topic: "Rep", queueId: 1, commitOffset: 42 }));
    await waitFor(async () => {
      const r = await admin.invoke(slave.addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: "cg", topic: "Rep", queueId: 1 }));
      return r.code === ResponseCode.SUCCESS && Number(r.extFields?.offset) === 42;
    }, { what: "the committed offset on the slave" });
    // Writes go to the master only.
    const refused = await admin.invoke(slave.addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", topic: "Rep", queueId: 0 }, new TextEncoder().encode("no")));
    assert.equal(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE);
    assert.match(refused.remark ?? "", /is a slave/);

    // A clean restart, then a crash: each time the slave resumes from its own end.
    await slave.shutdown(1000);
    for (let i = 0; i < 300; i++) await producer.send({ topic: "Rep", body: `after-stop-${i}` });
    slave = started.track(await startBroker(ns.addr, join(dir.path, "s"), { ...SLAVE, ...SMALL }));
    await waitFor(() => slave.store.commitLogMaxOffset === master.store.commitLogMaxOffset, { what: "catch-up after a restart" });
    await slave.kill();
    for (let i = 0; i < 300; i++) await producer.send({ topic: "Rep", body: `after-crash-${i}` });
    slave = started.track(await startBroker(ns.addr, join(dir.path, "s"), { ...SLAVE, ...SMALL }));
    await waitFor(() => slave.store.commitLogMaxOffset === master.store.commitLogMaxOffset, { what: "catch-up after a crash" });
    assertSameLog(master.store, slave.store);
    assert.equal(slave.store.queryMessage("Rep", "k777", 4).length, 1, "the slave's index covers replicated keys");
    admin.close();
    await producer.shutdown();
    await slave.shutdown(1000);
  });

  test("SYNC_MASTER acknowledges once the slave holds the message; SLAVE_NOT_AVAILABLE without one, FLUSH_SLAVE_TIMEOUT when it stops answering", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "m", brokerRole: "SYNC_MASTER", slaveTimeout: 400, haHousekeepingInterval: 1000 }], topics: { Sync: 2 } });
    const { ns, broker: master, producer } = cluster;
    const dir = { path: cluster.dir };
    const alone = await producer.send({ topic: "Sync", body: "before any slave" });
    assert.equal(alone.status, "SLAVE_NOT_AVAILABLE");
    assert.equal(master.store.maxOffset("Sync", alone.messageQueue.queueId), 1, "the message is stored anyway");

    await using slave = await startBroker(ns.addr, join(dir.path, "s"), SLAVE);
    await waitFor(async () => (await producer.send({ topic: "Sync", body: "probe" })).status === "SEND_OK", { what: "the slave in sync" });
    for (let i = 0; i < 200; i++) {
      const r = await producer.send({ topic: "Sync", body: `m${i}` });
      assert.equal(r.status, "SEND_OK");
      // Acknowledged means the slave already holds it.
      const { offset } = parseOffsetMsgId(r.offsetMsgId);
      assert.ok(slave.store.commitLogMaxOffset > offset, `message at ${offset} acknowledged before the slave had it`);
    }
    // 256 in flight at once: every one acknowledged SEND_OK.
    const many = await Promise.all(Array.from({ length: 256 }, (_, i) => producer.send({ topic: "Sync", body: `p${i}` })));
    assert.deepEqual([...new Set(many.map((r) => r.status))], ["SEND_OK"]);

    await slave.kill(); // silent, but heard from within haHousekeepingInterval: still counted
    const late = await producer.send({ topic: "Sync", body: "slave just died" });
    assert.equal(late.status, "FLUSH_SLAVE_TIMEOUT");
    await waitFor(async () => (await producer.send({ topic: "Sync", body: "after housekeeping" })).status === "SLAVE_NOT_AVAILABLE", {
      what: "the dead slave dropped",
    });
    await producer.shutdown();
  });

  test("with the master gone, consumers read from the slave; offsets committed there are carried back when the master returns", async () => {
    using dir = tempDir();
    await using ns = await startNameServer();
    await using started = new Brokers();
    let master = started.track(await startBroker(ns.addr, join(dir.path, "m")));
    await createTopic(master.addr, "Fail", 2);
    await using slave = await startBroker(ns.addr, join(dir.path, "s"), SLAVE);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    for (let i = 0; i < 300; i++) await producer.send({ topic: "Fail", body: `a${i}` });
    await waitFor(() => slave.store.commitLogMaxOffset === master.store.commitLogMaxOffset, { what: "the slave caught up" });
    await master.kill();
    const seen = new Map<string, number>();
    const c = new PushConsumer({
      namesrvAddr: ns.addr,
      group: "cg",
      consumeFromWhere: "first",
      rebalanceIntervalMs: 300,
      persistConsumerOffsetIntervalMs: 100,
      pullDelayWhenExceptionMs: 100,
      brokerSuspendMaxTimeMs: 500,
    });
    c.subscribe("Fail", "*").registerMessageListener((msgs) => {
      for (const m of msgs) seen.set(new TextDecoder().decode(m.body), (seen.get(new TextDecoder().decode(m.body)) ?? 0) + 1);
    });
    await c.start();
    await waitFor(() => seen.size === 300, { what: "300 messages read from the slave" });
    const admin = new RemotingClient();
    const committed = async (addr: string, queueId: number) => {
      const r = await admin.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: "cg", topic: "Fail", queueId }));
      return r.code === ResponseCode.SUCCESS ? Number(r.extFields?.offset) : -1;
    };
    await waitFor(async () => (await committed(slave.addr, 0)) + (await committed(slave.addr, 1)) === 300, { what: "offsets committed on the slave" });

    master = started.track(await startBroker(ns.addr, join(dir.path, "m")));
    await waitFor(async () => (await committed(master.addr, 0)) + (await committed(master.addr, 1)) === 300, {
      what: "the slave's offsets carried back to the master",
    });
    for (let i = 0; i < 50; i++) await producer.send({ topic: "Fail", body: `b${i}` });
    await waitFor(async () => {
      const r = await admin.invoke(master.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: "cg" }));
      return r.code === ResponseCode.SUCCESS && new TextDecoder().decode(r.body).includes(c.clientId);
    }, { what: "the consumer back on the master" });
    await waitFor(() => seen.size === 350, { what: "the new messages" });
    const dupes = [...seen.values()].filter((n) => n > 1).length;
    assert.equal(dupes, 0, `${dupes} messages delivered twice`);
    admin.close();
    await c.shutdown();
    await producer.shutdown();
    await master.shutdown(1000);
  });

  test("a consumer far behind the log's end is sent to the slave (suggestWhichBrokerId) and back to the master once caught up", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "m", slaveReadEnable: true, consumeSlowlyLagBytes: 64 * 1024 }], topics: { Lag: 1 }, producerGroup: false });
    const { ns, broker: master } = cluster;
    const dir = { path: cluster.dir };
    await using slave = await startBroker(ns.addr, join(dir.path, "s"), SLAVE);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    const body = "y".repeat(1000);
    for (let i = 0; i < 1000; i++) await producer.send({ topic: "Lag", body: `${i}:${body}` });
    await waitFor(() => slave.store.commitLogMaxOffset === master.store.commitLogMaxOffset, { what: "the slave caught up" });
    const admin = new RemotingClient();
    await waitFor(async () => {
      const r = await admin.invoke(ns.addr, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: "Lag" }));
      return new TextDecoder().decode(r.body).includes(slave.addr);
    }, { what: "the slave in the route" });
    admin.close();
    const seen = new Set<string>();
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "lagging", consumeFromWhere: "first", pullBatchSize: 16, rebalanceIntervalMs: 500 });
    c.subscribe("Lag", "*").registerMessageListener((msgs) => {
      for (const m of msgs) seen.add(new TextDecoder().decode(m.body).split(":")[0]);
    });
    await c.start();
    await waitFor(() => seen.size === 1000, { what: "the backlog consumed" });
    const pulls = (b: typeof master) => Number(b.runtimeInfo().pullsFound);
    assert.ok(pulls(slave) > 10, `the slave served ${pulls(slave)} pulls of the backlog`);
    // Caught up: the last pulls came back to the master, so new messages are read there.
    const before = pulls(master);
    for (let i = 0; i < 20; i++) await producer.send({ topic: "Lag", body: `new-${i}` });
    await waitFor(() => seen.has("new-19"), { what: "the new messages" });
    assert.ok(pulls(master) > before, "new messages are pulled from the master");
    await c.shutdown();
    await producer.shutdown();
  });
});
