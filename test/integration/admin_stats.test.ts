import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { JsonRemoting } from "../compat/_json_client.ts";
import { waitFor } from "../harness/wait.ts";
import { BolideError, TopicNotExistError } from "../../src/common/errors.ts";
import { ConsumeStatsBody, TopicStatsTableBody } from "../../src/protocol/bodies/stats_bodies.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";

describe("topic and consumer-group statistics (GET_TOPIC_STATS_INFO, GET_CONSUME_STATS)", () => {
  test("Admin reads each queue's offsets and a group's lag from every broker of the topic", async () => {
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], topics: { Stats: 2 } });
    for (let i = 0; i < 20; i++) await c.producer.send({ topic: "Stats", body: `m${i}` });
    const pull = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "StatsG", consumeFromWhere: "first" }));
    await pull.subscribe("Stats");
    let taken = 0;
    while (taken < 8) taken += (await pull.poll(1_000, 8 - taken)).length;
    await pull.commit();
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });

    const stats = await admin.topicStats("Stats");
    assert.equal(stats.length, 4, "2 queues on each of 2 brokers");
    assert.equal(stats.reduce((n, s) => n + s.offset.maxOffset - s.offset.minOffset, 0), 20);
    for (const s of stats) if (s.offset.maxOffset > 0) assert.ok(s.offset.lastUpdateTimestamp > Date.now() - 60_000);

    const progress = await admin.consumeStats("StatsG", "Stats");
    assert.equal(progress.length, 4);
    const lag = progress.reduce((n, p) => n + p.offset.brokerOffset - p.offset.consumerOffset, 0);
    assert.equal(lag, 12, "20 sent, 8 consumed and committed");
    for (const p of progress) if (p.offset.consumerOffset > 0) assert.ok(p.offset.lastTimestamp > 0);
    // Without a topic: every topic the group has offsets for (its retry topic has none yet).
    const all = await admin.consumeStats("StatsG");
    assert.deepEqual([...new Set(all.map((p) => p.mq.topic))], ["Stats"]);

    assert.ok(await rejectionOf(admin.topicStats("NoSuchTopic")) instanceof TopicNotExistError);
  });

  test("GET_PRODUCER_CONNECTION_LIST: a producer group's live clients on each master; none is an error", async () => {
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], topics: { Sends: 2 }, producerGroup: "SendersG" });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await c.producer.send({ topic: "Sends", body: "hello" }); // its heartbeat reaches every master of the cluster
    const seen = await waitFor(async () => {
      const out = await admin.producerConnections("SendersG").catch(() => []);
      return out.length === 2 ? out : undefined;
    }, { timeoutMs: 10_000, what: "the producer on both brokers" });
    assert.deepEqual(seen.map((b) => b.brokerName).sort(), ["broker-a", "broker-b"]);
    for (const b of seen) {
      assert.equal(b.connectionSet.length, 1);
      assert.match(b.connectionSet[0].clientAddr, /^127\.0\.0\.1:\d+$/);
      assert.ok(b.connectionSet[0].language.length > 0, "its LanguageCode by name");
    }
    const none = await rejectionOf(admin.producerConnections("NobodySends"));
    assert.ok(none instanceof BolideError && none.code === ResponseCode.SYSTEM_ERROR, String(none));
    assert.match(none.message, /the producer group\[NobodySends\] not exist/);
    await c.producer.shutdown();
    await waitFor(async () => (await rejectionOf(admin.producerConnections("SendersG"))) instanceof BolideError, { timeoutMs: 10_000, what: "gone after its shutdown" });
  });

  test("CONSUME_MESSAGE_DIRECTLY: one stored message to one member's listener again, nothing committed; its result, a throw included", async () => {
    await using c = await startCluster({ topics: { Direct: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const got: string[] = [];
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "DirectG", consumeFromWhere: "first", rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 200 }));
    consumer.subscribe("Direct").registerMessageListener((msgs) => {
      for (const m of msgs) {
        const body = new TextDecoder().decode(m.body);
        got.push(body);
        if (body === "poison" && got.filter((b) => b === "poison").length > 1) throw new Error("cannot parse poison");
      }
    });
    await consumer.start();
    const ok = await c.producer.send({ topic: "Direct", body: "fine" });
    const bad = await c.producer.send({ topic: "Direct", body: "poison" });
    await waitFor(async () => (await admin.consumeStats("DirectG", "Direct")).every((q) => q.offset.consumerOffset === 2), { timeoutMs: 10_000, what: "both consumed and committed" });
    assert.deepEqual(got, ["fine", "poison"]);

    const r = await admin.consumeMessageDirectly("DirectG", consumer.clientId, ok.offsetMsgId);
    assert.equal(r.consumeResult, "CR_SUCCESS");
    assert.equal(r.order, false);
    assert.deepEqual(got, ["fine", "poison", "fine"], "the listener had it once more");
    // By unique id with its topic; the listener throws: its stack comes back.
    const thrown = await admin.consumeMessageDirectly("DirectG", consumer.clientId, bad.msgId, "Direct");
    assert.equal(thrown.consumeResult, "CR_THROW_EXCEPTION");
    assert.match(thrown.remark ?? "", /cannot parse poison/);
    const progress = await admin.consumeStats("DirectG", "Direct");
    assert.deepEqual(progress.map((q) => q.offset.consumerOffset), [2], "nothing committed or retried");

    const offline = await rejectionOf(admin.consumeMessageDirectly("DirectG", "no-such-client", ok.offsetMsgId));
    assert.ok(offline instanceof BolideError && offline.code === ResponseCode.CONSUMER_NOT_ONLINE, String(offline));
    const nowhere = ok.offsetMsgId.slice(0, 16) + "00000000" + "7FFFFFF0";
    const missing = await rejectionOf(admin.consumeMessageDirectly("DirectG", consumer.clientId, nowhere));
    assert.ok(missing instanceof BolideError && missing.code === ResponseCode.NO_MESSAGE, String(missing));
  });

  test("broker statistics: put and get per topic and group over the last minute, hour and day; consume TPS; in/out TPS in the runtime info", async () => {
    await using c = await startCluster({ topics: { Counted: 2 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    for (let i = 0; i < 30; i++) await c.producer.send({ topic: "Counted", body: `m${i}` });
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "CountedG", consumeFromWhere: "first" }));
    await reader.subscribe("Counted");
    let read = 0;
    await waitFor(async () => (read += (await reader.poll(200)).length) >= 30, { timeoutMs: 10_000, what: "30 read" });
    await reader.commit();

    const put = await admin.brokerStats(c.broker.addr, "TOPIC_PUT_NUMS", "Counted");
    for (const w of [put.statsMinute, put.statsHour, put.statsDay]) assert.equal(w.sum, 30);
    assert.ok(put.statsMinute.tps > 0);
    assert.equal(put.statsMinute.avgpt, 1, "one message per send");
    const size = await admin.brokerStats(c.broker.addr, "TOPIC_PUT_SIZE", "Counted");
    assert.ok(size.statsDay.sum > 30 * 60, "record bytes");
    const got = await admin.brokerStats(c.broker.addr, "GROUP_GET_NUMS", "Counted@CountedG");
    assert.equal(got.statsMinute.sum, 30);
    const cluster = c.broker.config.brokerClusterName;
    assert.ok((await admin.brokerStats(c.broker.addr, "BROKER_PUT_NUMS", cluster)).statsDay.sum >= 30);
    const progress = await admin.consumeProgress("CountedG", "Counted");
    assert.ok(progress.consumeTps > 0, `consumeTps ${progress.consumeTps}`);
    const info = await admin.brokerRuntimeInfo(c.broker.addr);
    assert.ok(Number(info.putTps.split(" ")[0]) > 0, info.putTps);
    assert.ok(Number(info.getTransferedTps.split(" ")[0]) > 0, info.getTransferedTps);
    assert.ok(Number(info.msgPutTotalTodayNow) >= 30);

    const never = await rejectionOf(admin.brokerStats(c.broker.addr, "TOPIC_PUT_NUMS", "NeverSent"));
    assert.ok(never instanceof BolideError && never.code === ResponseCode.SYSTEM_ERROR, String(never));
    assert.match(never.message, /The stats <TOPIC_PUT_NUMS> <NeverSent> not exist/);
  });

  test("the bodies round trip in both serialize types, fastjson's queue-keyed map for JSON", () => {
    const mq = (queueId: number) => ({ topic: "T-1_%x", brokerName: "broker-a", queueId });
    const topic = { offsetTable: [{ mq: mq(0), offset: { minOffset: 0, maxOffset: 5, lastUpdateTimestamp: 17 } }, { mq: mq(1), offset: { minOffset: 2, maxOffset: 2, lastUpdateTimestamp: 0 } }] };
    const consume = { consumeTps: 1.5, offsetTable: [{ mq: mq(3), offset: { brokerOffset: 9, consumerOffset: 4, pullOffset: 4, lastTimestamp: 3 } }] };
    for (const type of [SerializeType.CBOR, SerializeType.JSON]) {
      assert.deepEqual(TopicStatsTableBody.decode(TopicStatsTableBody.encode(topic, type), type), topic);
      assert.deepEqual(ConsumeStatsBody.decode(ConsumeStatsBody.encode(consume, type), type), consume);
    }
    assert.equal(
      new TextDecoder().decode(ConsumeStatsBody.encode(consume, SerializeType.JSON)),
      `{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":3,"topic":"T-1_%x"}:{"brokerOffset":9,"consumerOffset":4,"pullOffset":4,"lastTimestamp":3}}}`,
    );
  });

  test("GET_CONSUMER_RUNNING_INFO: the broker asks the member and relays its answer (CBOR to Admin, fastjson's form to a JSON admin)", async () => {
    await using c = await startCluster({ topics: { Running: 4 } });
    for (let i = 0; i < 40; i++) await c.producer.send({ topic: "Running", body: `m${i}`, tags: "a" });
    let got = 0;
    const push = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "RunningG", consumeFromWhere: "first" }));
    push.subscribe("Running", "a || b").registerMessageListener(() => {
      got++;
      return "CONSUME_SUCCESS";
    });
    await push.start();
    await waitFor(() => got >= 40, { what: "40 consumed" });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const info = await admin.consumerRunningInfo("RunningG", push.clientId);
    // Its subscription and, as RocketMQ's consumers do, its retry topic's.
    assert.deepEqual(info.subscriptionSet.map((s) => [s.topic, s.tagsSet]), [["Running", ["a", "b"]], ["%RETRY%RunningG", []]]);
    const queues = info.mqTable.filter((q) => q.mq.topic === "Running");
    assert.deepEqual(queues.map((q) => q.mq.queueId).sort(), [0, 1, 2, 3]);
    assert.equal(queues.reduce((n, q) => n + q.info.commitOffset, 0), 40, "every queue's offset past what it consumed");
    for (const q of queues) assert.ok(q.info.lastPullTimestamp > 0 && !q.info.droped);
    assert.ok(info.statusTable.Running.consumeOKTPS > 0, JSON.stringify(info.statusTable));
    assert.equal(info.statusTable.Running.consumeFailedMsgs, 0);
    assert.equal(info.properties.PROP_CONSUMEORDERLY, "false");
    assert.equal(info.properties.messageModel, "CLUSTERING");

    const rmq = await JsonRemoting.connect(c.broker.addr);
    try {
      const a = await rmq.request(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: "RunningG", clientId: push.clientId, jstackEnable: "false" });
      assert.equal(a.header.code, ResponseCode.SUCCESS, a.header.remark);
      assert.equal(a.serializeType, 0);
      assert.match(a.body.toString(), /"mqTable":\{\{"brokerName":"broker-a","queueId":\d,"topic":"Running"\}:\{"commitOffset":/);
      const missing = await rmq.request(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: "RunningG", clientId: "nobody" });
      assert.equal(missing.header.code, ResponseCode.CONSUMER_NOT_ONLINE);
    } finally {
      rmq.close();
    }
  });
});
