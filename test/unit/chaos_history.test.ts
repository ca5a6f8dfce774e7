import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { checkHistory, type Delivery, type Sent } from "../../scripts/chaos/history.ts";

const sent = (id: string, acked = true, key?: string, seq?: number, at = 0): Sent => ({ id, acked, key, seq, at });
const got = (id: string, key?: string, seq?: number): Delivery => ({ id, key, seq, at: 0 });

describe("the chaos checker's verdict", () => {
  test("every acknowledged message delivered, duplicates and unacknowledged ones aside: OK", () => {
    const v = checkHistory(
      [sent("a"), sent("b"), sent("c", false), sent("d", false)],
      [got("a"), got("b"), got("a"), got("c")],
      [],
    );
    assert.equal(v.ok, true);
    assert.deepEqual([v.acked, v.failed, v.delivered, v.duplicated], [2, 2, 4, 1]);
  });

  test("an acknowledged message never delivered is lost; one never sent is unexpected", () => {
    const v = checkHistory([sent("a"), sent("b")], [got("a"), got("zz")], []);
    assert.equal(v.ok, false);
    assert.deepEqual(v.lost, ["b"]);
    assert.deepEqual(v.unexpected, ["zz"]);
  });

  test("an ordered stream: a redelivered prefix is fine, a message before an earlier acknowledged one is not", () => {
    const s = [0, 1, 2, 3].map((i) => sent(`k-${i}`, i !== 2, "k", i));
    // 0 1 (crash: rewind) 0 1 3: seq 2 was not acknowledged, so 3 may follow 1.
    assert.equal(checkHistory(s, [0, 1, 0, 1, 3].map((i) => got(`k-${i}`, "k", i)), []).ok, true);
    // 1 before 0.
    const v = checkHistory(s, [1, 0, 3].map((i) => got(`k-${i}`, "k", i)), []);
    assert.equal(v.ok, false);
    assert.deepEqual(v.reordered, ["k-1 before k#0"]);
  });

  test("recovery: from a fault's end to the first acknowledged send after it", () => {
    const v = checkHistory([sent("a", true, undefined, undefined, 100), sent("b", false, undefined, undefined, 1_100), sent("c", true, undefined, undefined, 1_700)], [got("a"), got("c")], [
      { kind: "kill", start: 200, end: 1_000 },
      { kind: "stop", start: 1_800, end: 2_000 },
    ]);
    assert.deepEqual(v.recovery, [{ kind: "kill", ms: 700 }, { kind: "stop", ms: undefined }]);
  });
});
