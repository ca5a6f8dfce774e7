import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { NoPermissionError } from "../../src/common/errors.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { CreateTopicRequestHeader } from "../../src/protocol/headers/topic_header.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { Perm } from "../../src/common/route.ts";

describe("pull consumer", () => {
  test("a pull the broker refuses (NO_PERMISSION) is reported by poll, not retried in silence", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b" }], producerGroup: false });
    const { ns, broker } = cluster;
    const admin = new RemotingClient();
    const created = await admin.invoke(broker.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader.encode({
      topic: "WriteOnly", readQueueNums: 1, writeQueueNums: 1, perm: Perm.WRITE,
    })));
    admin.close();
    assert.equal(created.code, 0);
    await broker.registerAll();
    const consumer = new PullConsumer({ namesrvAddr: ns.addr, group: "readers", consumeFromWhere: "first" });
    try {
      await consumer.assign([{ topic: "WriteOnly", brokerName: broker.config.brokerName, queueId: 0 }]);
      await assert.rejects(consumer.poll(5_000), (err) => {
        assert.ok(err instanceof NoPermissionError, String(err));
        assert.match(err.message, /WriteOnly.*NO_PERMISSION.*pulling is forbidden/);
        return true;
      });
      // Reported every time it happens, not once and then swallowed.
      await assert.rejects(consumer.poll(5_000), NoPermissionError);
    } finally {
      await consumer.shutdown();
    }
  });
});
