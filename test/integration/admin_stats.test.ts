import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
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
});
