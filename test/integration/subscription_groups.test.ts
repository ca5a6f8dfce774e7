import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { createTopic } from "../harness/servers.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import type { PushConsumerOptions } from "../../src/client/push_consumer_types.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";
import { createLogger } from "../../src/common/log.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { SubscriptionGroupConfigBody, SubscriptionGroupTableBody, TopicConfigTableBody } from "../../src/protocol/bodies/broker_bodies.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { JsonRemoting } from "../compat/_json_client.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

const FAST: Partial<PushConsumerOptions> = {
  rebalanceIntervalMs: 500,
  persistConsumerOffsetIntervalMs: 200,
  heartbeatBrokerIntervalMs: 1000,
  pullDelayWhenExceptionMs: 100,
  sendBackRetryDelayMs: 200,
  brokerSuspendMaxTimeMs: 1000,
  consumeFromWhere: "first",
};

const SLAVE: Partial<BrokerConfig> = { brokerRole: "SLAVE", brokerId: 1, haSendHeartbeatInterval: 200, haMetadataSyncInterval: 200, registerNameServerPeriod: 200 };

const text = (m: MessageExt) => new TextDecoder().decode(m.body);

/** A push consumer whose warnings are kept (how a refused group is told why). */
function consumer(namesrvAddr: string, group: string, opts: Partial<PushConsumerOptions> = {}) {
  const warnings: string[] = [];
  const got: MessageExt[] = [];
  const c = new PushConsumer({ namesrvAddr, group, ...FAST, ...opts, log: createLogger(group, "warn", (l) => warnings.push(l)) });
  return { c, warnings, got };
}

/** A RemotingClient closed with the cluster. */
function remotingOf(c: { track<C extends { shutdown(): Promise<void> }>(x: C): C }): RemotingClient {
  const r = new RemotingClient();
  c.track({ shutdown: () => Promise.resolve(r.close()) });
  return r;
}

async function topicsOn(remoting: RemotingClient, addr: string) {
  const r = await remoting.invoke(addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG));
  assert.equal(r.code, ResponseCode.SUCCESS, r.remark);
  return TopicConfigTableBody.decode(r.body, r.serializeType).topicConfigTable;
}

async function groupsOn(remoting: RemotingClient, addr: string) {
  const r = await remoting.invoke(addr, createRequest(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG));
  assert.equal(r.code, ResponseCode.SUCCESS, r.remark);
  return SubscriptionGroupTableBody.decode(r.body, r.serializeType).subscriptionGroupTable;
}

