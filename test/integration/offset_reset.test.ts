import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import type { PushConsumerOptions } from "../../src/client/push_consumer_types.ts";
import { BolideError, TopicNotExistError } from "../../src/common/errors.ts";
import { createLogger } from "../../src/common/log.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { ResetOffsetBody } from "../../src/protocol/bodies/stats_bodies.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import { JsonRemoting } from "../compat/_json_client.ts";

const FAST: Partial<PushConsumerOptions> = {
  rebalanceIntervalMs: 500,
  persistConsumerOffsetIntervalMs: 200,
  heartbeatBrokerIntervalMs: 1000,
  pullDelayWhenExceptionMs: 100,
  brokerSuspendMaxTimeMs: 1000,
  consumeFromWhere: "first",
};

const text = (m: MessageExt) => new TextDecoder().decode(m.body);

/** How often each body arrived. */
function counts(got: MessageExt[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of got) out.set(text(m), (out.get(text(m)) ?? 0) + 1);
  return out;
}

/** Resolves once the group's committed offsets on `topic` have reached every queue's end: all it was given is consumed. */
async function caughtUp(admin: Admin, group: string, topic: string, what: string): Promise<void> {
  await waitFor(async () => {
    const s = await admin.consumeStats(group, topic);
    return s.length > 0 && s.every((q) => q.offset.consumerOffset === q.offset.brokerOffset);
  }, { timeoutMs: 20_000, what });
}

