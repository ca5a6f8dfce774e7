import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { startNameServer } from "../harness/servers.ts";
import { Producer, selectByHash } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { decodeMessages, type MessageExt } from "../../src/client/message.ts";
import { parseOffsetMsgId } from "../../src/common/message_id.ts";
import { decodeBody, encodeBody } from "../../src/protocol/body_codec.ts";
import { NameServerClient } from "../../src/client/name_server_client.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { ResponseCode } from "../../src/common/response_code.ts";

const text = (m: MessageExt) => new TextDecoder().decode(m.body);

async function drain(c: PullConsumer, want: number, timeoutMs = 10_000): Promise<MessageExt[]> {
  const got: MessageExt[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < want && Date.now() < deadline) got.push(...await c.poll(200, 256));
  return got;
}

describe("broker, producer and pull consumer", () => {
  test("messages sent round robin land in both broker groups and are all read back exactly", async () => {
    await using cluster = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], producerGroup: false });
    const { ns, brokers: [a, b] } = cluster;
    const admin = new RemotingClient();
    for (const br of [a, b]) {
      const r = await admin.invoke(br.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "Orders", readQueueNums: 4, writeQueueNums: 4 }));
      assert.equal(r.code, 0);
    }
    await waitFor(async () => (await new NameServerClient({ namesrvAddr: ns.addr }).getRoute("Orders").catch(() => undefined))?.queueDatas.length === 2, { what: "both brokers in the route" });
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    await producer.start();
    const sent = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const r = await producer.send({ topic: "Orders", body: `order-${i}`, tags: i % 2 ? "odd" : "even", keys: [`k${i}`] });
      assert.equal(r.status, "SEND_OK");
      sent.set(r.msgId, `order-${i}`);
    }
    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg", consumeFromWhere: "first" });
    await c.subscribe("Orders");
    const got = await drain(c, 200);
    assert.equal(got.length, 200);
    assert.deepEqual(new Map(got.map((m) => [m.msgId, text(m)])), sent);
    const perBroker = new Map<string, number>();
    for (const m of got) perBroker.set(m.brokerName, (perBroker.get(m.brokerName) ?? 0) + 1);
    assert.deepEqual([...perBroker.keys()].sort(), ["broker-a", "broker-b"]);
    assert.ok(Math.abs(perBroker.get("broker-a")! - 100) <= 2, JSON.stringify([...perBroker]));
    const m = got.find((x) => text(x) === "order-7")!;
    assert.deepEqual([m.tags, m.keys, m.topic, m.reconsumeTimes], ["odd", ["k7"], "Orders", 0]);
    assert.ok(m.storeTimestamp >= m.bornTimestamp - 1000);
    await producer.shutdown();
    await c.shutdown();
    admin.close();
  });

  test("ordered sends with a selector stay in one queue, in order", async () => {
    await using cluster = await startCluster();
    const { ns, producer } = cluster;
    const queues = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const r = await producer.send({ topic: "Ordered", body: `step-${i}` }, selectByHash, "order-4711");
      queues.add(r.messageQueue.queueId);
    }
    assert.equal(queues.size, 1);
    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg", consumeFromWhere: "first" });
    await c.subscribe("Ordered");
    const got = await drain(c, 50);
    assert.deepEqual(got.map(text), Array.from({ length: 50 }, (_, i) => `step-${i}`));
    await producer.shutdown();
    await c.shutdown();
  });

  test("a long-polling pull answers within milliseconds of a send", async () => {
    await using cluster = await startCluster();
    const { ns, broker: a, producer } = cluster;
    await producer.send({ topic: "Live", body: "first" }, selectByHash, 1);
    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg" }); // from the last offset
    const [mq] = (await c.queuesOf("Live")).filter((q) => q.queueId === selectByHash([0, 1, 2, 3].map((i) => ({ topic: "Live", brokerName: "broker-a", queueId: i })), { topic: "Live", body: "" }, 1).queueId);
    await c.assign([mq]);
    const polled = c.poll(10_000);
    await waitFor(() => a.runtimeInfo().heldPulls === "1", { what: "the pull to be held" });
    const sentAt = performance.now();
    await producer.send({ topic: "Live", body: "now" }, selectByHash, 1);
    const got = await polled;
    const latency = performance.now() - sentAt;
    assert.deepEqual(got.map(text), ["now"]);
    assert.ok(latency < 200, `answered ${latency.toFixed(1)} ms after the send`);
    // A consumer that goes away frees its held pull at once, not after the hold time.
    void c.poll(10_000);
    await waitFor(() => a.runtimeInfo().heldPulls === "1", { what: "a second held pull" });
    await c.shutdown();
    await waitFor(() => a.runtimeInfo().heldPulls === "0", { timeoutMs: 2000, what: "the held pull to be released" });
    await producer.shutdown();
  });

  test("bad input gets its specific code and nothing is stored", async () => {
    await using cluster = await startCluster({ brokers: [{ autoCreateTopicEnable: false, maxMessageSize: 1024 }], producerGroup: false });
    const { ns, broker: a } = cluster;
    const raw = new RemotingClient();
    await raw.invoke(a.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "T", readQueueNums: 2, writeQueueNums: 2 }));
    await raw.invoke(a.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "ReadOnly", readQueueNums: 1, writeQueueNums: 1, perm: 4 }));
    const send = (ext: Record<string, string | number>, body?: Uint8Array) => raw.invoke(a.addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", ...ext }, body));
    const x = new Uint8Array([1]);
    const cases: [string, Promise<{ code: number; remark?: string }>, number][] = [
      ["illegal topic name", send({ topic: "bad topic", queueId: 0 }, x), ResponseCode.INVALID_PARAMETER],
      ["topic too long", send({ topic: "t".repeat(200), queueId: 0 }, x), ResponseCode.INVALID_PARAMETER],
      ["unknown topic", send({ topic: "Nope", queueId: 0 }, x), ResponseCode.TOPIC_NOT_EXIST],
      ["queue id out of range", send({ topic: "T", queueId: 9 }, x), ResponseCode.INVALID_PARAMETER],
      ["empty body", send({ topic: "T", queueId: 0 }), ResponseCode.MESSAGE_ILLEGAL],
      ["body too large", send({ topic: "T", queueId: 0 }, new Uint8Array(1025)), ResponseCode.MESSAGE_ILLEGAL],
      ["properties too large", send({ topic: "T", queueId: 0, properties: `big\u0001${"v".repeat(40_000)}\u0002` }, x), ResponseCode.MESSAGE_ILLEGAL],
      ["no write permission", send({ topic: "ReadOnly", queueId: 0 }, x), ResponseCode.NO_PERMISSION],
      ["missing topic field", send({ queueId: 0 }, x), ResponseCode.INVALID_PARAMETER],
      // The broker's own topics: a timer message sent straight to the timer topic would be put
      // back to REAL_TOPIC later, around ReadOnly's permission (and auto-create the topic).
      ...["TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC", "rmq_sys_wheel_timer"].map((topic) =>
        [`plain send to ${topic}`, send({ topic, queueId: 0, properties: `REAL_TOPIC\u0001ReadOnly\u0002REAL_QID\u00010\u0002TIMER_OUT_MS\u0001${Date.now() + 500}\u0002` }, x), ResponseCode.NO_PERMISSION] as [string, Promise<{ code: number; remark?: string }>, number]
      ),
      ["batch to the timer topic", raw.invoke(a.addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { producerGroup: "pg", topic: "rmq_sys_wheel_timer", queueId: 0, batch: true }, x)), ResponseCode.NO_PERMISSION],
    ];
    for (const [what, p, code] of cases) {
      const r = await p;
      assert.equal(r.code, code, `${what}: ${r.remark}`);
      assert.ok(r.remark, `${what} says why`);
    }
    assert.equal(a.store.commitLogMaxOffset, 0, "nothing was stored");
    const table = decodeBody<{ topicConfigTable: Record<string, unknown> }>((await raw.invoke(a.addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG))).body).topicConfigTable;
    for (const topic of ["SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_wheel_timer"]) assert.equal(table[topic], undefined, `${topic} was not auto-created`);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    const err = await rejectionOf(producer.send({ topic: "Missing", body: "x" }));
    assert.match(err.message, /No route info of this topic: Missing/);
    // A read-only topic with its master up is a permission, not "no master broker is up".
    await waitFor(async () => (await rejectionOf(producer.send({ topic: "ReadOnly", body: "x" }))).name === "NoPermissionError", { what: "ReadOnly's route" });
    const ro = await rejectionOf(producer.send({ topic: "ReadOnly", body: "x" }));
    assert.match(ro.message, /Topic ReadOnly is not writable \(perm 4 on /);
    assert.equal((ro as { code?: number }).code, ResponseCode.NO_PERMISSION);
    raw.close();
    await producer.shutdown();
  });

  test("a body of exactly maxMessageSize that does not deflate smaller is sent as it is", async () => {
    await using cluster = await startCluster({ topics: { Max: 1 } });
    const { ns, producer, broker } = cluster;
    const body = new Uint8Array(broker.config.maxMessageSize);
    for (let i = 0; i < body.length; i += 65_536) crypto.getRandomValues(body.subarray(i, i + 65_536));
    const r = await producer.send({ topic: "Max", body });
    assert.equal(r.status, "SEND_OK");
    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg-max", consumeFromWhere: "first" });
    await c.subscribe("Max");
    const [m] = await drain(c, 1);
    assert.equal(m.body.byteLength, body.byteLength);
    assert.ok(Buffer.from(m.body).equals(Buffer.from(body)), "the body arrives unchanged");
    await c.shutdown();
  });

  test("after a restart, sent messages and committed offsets are intact", async () => {
    await using cluster = await startCluster();
    const { ns, producer } = cluster;
    for (let i = 0; i < 30; i++) await producer.send({ topic: "Durable", body: `d${i}` }, selectByHash, 0);
    let c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg", consumeFromWhere: "first" });
    await c.subscribe("Durable");
    const first = await drain(c, 10);
    assert.ok(first.length >= 10);
    const readUpTo = first.length;
    await c.commit();
    await c.shutdown();
    await cluster.restart(0); // graceful: flush, persist offsets, unregister
    c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg", consumeFromWhere: "first" });
    await c.subscribe("Durable");
    const rest = await drain(c, 30 - readUpTo);
    assert.deepEqual(rest.map(text), Array.from({ length: 30 - readUpTo }, (_, i) => `d${readUpTo + i}`));
    await c.shutdown();
  });

  test("a broker killed mid-run: SYNC sends fail over to the other broker within the timeout", async () => {
    await using cluster = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], producerGroup: false });
    const { ns, brokers: [a, b] } = cluster;
    const admin = new RemotingClient();
    for (const br of [a, b]) await admin.invoke(br.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "HA", readQueueNums: 2, writeQueueNums: 2 }));
    await waitFor(async () => (await new NameServerClient({ namesrvAddr: ns.addr }).getRoute("HA").catch(() => undefined))?.queueDatas.length === 2, { what: "both brokers in the route" });
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg", sendTimeoutMs: 3000 });
    for (let i = 0; i < 10; i++) await producer.send({ topic: "HA", body: `before-${i}` });
    await a.kill();
    const started = Date.now();
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await producer.send({ topic: "HA", body: `after-${i}` }));
    assert.ok(results.every((r) => r.status === "SEND_OK" && r.messageQueue.brokerName === "broker-b"));
    assert.ok(Date.now() - started < 3000 * 20);
    admin.close();
    await producer.shutdown();
  });

  test("past its send backlog a broker answers SYSTEM_BUSY at once instead of queueing", async () => {
    using dir = tempDir();
    await using ns = await startNameServer();
    // A disk that never finishes an fdatasync: SYNC_FLUSH sends stay in progress.
    const { nodeFileSystem } = await import("../../src/platform/file_system.ts");
    const stuckFs = {
      ...nodeFileSystem,
      open(path: string, opts?: { create?: boolean }) {
        const f = nodeFileSystem.open(path, opts);
        if (!path.includes("commitlog")) return f;
        return { path, write: f.write.bind(f), read: f.read.bind(f), size: f.size.bind(f), truncate: f.truncate.bind(f), close: f.close.bind(f), sync: () => new Promise<void>(() => {}) };
      },
    };
    const { BrokerController } = await import("../../src/broker/broker_controller.ts");
    const broker = new BrokerController({ namesrvAddr: ns.addr, listenPort: 0, storePathRootDir: join(dir.path, "b"), commitLogSegmentBytes: 8 << 20, flushDiskType: "SYNC_FLUSH", maxSendBacklog: 2 }, { fs: stuckFs });
    await broker.start();
    const raw = new RemotingClient();
    await raw.invoke(broker.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "Busy", readQueueNums: 1, writeQueueNums: 1 }));
    const send = () => raw.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", topic: "Busy", queueId: 0 }, new Uint8Array([1])), 20_000);
    const held = [send(), send()];
    await waitFor(() => broker.runtimeInfo().sendsInFlight === "2", { what: "two sends in progress" });
    const started = Date.now();
    const busy = await send();
    assert.equal(busy.code, ResponseCode.SYSTEM_BUSY);
    assert.match(busy.remark!, /busy/);
    assert.ok(Date.now() - started < 1000, "answered at once");
    raw.close();
    held.forEach((p) => p.catch(() => {}));
    await broker.kill();
  });

  test("the rest of the client and admin surface: batches, ASYNC callbacks, ONEWAY, seek, lookups, heartbeats", async () => {
    await using cluster = await startCluster({ brokers: [{ channelExpiredTimeout: 300 }], producerGroup: false });
    const { ns, broker: a } = cluster;
    const raw = new RemotingClient();
    await raw.invoke(a.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "Surface", readQueueNums: 1, writeQueueNums: 1 }));
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    await producer.start();
    const batch = await producer.sendBatch([{ topic: "Surface", body: "b0", keys: "batch-key" }, { topic: "Surface", body: "b1" }]);
    assert.equal(batch.msgId.split(",").length, 2);
    const viaCallback = await new Promise<string>((resolve, reject) => {
      void producer.send({ topic: "Surface", body: "async" }, { onSuccess: (r) => resolve(r.status), onException: reject });
    });
    assert.equal(viaCallback, "SEND_OK");
    await producer.sendOneway({ topic: "Surface", body: "oneway" });
    const last = await producer.send({ topic: "Surface", body: "last", keys: ["k-last"] });

    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "cg", consumeFromWhere: "first" });
    const [mq] = await c.subscribe("Surface");
    const all = await drain(c, 5);
    assert.deepEqual(all.map(text), ["b0", "b1", "async", "oneway", "last"]);
    c.seek(mq, 3);
    assert.deepEqual((await c.poll(2000)).map(text), ["oneway", "last"]);
    assert.equal(await c.maxOffset(mq), 5);
    assert.equal(await c.minOffset(mq), 0);
    assert.equal(await c.offsetForTimestamp(mq, 0), 0);
    await c.commitOffset(mq, 4);
    assert.equal(await c.committed(mq), 4);

    // Lookups by key and by offset message id.
    const byKey = await raw.invoke(a.addr, createRequest(RequestCode.QUERY_MESSAGE, { topic: "Surface", key: "k-last", maxNum: 5 }));
    assert.equal(byKey.code, 0);
    assert.equal(text(decodeMessages(byKey.body, "broker-a", 1 << 20)[0]), "last");
    const none = await raw.invoke(a.addr, createRequest(RequestCode.QUERY_MESSAGE, { topic: "Surface", key: "nope", maxNum: 5 }));
    assert.equal(none.code, ResponseCode.QUERY_NOT_FOUND);
    const { offset } = parseOffsetMsgId(last.offsetMsgId);
    const view = await raw.invoke(a.addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { offset }));
    assert.equal(text(decodeMessages(view.body, "broker-a", 1 << 20)[0]), "last");
    const bogus = await raw.invoke(a.addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { offset: offset + 3 }));
    assert.notEqual(bogus.code, 0);
    const topics = await raw.invoke(a.addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG));
    assert.ok(decodeBody<{ topicConfigTable: Record<string, unknown> }>(topics.body).topicConfigTable.Surface);

    // Heartbeats register consumers; a silent client is dropped after channelExpiredTimeout.
    const hb = encodeBody({ clientID: "client-1", producerDataSet: [], consumerDataSet: [{ groupName: "cg" }] });
    assert.equal((await raw.invoke(a.addr, createRequest(RequestCode.HEART_BEAT, undefined, hb))).code, 0);
    const list = await raw.invoke(a.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: "cg" }));
    assert.deepEqual(decodeBody<{ consumerIdList: string[] }>(list.body).consumerIdList, ["client-1"]);
    const observer = new RemotingClient();
    await waitFor(async () => {
      const l = await observer.invoke(a.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: "cg" }));
      return decodeBody<{ consumerIdList: string[] }>(l.body).consumerIdList.length === 0;
    }, { timeoutMs: 15_000, intervalMs: 100, what: "the silent client to expire" });
    observer.close();
    await producer.shutdown();
    await c.shutdown();
    raw.close();
  }, 30_000);

  test("tag and SQL92 subscriptions deliver exactly the matching messages; a bad expression is refused", async () => {
    await using cluster = await startCluster();
    const { ns, broker: a, producer } = cluster;
    for (let i = 0; i < 40; i++) {
      await producer.send({ topic: "Filtered", body: `m${i}`, tags: i % 3 === 0 ? "red" : "blue", properties: { n: String(i), region: i % 2 ? "eu" : "us" } });
    }
    const read = async (c: PullConsumer, want: number) => (await drain(c, want, 5_000)).map(text).sort();
    const expected = (f: (i: number) => boolean) => Array.from({ length: 40 }, (_, i) => i).filter(f).map((i) => `m${i}`).sort();

    const byTag = new PullConsumer({ namesrvAddr: ns.addr, group: "tags", consumeFromWhere: "first" });
    await byTag.subscribe("Filtered", "red");
    assert.deepEqual(await read(byTag, 14), expected((i) => i % 3 === 0));

    const bySql = new PullConsumer({ namesrvAddr: ns.addr, group: "sql", consumeFromWhere: "first" });
    await bySql.subscribe("Filtered", "n >= 10 AND n < 30 AND region = 'eu'", "SQL92");
    assert.deepEqual(await read(bySql, 10), expected((i) => i >= 10 && i < 30 && i % 2 === 1));

    const bad = new PullConsumer({ namesrvAddr: ns.addr, group: "bad", consumeFromWhere: "first" });
    const err = await rejectionOf(bad.subscribe("Filtered", "n >>> 3", "SQL92"));
    assert.equal((err as Error & { code: number }).code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    // The broker refuses it too, for clients that do not check first.
    const raw = new RemotingClient();
    const resp = await raw.invoke(a.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "bad", topic: "Filtered", queueId: 0, queueOffset: 0, maxMsgNums: 8, sysFlag: 0, subscription: "n >>> 3", expressionType: "SQL92" }));
    assert.equal(resp.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    raw.close();
    for (const c of [byTag, bySql, bad]) await c.shutdown();
    await producer.shutdown();
  });

  test("LOCK_BATCH_MQ gives each queue of a group to one client; UNLOCK_BATCH_MQ frees it", async () => {
    await using cluster = await startCluster({ producerGroup: false });
    const { broker: a } = cluster;
    const raw = new RemotingClient();
    const mqSet = [0, 1].map((queueId) => ({ topic: "Ordered", brokerName: "broker-a", queueId }));
    const lock = async (clientId: string, req = RequestCode.LOCK_BATCH_MQ) => {
      const r = await raw.invoke(a.addr, createRequest(req, undefined, encodeBody({ consumerGroup: "og", clientId, onlyThisBroker: true, mqSet })));
      assert.equal(r.code, 0, r.remark);
      return req === RequestCode.LOCK_BATCH_MQ ? decodeBody<{ lockOKMQSet: unknown[] }>(r.body).lockOKMQSet.length : 0;
    };
    assert.equal(await lock("c1"), 2);
    assert.equal(await lock("c2"), 0);
    assert.equal(await lock("c1"), 2, "renewal by the holder");
    await lock("c1", RequestCode.UNLOCK_BATCH_MQ);
    assert.equal(await lock("c2"), 2);
    const bad = await raw.invoke(a.addr, createRequest(RequestCode.LOCK_BATCH_MQ, undefined, encodeBody({ clientId: "x" })));
    assert.equal(bad.code, ResponseCode.INVALID_PARAMETER);
    raw.close();
  });

  test("members of a consumer group are notified when it changes", async () => {
    await using cluster = await startCluster({ producerGroup: false });
    const { broker: a } = cluster;
    const notified: string[] = [];
    const first = new RemotingClient();
    first.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (req) => {
      notified.push(String(req.extFields?.consumerGroup));
    });
    const hb = (id: string) => createRequest(RequestCode.HEART_BEAT, undefined, encodeBody({ clientID: id, producerDataSet: [], consumerDataSet: [{ groupName: "grp" }] }));
    await first.invoke(a.addr, hb("first"));
    await waitFor(() => notified.length === 1, { what: "the first member's own join" });
    const second = new RemotingClient();
    await second.invoke(a.addr, hb("second"));
    await waitFor(() => notified.length === 2, { what: "a notice that a member joined" });
    await second.invoke(a.addr, hb("second")); // a repeated heartbeat changes nothing:
    // a round trip on first's connection comes back after any notice sent to it before.
    const list = await first.invoke(a.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: "grp" }));
    assert.deepEqual(decodeBody<{ consumerIdList: string[] }>(list.body).consumerIdList, ["first", "second"]);
    assert.equal(notified.length, 2);
    second.close();
    await waitFor(() => notified.length === 3, { what: "a notice that a member left" });
    assert.deepEqual(notified, ["grp", "grp", "grp"]);
    first.close();
  });
});

