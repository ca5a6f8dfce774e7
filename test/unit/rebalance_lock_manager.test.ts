import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { RebalanceLockManager } from "../../src/broker/rebalance_lock_manager.ts";

const q = (queueId: number) => ({ topic: "T", brokerName: "b", queueId });

describe("queue locks for orderly consumption", () => {
  test("one client per queue and group; renewals keep it, expiry and unlock free it", () => {
    const m = new RebalanceLockManager(60_000);
    assert.deepEqual(m.tryLock("g", "c1", [q(0), q(1)], 0), [q(0), q(1)]);
    assert.deepEqual(m.tryLock("g", "c2", [q(1), q(2)], 1_000), [q(2)], "q1 is c1's");
    assert.deepEqual(m.tryLock("other", "c2", [q(1)], 1_000), [q(1)], "groups are independent");
    assert.deepEqual(m.tryLock("g", "c1", [q(1)], 50_000), [q(1)], "the holder renews");
    assert.deepEqual(m.tryLock("g", "c2", [q(1)], 100_000), [], "renewed at 50 s: still held at 100 s");
    assert.deepEqual(m.tryLock("g", "c2", [q(1)], 110_001), [q(1)], "expired 60 s after the renewal");
    assert.ok(m.isLocked("g", q(1), "c2", 110_001));
    m.unlock("g", "c1", [q(0)]);
    assert.deepEqual(m.tryLock("g", "c2", [q(0)], 110_002), [q(0)]);
    m.unlock("g", "c1", [q(1)]); // not c1's any more: nothing happens
    assert.ok(m.isLocked("g", q(1), "c2", 110_002));
  });

  test("the number of locks is bounded", () => {
    const m = new RebalanceLockManager(60_000, 2);
    m.tryLock("g", "c", [q(0), q(1)], 0);
    assert.throws(() => m.tryLock("g", "c", [q(2)], 0), /maximum/);
  });
});
