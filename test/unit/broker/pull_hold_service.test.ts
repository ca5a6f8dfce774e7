import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { rejectionOf } from "../../harness/wait.ts";
import { SystemBusyError } from "../../../src/common/errors.ts";
import { PullHoldService } from "../../../src/broker/pull_hold_service.ts";

describe("pull hold service", () => {
  test("held pulls are bounded per connection and in total; past a bound a pull gets SYSTEM_BUSY at once", async () => {
    const holds = new PullHoldService(3, 2);
    const a = {};
    const b = {};
    const held = [holds.wait("T", 0, 0, 60_000, a), holds.wait("T", 1, 0, 60_000, a)];
    const third = await rejectionOf(holds.wait("T", 2, 0, 60_000, a));
    assert.ok(third instanceof SystemBusyError);
    assert.match(third.message, /2 pulls are already held on this connection/);
    held.push(holds.wait("T", 0, 0, 60_000, b));
    const total = await rejectionOf(holds.wait("T", 1, 0, 60_000, b));
    assert.match(total.message, /3 pulls are already held/);
    assert.equal(holds.heldCount, 3);
    // Released pulls free their slots.
    holds.release(a);
    holds.release(b);
    assert.deepEqual(await Promise.all(held), ["released", "released", "released"]);
    assert.equal(holds.heldCount, 0);
  });
});
