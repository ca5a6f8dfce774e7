import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf } from "../harness/wait.ts";
import { TopicNotExistError } from "../../src/common/errors.ts";

describe("a producer whose topic's brokers are gone", () => {
  test("says the brokers that served the topic are gone, not that the topic has no route", async () => {
    await using c = await startCluster({ topics: { Gone: 2 } });
    await c.producer.send({ topic: "Gone", body: "before" });
    await c.broker.shutdown(1_000); // unregisters: the NameServer drops the route at once
    const err = await rejectionOf(c.producer.send({ topic: "Gone", body: "after" }));
    assert.ok(err instanceof TopicNotExistError, String(err));
    assert.match(err.message, /Topic Gone has no live broker: broker-a served it and is no longer registered with the NameServer/);
    const never = await rejectionOf(c.producer.send({ topic: "NeverCreated", body: "x" }));
    assert.match(never.message, /No route info of this topic: NeverCreated/);
  });
});
