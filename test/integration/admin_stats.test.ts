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
import { TopicNotExistError } from "../../src/common/errors.ts";
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