describe("offset reset (INVOKE_BROKER_TO_RESET_OFFSET, RESET_CONSUMER_CLIENT_OFFSET)", () => {
  test("a live push consumer on two brokers moves back by time, to the start and to the end, each message once and none before the point", async () => {
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], topics: { Rewind: 2 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const got: MessageExt[] = [];
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "RewindG", ...FAST }));
    consumer.subscribe("Rewind").registerMessageListener((msgs) => {
      got.push(...msgs);
    });
    await consumer.start();
    for (let i = 0; i < 20; i++) await c.producer.send({ topic: "Rewind", body: `a${i}` });
    await waitFor(() => got.length >= 20, { timeoutMs: 20_000, what: "batch a consumed" });
    // The reset point: after every message of batch a was stored, before any of batch b.
    const point = Math.max(...got.map((m) => m.storeTimestamp)) + 1;
    await waitFor(() => Date.now() > point, { timeoutMs: 1_000, what: "the clock past batch a" });
    for (let i = 0; i < 20; i++) await c.producer.send({ topic: "Rewind", body: `b${i}` });
    await caughtUp(admin, "RewindG", "Rewind", "batch b consumed and committed");
    assert.equal(got.length, 40);

    got.length = 0;
    const heard: string[] = [];
    const done = await admin.resetOffsets("RewindG", "Rewind", point, { onBroker: (r) => heard.push(r.brokerName) });
    assert.deepEqual(heard.sort(), ["broker-a", "broker-b"], "one progress report per broker");
    assert.equal(done.flatMap((d) => d.offsets).length, 4, "2 queues on each broker");
    // The offsets moved back by exactly batch b's 20 messages.
    const stats = await admin.consumeStats("RewindG", "Rewind");
    assert.ok(stats.length === 4);
    await waitFor(() => got.length >= 20, { timeoutMs: 20_000, what: "batch b again" });
    await caughtUp(admin, "RewindG", "Rewind", "batch b consumed again");
    const again = counts(got);
    assert.deepEqual([...again.keys()].sort(), Array.from({ length: 20 }, (_, i) => `b${i}`).sort(), "batch b, nothing of batch a");
    assert.ok([...again.values()].every((n) => n === 1), "each message once");

    got.length = 0;
    await admin.resetOffsets("RewindG", "Rewind", "earliest");
    await waitFor(() => got.length >= 40, { timeoutMs: 20_000, what: "everything again" });
    await caughtUp(admin, "RewindG", "Rewind", "everything consumed again");
    assert.equal(got.length, 40);
    assert.equal(counts(got).size, 40);

    // To the end while the consumer is held up: what it had not reached is skipped.
    got.length = 0;
    await consumer.shutdown();
    for (let i = 0; i < 10; i++) await c.producer.send({ topic: "Rewind", body: `skipped${i}` });
    await admin.resetOffsets("RewindG", "Rewind", "latest");
    const stats2 = await admin.consumeStats("RewindG", "Rewind");
    assert.ok(stats2.every((q) => q.offset.consumerOffset === q.offset.brokerOffset), "at the end of every queue, with no member online");
    const next = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "RewindG", ...FAST }));
    next.subscribe("Rewind").registerMessageListener((msgs) => {
      got.push(...msgs);
    });
    await next.start();
    await c.producer.send({ topic: "Rewind", body: "after" });
    await waitFor(() => got.length >= 1, { timeoutMs: 20_000, what: "the message after the reset" });
    await caughtUp(admin, "RewindG", "Rewind", "the new member caught up");
    assert.deepEqual(got.map(text), ["after"]);
  });

  test("a reset while messages before the point wait in the consumer: none of them is delivered after it, every one after the point once", async () => {
    await using c = await startCluster({ topics: { Backlog: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    for (let i = 0; i < 50; i++) await c.producer.send({ topic: "Backlog", body: `a${i}` });
    const point = Date.now() + 1;
    await waitFor(() => Date.now() > point, { timeoutMs: 1_000, what: "the clock past batch a" });
    for (let i = 0; i < 50; i++) await c.producer.send({ topic: "Backlog", body: `b${i}` });
    const got: string[] = [];
    let resetAt = -1;
    // The consumer's own log says when it applied the reset: what it delivers after is checked.
    const log = createLogger("BacklogG", "info", (line) => {
      if (/reset by an operator/.test(line)) resetAt = got.length;
    });
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "BacklogG", ...FAST, consumeConcurrency: 1, consumeMessageBatchMaxSize: 1, log }));
    consumer.subscribe("Backlog").registerMessageListener(async (msgs) => {
      got.push(...msgs.map(text));
      await new Promise((r) => setTimeout(r, 5)); // a slow listener: the rest of the pull waits in the process queue
    });
    await consumer.start();
    await waitFor(() => got.length >= 5 && consumer.stats().cachedMessages > 10, { timeoutMs: 20_000, what: "a backlog of batch a in the consumer" });
    await admin.resetOffsets("BacklogG", "Backlog", point);
    await waitFor(() => resetAt >= 0 && got.length >= resetAt + 50, { timeoutMs: 30_000, what: "batch b after the reset" });
    await caughtUp(admin, "BacklogG", "Backlog", "caught up");
    assert.ok(got.slice(0, resetAt).every((b) => b.startsWith("a")), "before the reset: only batch a");
    assert.deepEqual(got.slice(resetAt), Array.from({ length: 50 }, (_, i) => `b${i}`), "after it: batch b, in order, once");
  });

  test("a group with no live member: by time, rewind only without force, and the errors", async () => {
    await using c = await startCluster({ topics: { Idle: 2 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    for (let i = 0; i < 10; i++) await c.producer.send({ topic: "Idle", body: `m${i}` });
    // An operator created the group ahead of its first member: it starts at the end.
    await admin.updateGroup({ groupName: "IdleG" });
    await admin.resetOffsets("IdleG", "Idle", "latest");
    const at = async () => (await admin.consumeStats("IdleG", "Idle")).reduce((n, q) => n + q.offset.consumerOffset, 0);
    assert.equal(await at(), 10);
    // Without force a reset only moves back: to the end again changes nothing after a rewind.
    await admin.resetOffsets("IdleG", "Idle", "earliest", { force: false });
    assert.equal(await at(), 0);
    await admin.resetOffsets("IdleG", "Idle", "latest", { force: false });
    assert.equal(await at(), 0, "not moved forward");
    // A time after every message: the end of each queue.
    await admin.resetOffsets("IdleG", "Idle", new Date(Date.now() + 60_000));
    assert.equal(await at(), 10);

    const unknown = await rejectionOf(admin.resetOffsets("NeverSeen", "Idle", "earliest"));
    assert.ok(unknown instanceof BolideError && unknown.code === ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, String(unknown));
    assert.match(unknown.message, /NeverSeen/);
    assert.ok(await rejectionOf(admin.resetOffsets("IdleG", "NoSuchTopic", "earliest")) instanceof TopicNotExistError);
    const bad = await rejectionOf(admin.resetOffsets("IdleG", "Idle", { brokerName: "broker-a", queueId: 7, offset: 0 }));
    assert.ok(bad instanceof BolideError && bad.code === ResponseCode.INVALID_PARAMETER, String(bad));
    assert.match(bad.message, /queueId 7/);
    // The broker still serves.
    assert.equal((await admin.topicStats("Idle")).length, 2);
  });

  test("an orderly consumer restarts one queue at an exact offset, in order", async () => {
    await using c = await startCluster({ topics: { Ordered: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const got: number[] = [];
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "OrderedG", ...FAST }));
    consumer.subscribe("Ordered").registerOrderlyListener((msgs) => {
      for (const m of msgs) got.push(m.queueOffset);
      return "SUCCESS";
    });
    await consumer.start();
    for (let i = 0; i < 30; i++) await c.producer.send({ topic: "Ordered", body: `m${i}` });
    await caughtUp(admin, "OrderedG", "Ordered", "30 consumed");
    got.length = 0;
    const [r] = await admin.resetOffsets("OrderedG", "Ordered", { brokerName: c.broker.config.brokerName, queueId: 0, offset: 10 });
    assert.deepEqual(r.offsets.map((o) => o.offset), [10]);
    await waitFor(() => got.length >= 20, { timeoutMs: 20_000, what: "offsets 10..29 again" });
    await caughtUp(admin, "OrderedG", "Ordered", "caught up again");
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => 10 + i));
  });

  test("a RocketMQ client (JSON) is told with fastjson's queue-keyed body, and a JSON admin gets the same form", async () => {
    await using c = await startCluster({ topics: { JsonReset: 2 } });
    for (let i = 0; i < 4; i++) await c.producer.send({ topic: "JsonReset", body: `m${i}` });
    const member = await JsonRemoting.connect(c.broker.addr);
    try {
      const hb = new TextEncoder().encode(JSON.stringify({
        clientID: "json-member", producerDataSet: [], consumerDataSet: [{
          groupName: "JsonG", consumeType: "CONSUME_PASSIVELY", messageModel: "CLUSTERING", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET",
          subscriptionDataSet: [{ topic: "JsonReset", subString: "*", classFilterMode: false, tagsSet: [], codeSet: [], subVersion: 1 }], unitMode: false,
        }],
      }));
      assert.equal((await member.request(RequestCode.HEART_BEAT, {}, hb)).header.code, ResponseCode.SUCCESS);
      await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
      await admin.resetOffsets("JsonG", "JsonReset", "latest");
      const told = () => member.unsolicited.find((u) => u.header.code === RequestCode.RESET_CONSUMER_CLIENT_OFFSET);
      await waitFor(() => told() !== undefined, { timeoutMs: 5_000, what: "the reset request" });
      const req = told()!;
      assert.equal(req.serializeType, SerializeType.JSON);
      const f = req.header.extFields!;
      assert.deepEqual([f.topic, f.group, String(f.timestamp), String(f.isForce)], ["JsonReset", "JsonG", "-1", "true"]);
      assert.match(req.body.toString("utf8"), /^\{"offsetTable":\{\{"brokerName":/);
      const table = ResetOffsetBody.decode(req.body, SerializeType.JSON).offsetTable;
      assert.equal(table.reduce((n, e) => n + e.offset, 0), 4);
      // A JSON admin asks directly: the same form back.
      const direct = await member.request(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic: "JsonReset", group: "JsonG", timestamp: "0", isForce: "true" });
      assert.equal(direct.header.code, ResponseCode.SUCCESS, direct.header.remark);
      assert.deepEqual(ResetOffsetBody.decode(direct.body, SerializeType.JSON).offsetTable.map((e) => e.offset), [0, 0]);
    } finally {
      member.close();
    }
  });
});
