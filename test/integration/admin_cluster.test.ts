import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { BolideError, InvalidParameterError, NoPermissionError, TopicNotExistError } from "../../src/common/errors.ts";
import { ResponseCode } from "../../src/common/response_code.ts";

const SLAVE = { brokerRole: "SLAVE" as const, brokerId: 1, haSendHeartbeatInterval: 200, haMetadataSyncInterval: 200, registerNameServerPeriod: 200 };
const FAST = { rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 200, heartbeatBrokerIntervalMs: 1000, brokerSuspendMaxTimeMs: 1000, consumeFromWhere: "first" as const };

describe("the operator's surface on two broker groups, one with a slave", () => {
  test("every Admin operation against broker-a (master and slave) and broker-b, and its errors: unknown group, unknown topic, refused setting, no permission", async () => {
    await using c = await startCluster({
      brokers: [{ brokerName: "broker-a", dir: "a" }, { brokerName: "broker-a", dir: "as", ...SLAVE }, { brokerName: "broker-b", dir: "b" }],
      producerGroup: "OpsP",
      producerOptions: { pollNameServerIntervalMs: 200 },
    });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const [a, as, b] = c.brokers;

    // Cluster: three brokers, two groups; topics go to the masters only.
    const replicas = await admin.replicas({});
    assert.deepEqual(replicas.map((r) => [r.brokerName, r.brokerId, r.addr]), [["broker-a", 0, a.addr], ["broker-a", 1, as.addr], ["broker-b", 0, b.addr]]);
    assert.deepEqual((await admin.createTopic("Ops", { readQueueNums: 2, writeQueueNums: 2 })).map((m) => m.brokerName).sort(), ["broker-a", "broker-b"]);
    assert.equal((await admin.topicStats("Ops")).length, 4);

    // Traffic: 20 messages over both groups, a push consumer takes them all.
    for (let i = 0; i < 20; i++) await c.producer.send({ topic: "Ops", body: `m${i}` });
    const got: MessageExt[] = [];
    const consumer = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "OpsG", ...FAST }));
    consumer.subscribe("Ops").registerMessageListener((msgs) => {
      got.push(...msgs);
    });
    await consumer.start();
    const lag = async () => (await admin.consumeStats("OpsG", "Ops")).reduce((n, q) => n + q.offset.brokerOffset - q.offset.consumerOffset, 0);
    await waitFor(async () => got.length >= 20 && await lag() === 0, { timeoutMs: 20_000, what: "20 consumed, no lag" });
    assert.deepEqual((await admin.consumerConnections("OpsG")).map((v) => v.brokerName).sort(), ["broker-a", "broker-b"]);
    assert.ok(Object.keys((await admin.consumerRunningInfo("OpsG", consumer.clientId)).properties).length > 0);
    assert.deepEqual((await admin.producerConnections("OpsP")).map((p) => p.brokerName).sort(), ["broker-a", "broker-b"]);
    assert.equal((await admin.brokerStats(b.addr, "TOPIC_PUT_NUMS", "Ops")).statsDay.sum + (await admin.brokerStats(a.addr, "TOPIC_PUT_NUMS", "Ops")).statsDay.sum, 20);

    // Reset on both groups: the live member consumes all 20 again.
    got.length = 0;
    assert.deepEqual((await admin.resetOffsets("OpsG", "Ops", "earliest")).map((r) => r.brokerName).sort(), ["broker-a", "broker-b"]);
    await waitFor(async () => got.length >= 20 && await lag() === 0, { timeoutMs: 20_000, what: "20 consumed again" });
    assert.equal(new Set(got.map((m) => m.msgId)).size, 20);

    // Group settings on both masters, copied to the slave; broker settings on both replicas of broker-a.
    await admin.updateGroup({ groupName: "OpsG", retryMaxTimes: 2 });
    assert.deepEqual((await admin.groups()).map((g) => [g.brokerName, g.groups.find((x) => x.groupName === "OpsG")?.retryMaxTimes]).sort(), [["broker-a", 2], ["broker-b", 2]]);
    const changed = await admin.updateBrokerConfig({ slaveReadEnable: true }, { brokerName: "broker-a" });
    assert.deepEqual(changed.map((x) => [x.brokerId, x.changed]), [[0, ["slaveReadEnable"]], [1, ["slaveReadEnable"]]]);
    assert.equal((await admin.brokerConfig(as.addr)).slaveReadEnable, "true");
    assert.equal(b.config.slaveReadEnable, false, "broker-b untouched");

    // broker-b out of the producers' routes, and back.
    await admin.wipeWritePerm("broker-b");
    const perms = async () => (await admin.topicRoute("Ops")).queueDatas.map((q) => [q.brokerName, q.perm]);
    assert.deepEqual(await perms(), [["broker-a", 6], ["broker-b", 4]]);
    await admin.addWritePerm("broker-b");
    assert.deepEqual(await perms(), [["broker-a", 6], ["broker-b", 6]]);

    // The errors.
    const noGroup = await rejectionOf(admin.resetOffsets("NoSuchGroup", "Ops", "latest"));
    assert.ok(noGroup instanceof BolideError && noGroup.code === ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, String(noGroup));
    for (const call of [admin.topicStats("NoSuchTopic"), admin.resetOffsets("OpsG", "NoSuchTopic", "latest"), admin.updateTopic("NoSuchTopic", { perm: 4 })]) {
      assert.ok(await rejectionOf(call) instanceof TopicNotExistError);
    }
    const refused = await rejectionOf(admin.updateBrokerConfig({ brokerId: 3 }, { brokerName: "broker-b" }));
    assert.ok(refused instanceof InvalidParameterError && /brokerId cannot change on a running broker/.test(refused.message), String(refused));
    await admin.updateTopic("Ops", { perm: 2 }); // write-only: pulls are refused
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "OpsReader", consumeFromWhere: "first" }));
    await reader.assign([{ topic: "Ops", brokerName: "broker-a", queueId: 0 }]);
    const denied = await rejectionOf(reader.poll(1_000));
    assert.ok(denied instanceof NoPermissionError, String(denied));
    await admin.updateTopic("Ops", { perm: 6 });

    // Deleted: on both masters and the slave.
    await admin.deleteTopic("Ops");
    await waitFor(() => ![a, as, b].some((x) => x.store.topicQueues().some((q) => q.topic === "Ops")), { timeoutMs: 10_000, what: "Ops's queues gone on all three" });
    assert.deepEqual((await admin.deleteGroup("OpsG", { cleanOffset: true })).map((m) => m.brokerName).sort(), ["broker-a", "broker-b"]);
  });
});
