import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { Producer } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { InvalidParameterError, NoPermissionError, TopicNotExistError } from "../../src/common/errors.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { JsonRemoting } from "../compat/_json_client.ts";
import { TopicConfigTableBody } from "../../src/protocol/bodies/broker_bodies.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";

const REFRESH = { pollNameServerIntervalMs: 100 };

describe("topic admin: permissions, queue counts, and a broker's write permission (WIPE / ADD_WRITE_PERM_OF_BROKER)", () => {
  test("a wiped broker drains: producers move to the other broker, consumers finish what it holds; add-write and a restart bring it back", async () => {
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], topics: { Drain: 4 }, producerOptions: REFRESH });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const got: MessageExt[] = [];
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "DrainG", consumeFromWhere: "first", rebalanceIntervalMs: 500 }));
    consumer.subscribe("Drain").registerMessageListener((msgs) => {
      got.push(...msgs);
    });
    await consumer.start();
    const sentTo = new Map<string, number>();
    const send = async (body: string) => {
      const r = await c.producer.send({ topic: "Drain", body });
      sentTo.set(r.messageQueue.brokerName, (sentTo.get(r.messageQueue.brokerName) ?? 0) + 1);
      return r.messageQueue.brokerName;
    };
    for (let i = 0; i < 16; i++) await send(`before${i}`);
    assert.ok((sentTo.get("broker-a") ?? 0) > 0 && (sentTo.get("broker-b") ?? 0) > 0, "both brokers take writes");

    const wiped = await admin.wipeWritePerm("broker-a");
    assert.deepEqual(wiped.map((w) => w.namesrv), [c.namesrvAddr], "every NameServer");
    assert.ok(wiped[0].topics >= 1, "Drain (and the system topics) lost write permission");
    const route = await admin.topicRoute("Drain");
    assert.deepEqual(route.queueDatas.map((q) => [q.brokerName, q.perm]), [["broker-a", 4], ["broker-b", 6]]);
    // The producer leaves broker-a at its next route refresh: then 8 sends in a row (a whole
    // round over both brokers' 8 queues before) all land on broker-b.
    let streak = 0;
    let n = 0;
    await waitFor(async () => {
      streak = (await send(`during${n++}`)) === "broker-b" ? streak + 1 : 0;
      return streak >= 8;
    }, { timeoutMs: 10_000, what: "the producer off broker-a" });
    for (let i = 0; i < 20; i++) assert.equal(await send(`drained${i}`), "broker-b");
    // Consumers keep reading broker-a: every message sent is consumed.
    const total = 16 + n + 20;
    await waitFor(() => got.length >= total, { timeoutMs: 20_000, what: "every message consumed" });
    assert.equal(new Set(got.map((m) => m.msgId)).size, total);

    // A read-only topic on broker-a stays read-only when write permission comes back.
    await admin.createTopic("ReadOnlyHere", { queues: 2, perm: 4 });
    const back = await admin.addWritePerm("broker-a");
    assert.ok(back[0].topics >= 1);
    const perms = async (topic: string) => (await admin.topicRoute(topic)).queueDatas.map((q) => [q.brokerName, q.perm]);
    assert.deepEqual(await perms("Drain"), [["broker-a", 6], ["broker-b", 6]]);
    assert.deepEqual(await perms("ReadOnlyHere"), [["broker-a", 4], ["broker-b", 4]]);
    await waitFor(async () => (await send("back")) === "broker-a", { timeoutMs: 10_000, what: "a send on broker-a again" });

    // Wiped again, then the master restarts (after maintenance): it registers afresh, writable.
    await admin.wipeWritePerm("broker-a");
    assert.deepEqual(await perms("Drain"), [["broker-a", 4], ["broker-b", 6]]);
    await c.restart(0);
    await waitFor(async () => JSON.stringify(await perms("Drain")) === JSON.stringify([["broker-a", 6], ["broker-b", 6]]), { timeoutMs: 10_000, what: "broker-a writable after its restart" });

    const unknown = await rejectionOf(admin.wipeWritePerm("broker-z"));
    assert.ok(unknown instanceof InvalidParameterError);
    assert.match(unknown.message, /broker-z is not registered.*broker-a, broker-b/);
  });

  test("updateTopic changes only what it names; separate read and write queues; a read-only topic refuses producers, not consumers", async () => {
    await using c = await startCluster({ topics: { Shape: 4 }, producerOptions: REFRESH });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await c.producer.send({ topic: "Shape", body: "one" });
    const [b] = await admin.updateTopic("Shape", { perm: 4 });
    assert.deepEqual([b.config.readQueueNums, b.config.writeQueueNums, b.config.perm], [4, 4, 4]);
    // The producer sees the new permission at its next route refresh.
    let refused: unknown;
    await waitFor(async () => {
      try {
        await c.producer.send({ topic: "Shape", body: "before the refresh" });
        return false;
      } catch (err) {
        refused = err;
        return true;
      }
    }, { timeoutMs: 10_000, what: "the producer refused" });
    assert.ok(refused instanceof NoPermissionError, String(refused));
    assert.match((refused as Error).message, /Shape is not writable/);
    // The broker refuses a producer with a stale route too, and still serves reads.
    const raw = await JsonRemoting.connect(c.broker.addr);
    try {
      const a = await raw.request(RequestCode.SEND_MESSAGE_V2, { a: "pg", b: "Shape", c: "TBW102", d: "4", e: "0", f: "0", g: String(Date.now()), h: "0", i: "", j: "0", k: "false" }, new TextEncoder().encode("x"));
      assert.equal(a.header.code, ResponseCode.NO_PERMISSION, a.header.remark);
    } finally {
      raw.close();
    }
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "ShapeG", consumeFromWhere: "first" }));
    await reader.subscribe("Shape");
    const read: MessageExt[] = [];
    await waitFor(async () => (read.push(...await reader.poll(200)), read.length >= 1), { timeoutMs: 10_000, what: "the message read from a read-only topic" });
    // Write again, with fewer write queues than read queues (shrinking a topic).
    const [after] = await admin.updateTopic("Shape", { perm: 6, writeQueueNums: 2 });
    assert.deepEqual([after.config.readQueueNums, after.config.writeQueueNums, after.config.perm], [4, 2, 6]);
    const route = await admin.topicRoute("Shape");
    assert.deepEqual([route.queueDatas[0].readQueueNums, route.queueDatas[0].writeQueueNums], [4, 2]);
    const queues = new Set<number>();
    await waitFor(async () => {
      try {
        queues.add((await c.producer.send({ topic: "Shape", body: "again" })).messageQueue.queueId);
        return queues.size >= 2;
      } catch (err) {
        if (err instanceof NoPermissionError) return false; // its route is not refreshed yet
        throw err;
      }
    }, { timeoutMs: 10_000, what: "sends on the write queues" });
    for (let i = 0; i < 10; i++) queues.add((await c.producer.send({ topic: "Shape", body: "again" })).messageQueue.queueId);
    assert.deepEqual([...queues].sort(), [0, 1], "only the 2 write queues");

    const [made] = await admin.createTopic("Split", { readQueueNums: 8, writeQueueNums: 4, order: true });
    assert.ok(made);
    const split = (await admin.topicRoute("Split")).queueDatas[0];
    assert.deepEqual([split.readQueueNums, split.writeQueueNums, split.perm], [8, 4, 6]);

    assert.ok(await rejectionOf(admin.updateTopic("NoSuchTopic", { perm: 4 })) instanceof TopicNotExistError);
    const badPerm = await rejectionOf(admin.updateTopic("Shape", { perm: 1 }));
    assert.ok(badPerm instanceof InvalidParameterError && /perm must be 2 \(W\), 4 \(R\) or 6 \(RW\), got 1/.test(badPerm.message), String(badPerm));
    const badQueues = await rejectionOf(admin.createTopic("Split", { writeQueueNums: 0 }));
    assert.ok(badQueues instanceof InvalidParameterError && /writeQueueNums must be an integer from 1 to 1024/.test(badQueues.message), String(badQueues));
  });

  test("deleting a topic removes its queues and offsets on the master and its slave; made again, it starts at offset 0", async () => {
    const SLAVE = { brokerRole: "SLAVE" as const, brokerId: 1, haSendHeartbeatInterval: 200, haMetadataSyncInterval: 200, registerNameServerPeriod: 200 };
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a", dir: "m" }, { brokerName: "broker-a", dir: "s", ...SLAVE }], producerOptions: REFRESH });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const [master, slave] = c.brokers;
    await admin.createTopic("Doomed", { queues: 2 });
    for (let i = 0; i < 6; i++) await c.producer.send({ topic: "Doomed", body: `old${i}` });
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "DoomedG", consumeFromWhere: "first" }));
    await reader.subscribe("Doomed");
    let read = 0;
    await waitFor(async () => (read += (await reader.poll(200)).length) >= 6, { timeoutMs: 10_000, what: "6 read" });
    await reader.commit();
    const queued = (b: typeof master, topic: string) => b.store.topicQueues().filter((q) => q.topic === topic).reduce((n, q) => n + q.maxOffset, 0);
    await waitFor(() => queued(slave, "Doomed") === 6, { timeoutMs: 10_000, what: "the slave has the 6" });
    // The slave learns of a deletion by the topic leaving its master's table: it must have copied it first.
    const remoting = new RemotingClient();
    c.track({ shutdown: () => Promise.resolve(remoting.close()) });
    const slaveTopics = async () => {
      const r = await remoting.invoke(slave.addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG));
      return Object.keys(TopicConfigTableBody.decode(r.body, r.serializeType).topicConfigTable ?? {});
    };
    await waitFor(async () => (await slaveTopics()).includes("Doomed"), { timeoutMs: 10_000, what: "the slave's copy of the topic table" });
    assert.ok((await admin.consumeStats("DoomedG")).some((p) => p.mq.topic === "Doomed"));
    await reader.shutdown();

    assert.deepEqual((await admin.deleteTopic("Doomed")).map((b) => b.brokerName), ["broker-a"]);
    assert.equal(queued(master, "Doomed"), 0, "the master's queues are gone");
    assert.ok(!(await admin.consumeStats("DoomedG")).some((p) => p.mq.topic === "Doomed"), "and the group's offsets on it");
    await waitFor(() => !slave.store.topicQueues().some((q) => q.topic === "Doomed"), { timeoutMs: 10_000, what: "the slave's queues gone at its metadata sync" });
    assert.ok(await rejectionOf(admin.topicStats("Doomed")) instanceof TopicNotExistError);

    await admin.createTopic("Doomed", { queues: 2 });
    // A fresh producer: the harness's may have routed Doomed by the default topic while it was gone.
    const fresh = c.track(new Producer({ namesrvAddr: c.namesrvAddr, group: "DoomedP" }));
    await fresh.start();
    const again = await fresh.send({ topic: "Doomed", body: "new" });
    assert.equal(again.queueOffset, 0, "a topic made again starts empty");
    await waitFor(() => queued(slave, "Doomed") === 1, { timeoutMs: 10_000, what: "the slave has the new message only" });
    assert.equal(queued(master, "Doomed"), 1);
  });
});
