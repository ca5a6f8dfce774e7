import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { startBroker, startNameServer } from "../harness/servers.ts";
import { Producer, selectByHash } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer, type PushConsumerOptions } from "../../src/client/push_consumer.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeBody } from "../../src/protocol/body_codec.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { SubscriptionParseError } from "../../src/common/errors.ts";

const text = (m: MessageExt) => new TextDecoder().decode(m.body);

/** Fast timings so the same code paths run in milliseconds. */
const FAST: Partial<PushConsumerOptions> = {
  rebalanceIntervalMs: 500,
  persistConsumerOffsetIntervalMs: 200,
  heartbeatBrokerIntervalMs: 1000,
  lockIntervalMs: 500,
  pullDelayWhenExceptionMs: 100,
  sendBackRetryDelayMs: 200,
  suspendCurrentQueueTimeMillis: 50,
  brokerSuspendMaxTimeMs: 1000,
  consumeFromWhere: "first",
};

async function createTopic(brokerAddr: string, topic: string, queues: number): Promise<void> {
  const admin = new RemotingClient();
  const r = await admin.invoke(brokerAddr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: queues, writeQueueNums: queues }));
  admin.close();
  assert.equal(r.code, 0);
}

describe("push consumer", () => {
  test("consumes every message of a topic with a concurrent listener", async () => {
    using dir = tempDir();
    await using ns = await startNameServer();
    await using broker = await startBroker(ns.addr, join(dir.path, "a"));
    await createTopic(broker.addr, "Smoke", 4);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    for (let i = 0; i < 100; i++) await producer.send({ topic: "Smoke", body: `m-${i}` });
    const seen = new Set<string>();
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "cg", ...FAST });
    c.subscribe("Smoke", "*").registerMessageListener((msgs) => {
      for (const m of msgs) seen.add(text(m));
    });
    await c.start();
    await waitFor(() => seen.size === 100, { what: "100 messages" });
    assert.equal(c.assignment().filter((q) => q.topic === "Smoke").length, 4);
    await c.shutdown();
    await producer.shutdown();
  });
});
