import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import {
  allocateAveragely,
  allocateAveragelyByCircle,
  allocateByConsistentHash,
  type AllocateStrategy,
} from "../../src/client/allocate_message_queue.ts";
import type { MessageQueue } from "../../src/client/message.ts";

const queues = (n: number, brokers = ["broker-a", "broker-b"]): MessageQueue[] =>
  brokers.flatMap((b) => Array.from({ length: n }, (_, i) => ({ topic: "T", brokerName: b, queueId: i })));
const key = (q: MessageQueue) => `${q.brokerName}/${q.queueId}`;

describe("queue allocation", () => {
  const strategies: [string, AllocateStrategy][] = [
    ["averagely", allocateAveragely],
    ["averagely by circle", allocateAveragelyByCircle],
    ["consistent hash", allocateByConsistentHash()],
  ];
  for (const [name, allocate] of strategies) {
    test(`${name}: every queue has exactly one owner, whatever the group size and order`, () => {
      for (const members of [1, 2, 3, 5, 8, 20]) {
        const ids = Array.from({ length: members }, (_, i) => `c${(i * 7) % members}-${i}`);
        const qs = queues(4);
        const owned = ids.flatMap((id) => allocate(id, [...ids].reverse(), [...qs].reverse()).map(key));
        assert.deepEqual([...owned].sort(), qs.map(key).sort(), `${members} members`);
      }
    });
  }

  test("averagely gives contiguous blocks that differ in size by at most one", () => {
    const ids = ["a", "b", "c"];
    const sizes = ids.map((id) => allocateAveragely(id, ids, queues(4)).length);
    assert.deepEqual(sizes, [3, 3, 2]);
    assert.deepEqual(allocateAveragely("a", ids, queues(4)).map(key), ["broker-a/0", "broker-a/1", "broker-a/2"]);
  });

  test("consistent hash moves few queues when a member joins", () => {
    const allocate = allocateByConsistentHash(50);
    const qs = queues(64);
    const owner = (ids: string[]) => new Map(ids.flatMap((id) => allocate(id, ids, qs).map((q) => [key(q), id] as const)));
    const before = owner(["a", "b", "c", "d"]);
    const after = owner(["a", "b", "c", "d", "e"]);
    const moved = [...before].filter(([q, id]) => after.get(q) !== id).length;
    assert.ok(moved <= qs.length / 2, `${moved} of ${qs.length} queues moved`);
    assert.ok([...after.values()].includes("e"));
  });

  test("a consumer missing from the list is an error", () => {
    assert.throws(() => allocateAveragely("x", ["a"], queues(1)), /not in the group/);
  });
});