describe("subscription groups (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, GET_ALL_SUBSCRIPTIONGROUP_CONFIG, DELETE_SUBSCRIPTIONGROUP)", () => {
  test("Admin creates, changes, lists and deletes a group on every master; it survives a restart and a slave copies it", async () => {
    await using c = await startCluster({
      brokers: [{ brokerName: "broker-a", dir: "a" }, { brokerName: "broker-b", dir: "b" }, { brokerName: "broker-a", dir: "s", ...SLAVE }],
      producerGroup: false,
    });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const remoting = remotingOf(c);

    const on = await admin.updateGroup({ groupName: "Billing", retryMaxTimes: 3, retryQueueNums: 2 });
    assert.deepEqual(on.map((b) => b.brokerName).sort(), ["broker-a", "broker-b"], "masters only");
    // A change names only what changes: the rest is kept.
    await admin.updateGroup({ groupName: "Billing", consumeEnable: false });
    for (const b of await admin.groups()) {
      const g = b.groups.find((x) => x.groupName === "Billing");
      assert.deepEqual(g, {
        groupName: "Billing", consumeEnable: false, consumeFromMinEnable: true, consumeBroadcastEnable: true, retryQueueNums: 2,
        retryMaxTimes: 3, brokerId: 0, whichBrokerWhenConsumeSlowly: 1, notifyConsumerIdsChangedEnable: true,
      }, b.brokerName);
    }
    // The slave of broker-a copies its master's groups with the rest of its metadata.
    await waitFor(async () => (await groupsOn(remoting, c.brokers[2].addr)).Billing?.consumeEnable === false, { what: "the slave to copy the group" });
    // A slave refuses to change them itself.
    const onSlave = await remoting.invoke(c.brokers[2].addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, undefined, SubscriptionGroupConfigBody.encode({ groupName: "X" }, SerializeType.CBOR)));
    assert.notEqual(onSlave.code, ResponseCode.SUCCESS);

    // Persisted in subscriptionGroup.json: a restarted broker still has it.
    await c.restart(0);
    const afterRestart = await groupsOn(remoting, c.brokers[0].addr);
    assert.equal(afterRestart.Billing?.retryMaxTimes, 3);
    assert.equal(afterRestart.Billing?.consumeEnable, false);

    // Bad settings are refused, naming the field, and change nothing.
    assert.ok(await rejectionOf(admin.updateGroup({ groupName: "Billing", retryQueueNums: 0 })) instanceof InvalidParameterError);
    const raw = await remoting.invoke(c.brokers[1].addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, undefined, SubscriptionGroupConfigBody.encode({ groupName: "Billing", retryMaxTimes: -5 }, SerializeType.CBOR)));
    assert.equal(raw.code, ResponseCode.INVALID_PARAMETER);
    assert.match(raw.remark ?? "", /retryMaxTimes/);
    const badName = await remoting.invoke(c.brokers[1].addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, undefined, SubscriptionGroupConfigBody.encode({ groupName: "no spaces" }, SerializeType.CBOR)));
    assert.equal(badName.code, ResponseCode.INVALID_PARAMETER);
    assert.equal((await groupsOn(remoting, c.brokers[1].addr)).Billing?.retryMaxTimes, 3);

    const deleted = await admin.deleteGroup("Billing", { cleanOffset: true });
    assert.deepEqual(deleted.map((b) => b.brokerName).sort(), ["broker-a", "broker-b"]);
    assert.deepEqual(await admin.deleteGroup("Billing"), [], "a second delete finds it nowhere");
    for (const b of await admin.groups()) assert.ok(!b.groups.some((g) => g.groupName === "Billing"), b.brokerName);
    await waitFor(async () => (await groupsOn(remoting, c.brokers[2].addr)).Billing === undefined, { what: "the slave to drop the group" });
  });

  test("a disabled group gets no messages and its members are told why, once per queue; enabled again, it consumes", async () => {
    await using c = await startCluster({ topics: { Gated: 2 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await admin.updateGroup({ groupName: "Gated", consumeEnable: false });
    for (let i = 0; i < 10; i++) await c.producer.send({ topic: "Gated", body: `m${i}` });
    const g = consumer(c.namesrvAddr, "Gated");
    c.track(g.c).subscribe("Gated").registerMessageListener((msgs) => {
      g.got.push(...msgs);
      return "CONSUME_SUCCESS";
    });
    await g.c.start();
    const refusals = () => g.warnings.filter((w) => /refused: .*consumeEnable=false/.test(w));
    // Gated's 2 queues and the group's retry queue.
    await waitFor(() => refusals().length === 3, { what: "a refusal on each of the 3 queues" }).catch((err) => {
      throw new Error(`${err.message}\n${g.warnings.join("\n")}`);
    });
    // Many more refused pulls, but no more warnings: said once per queue.
    const pulls = g.c.stats().pulls;
    await waitFor(() => g.c.stats().pulls >= pulls + 10, { what: "more pulls to be refused" });
    assert.equal(refusals().length, 3, g.warnings.join("\n"));
    assert.equal(g.got.length, 0, "a disabled group gets nothing");
    assert.match(refusals()[0], /subscription group \[Gated\] may not consume on broker broker-a/);

    await admin.updateGroup({ groupName: "Gated", consumeEnable: true });
    await waitFor(() => g.got.length === 10, { what: "the 10 messages once enabled" });
    assert.deepEqual(g.got.map(text).sort(), Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });

  test("consumeBroadcastEnable=false refuses a broadcasting group and not a clustering one", async () => {
    await using c = await startCluster({ topics: { Radio: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await admin.updateGroup({ groupName: "Radio", consumeBroadcastEnable: false });
    await admin.updateGroup({ groupName: "RadioC", consumeBroadcastEnable: false });
    await c.producer.send({ topic: "Radio", body: "on air" });
    const b = consumer(c.namesrvAddr, "Radio", { messageModel: "BROADCASTING", offsetStoreDir: c.dir });
    const k = consumer(c.namesrvAddr, "RadioC");
    for (const x of [b, k]) {
      c.track(x.c).subscribe("Radio").registerMessageListener((msgs) => {
        x.got.push(...msgs);
        return "CONSUME_SUCCESS";
      });
      await x.c.start();
    }
    await waitFor(() => k.got.length === 1, { what: "the clustering group to consume" });
    await waitFor(() => b.warnings.some((w) => /consumeBroadcastEnable=false/.test(w)), { what: "the broadcasting member to be told" });
    assert.equal(b.got.length, 0);
  });

  test("with autoCreateSubscriptionGroup=false an unknown group is refused with SUBSCRIPTION_GROUP_NOT_EXIST until an operator creates it", async () => {
    await using c = await startCluster({ brokers: [{ autoCreateSubscriptionGroup: false }], topics: { Strict: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const remoting = remotingOf(c);
    await c.producer.send({ topic: "Strict", body: "x" }); // the first record: CommitLog offset 0
    const pull = () => remoting.invoke(c.broker.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "Strangers", topic: "Strict", queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: 0 }));
    const refused = await pull();
    assert.equal(refused.code, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    assert.match(refused.remark ?? "", /\[Strangers\] does not exist .*autoCreateSubscriptionGroup is off/);
    const back = await remoting.invoke(c.broker.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: "Strangers", offset: 0, delayLevel: 0 }));
    assert.equal(back.code, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);

    // A member's heartbeat is taken (an operator sees it connected) but creates nothing for it.
    const m = consumer(c.namesrvAddr, "Strangers");
    c.track(m.c).subscribe("Strict").registerMessageListener((msgs) => {
      m.got.push(...msgs);
      return "CONSUME_SUCCESS";
    });
    await m.c.start();
    await waitFor(() => m.warnings.some((w) => /does not exist/.test(w)), { what: "the member to be told its group does not exist" });
    assert.equal((await topicsOn(remoting, c.broker.addr))["%RETRY%Strangers"], undefined, "no retry topic for an unknown group");
    assert.deepEqual(Object.keys(await groupsOn(remoting, c.broker.addr)), []);

    await admin.updateGroup({ groupName: "Strangers" });
    await waitFor(() => m.got.length === 1, { what: "the message once the group exists" });
    assert.equal((await pull()).code, ResponseCode.SUCCESS);
  });

  test("the group's retryMaxTimes and retryQueueNums: its own dead-letter limit and its retry queues", async () => {
    await using c = await startCluster({ brokers: [{ messageDelayLevel: Array(18).fill("100ms").join(" ") }], topics: { Flaky: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await admin.updateGroup({ groupName: "Flaky", retryMaxTimes: 1, retryQueueNums: 2 });
    const f = consumer(c.namesrvAddr, "Flaky");
    const attempts: number[] = [];
    c.track(f.c).subscribe("Flaky").registerMessageListener((msgs) => {
      attempts.push(msgs[0].reconsumeTimes);
      return "RECONSUME_LATER";
    });
    await f.c.start();
    await c.producer.send({ topic: "Flaky", body: "never works" });
    // The consumer sets no maxReconsumeTimes: the group's 1 applies (one retry, then the DLQ).
    const dlq = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "dlq-reader", consumeFromWhere: "first" }));
    const dead: MessageExt[] = [];
    await waitFor(async () => {
      if (dlq.assignment().length === 0) {
        const queues = await dlq.queuesOf("%DLQ%Flaky").catch(() => []);
        if (queues.length === 0) return false;
        await dlq.assign(queues);
      }
      dead.push(...await dlq.poll(200));
      return dead.length >= 1;
    }, { timeoutMs: 20_000, what: "the message in the DLQ" });
    assert.deepEqual(attempts, [0, 1]);
    assert.equal(text(dead[0]), "never works");
    const retry = (await topicsOn(remotingOf(c), c.broker.addr))["%RETRY%Flaky"];
    assert.equal(retry?.writeQueueNums, 2, "the retry topic has the group's retryQueueNums queues");

  });

  test("notifyConsumerIdsChangedEnable=false: members of the group are not told when it changes; other groups still are", async () => {
    await using c = await startCluster({ producerGroup: false, topics: { Members: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await admin.updateGroup({ groupName: "Quiet", notifyConsumerIdsChangedEnable: false });
    // A heartbeat names every group the client is in.
    const member = (clientID: string, groups: string[]) => utf8(JSON.stringify({
      clientID, producerDataSet: [], consumerDataSet: groups.map((groupName) => ({
        groupName, consumeType: "CONSUME_PASSIVELY", messageModel: "CLUSTERING", consumeFromWhere: "CONSUME_FROM_LAST_OFFSET",
        subscriptionDataSet: [{ topic: "Members", subString: "*", classFilterMode: false, tagsSet: [], codeSet: [], subVersion: 1 }], unitMode: false,
      })),
    }));
    const a = await JsonRemoting.connect(c.broker.addr);
    const b = await JsonRemoting.connect(c.broker.addr);
    try {
      // a joins both groups (told of Loud's change: its own arrival); b joins Quiet, then Loud.
      // The broker writes to a's connection in that order, so once the second NOTIFY for Loud
      // has arrived, every one for Quiet would have arrived before it.
      assert.equal((await a.request(RequestCode.HEART_BEAT, {}, member("a", ["Quiet", "Loud"]))).header.code, ResponseCode.SUCCESS);
      for (const groups of [["Quiet"], ["Quiet", "Loud"]]) assert.equal((await b.request(RequestCode.HEART_BEAT, {}, member("b", groups))).header.code, ResponseCode.SUCCESS);
      const notices = () => a.unsolicited.filter((u) => u.header.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED).map((u) => u.header.extFields?.consumerGroup);
      await waitFor(() => notices().length >= 2, { what: "two NOTIFYs for Loud" });
      assert.deepEqual(notices(), ["Loud", "Loud"]);
    } finally {
      a.close();
      b.close();
    }
  });
});
