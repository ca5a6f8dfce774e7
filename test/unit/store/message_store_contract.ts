import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { rejectionOf, waitFor } from "../../harness/wait.ts";
import type { MessageStore, PutMessageRequest } from "../../../src/store/message_store.ts";
import { decodeRecord } from "../../../src/common/message_record.ts";
import { InvalidParameterError, MessageIllegalError } from "../../../src/common/errors.ts";
import { SysFlag } from "../../../src/common/message.ts";
import { utf8 } from "../../../src/util/bytes.ts";

/** Makes a fresh, empty store of one kind; `dispose` closes it and removes what it left. */
export type OpenStore = () => { store: MessageStore } & AsyncDisposable;

const msg = (i: number, extra: Partial<PutMessageRequest> = {}): PutMessageRequest => ({
  topic: "T",
  queueId: i % 2,
  body: utf8(`m${i}`),
  properties: { TAGS: `tag${i % 3}`, KEYS: `key${i} shared`, UNIQ_KEY: `U${i}` },
  ...extra,
});

const text = (raw: Uint8Array) => new TextDecoder().decode(decodeRecord(raw).body);

/**
 * One suite for every MessageStore (as nats-server runs one StreamStore suite against its file
 * and memory stores): what the broker relies on, whatever keeps the bytes.
 */
export function describeMessageStore(kind: string, open: OpenStore): void {
  describe(`MessageStore contract: ${kind}`, () => {
    test("appends get consecutive queue offsets per queue and read back in order, within the count and byte caps", async () => {
      await using s = open();
      const results = [];
      for (let i = 0; i < 10; i++) results.push(await s.store.putMessage(msg(i)));
      assert.deepEqual(results.map((r) => r.queueOffset), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
      assert.ok(results.every((r, i) => i === 0 || r.physicalOffset === results[i - 1].physicalOffset + results[i - 1].size), "records lie end to end");
      assert.equal(s.store.maxOffset("T", 0), 5);
      assert.equal(s.store.minOffset("T", 0), 0);
      const r = s.store.getMessage("T", 0, 1, 3);
      assert.equal(r.status, "FOUND");
      assert.deepEqual(r.messages.map(text), ["m2", "m4", "m6"]);
      assert.equal(r.nextBeginOffset, 4);
      assert.deepEqual(r.body, new Uint8Array(r.messages.flatMap((m) => [...m])), "the body is the records side by side");
      const one = s.store.getMessage("T", 0, 0, 32, 1);
      assert.equal(one.messages.length, 1, "at least one record even past the byte cap");
      assert.equal(s.store.getMessage("T", 0, 5, 32).status, "OFFSET_OVERFLOW_ONE");
      assert.equal(s.store.getMessage("T", 0, 9, 32).status, "OFFSET_OVERFLOW_BADLY");
      assert.equal(s.store.getMessage("T", 7, 0, 32).status, "NO_MESSAGE_IN_QUEUE");
      assert.equal(s.store.commitLogMaxOffset, results[9].physicalOffset + results[9].size);
    });

    test("a deleted topic loses its queues and key index; created again it starts empty at offset 0; other topics keep theirs", async () => {
      await using s = open();
      for (let i = 0; i < 6; i++) await s.store.putMessage(msg(i));
      await s.store.putMessage(msg(0, { topic: "Other" }));
      assert.equal(s.store.deleteTopic("T"), 2);
      assert.equal(s.store.deleteTopic("T"), 0, "twice: nothing left");
      assert.equal(s.store.maxOffset("T", 0), 0);
      assert.equal(s.store.getMessage("T", 0, 0, 32).status, "NO_MESSAGE_IN_QUEUE");
      assert.deepEqual(s.store.queryMessage("T", "key1", 10), []);
      assert.ok(!s.store.topicQueues().some((q) => q.topic === "T"));
      assert.equal(s.store.getMessage("Other", 0, 0, 32).messages.length, 1);
      const again = await s.store.putMessage(msg(7, { queueId: 0 }));
      assert.equal(again.queueOffset, 0);
      assert.deepEqual(s.store.getMessage("T", 0, 0, 32).messages.map(text), ["m7"]);
      assert.deepEqual(s.store.queryMessage("T", "shared", 10).map((m) => new TextDecoder().decode(m.body)), ["m7"], "the old incarnation's keys are not found");
    });

    test("a batch is appended together, each message with its own result", async () => {
      await using s = open();
      const rs = await s.store.putMessages([msg(0, { queueId: 1 }), msg(1, { queueId: 1 }), msg(2, { queueId: 1 })]);
      assert.deepEqual(rs.map((r) => r.queueOffset), [0, 1, 2]);
      assert.deepEqual(s.store.getMessage("T", 1, 0, 32).messages.map(text), ["m0", "m1", "m2"]);
    });

    test("a record is found by its physical offset, decoded with topic, queue and properties; other offsets find nothing", async () => {
      await using s = open();
      const r = await s.store.putMessage(msg(3, { bornHost: "10.0.0.1:7000" }));
      const m = s.store.lookMessageByOffset(r.physicalOffset)!;
      assert.equal(m.topic, "T");
      assert.equal(m.queueId, 1);
      assert.equal(m.queueOffset, 0);
      assert.equal(m.physicalOffset, r.physicalOffset);
      assert.equal(m.properties.KEYS, "key3 shared");
      assert.equal(m.bornHost, "10.0.0.1:7000");
      assert.equal(s.store.readRecord(r.physicalOffset + 1), undefined);
      assert.equal(s.store.readRecord(-5), undefined);
      assert.equal(s.store.readRecord(r.physicalOffset + r.size + 1000), undefined);
    });

    test("messages are found by key and by unique id, newest first, within a store-time range", async () => {
      await using s = open();
      const before = Date.now() - 1;
      for (let i = 0; i < 6; i++) await s.store.putMessage(msg(i));
      const shared = s.store.queryMessage("T", "shared", 4);
      assert.deepEqual(shared.map((m) => new TextDecoder().decode(m.body)), ["m5", "m4", "m3", "m2"]);
      assert.deepEqual(s.store.queryMessage("T", "U2", 8).map((m) => new TextDecoder().decode(m.body)), ["m2"]);
      assert.deepEqual(s.store.queryMessage("T", "key4", 8).map((m) => new TextDecoder().decode(m.body)), ["m4"]);
      assert.deepEqual(s.store.queryMessage("Other", "key4", 8), []);
      assert.deepEqual(s.store.queryMessage("T", "shared", 8, 0, before), []);
    });

    test("offsets by store time: the first at or after a time, the earliest time of a queue", async () => {
      await using s = open();
      const r0 = await s.store.putMessage(msg(0));
      await waitFor(() => Date.now() > r0.storeTimestamp + 2, { what: "time to pass" });
      const r1 = await s.store.putMessage(msg(2));
      assert.equal(s.store.offsetForTimestamp("T", 0, 0), 0);
      assert.equal(s.store.offsetForTimestamp("T", 0, r1.storeTimestamp), 1);
      assert.equal(s.store.offsetForTimestamp("T", 0, r1.storeTimestamp + 10_000), 2);
      assert.equal(s.store.earliestMessageTime("T", 0), r0.storeTimestamp);
      assert.equal(s.store.earliestMessageTime("T", 5), undefined);
    });

    test("arrival listeners hear which queue grew once its message is readable; the log's end is announced", async () => {
      await using s = open();
      const arrived: string[] = [];
      const ends: number[] = [];
      s.store.onMessageArrived((topic, queueId, max) => {
        assert.equal(s.store.getMessage(topic, queueId, max - 1, 1).status, "FOUND");
        arrived.push(`${topic}/${queueId}@${max}`);
      });
      s.store.onCommitLogAdvanced((end) => ends.push(end));
      await s.store.putMessage(msg(0));
      await s.store.putMessages([msg(1), msg(3)]);
      assert.deepEqual(arrived, ["T/0@1", "T/1@2"]);
      assert.equal(ends.at(-1), s.store.commitLogMaxOffset);
    });

    test("a prepared transaction message is stored but gets no queue unit", async () => {
      await using s = open();
      const r = await s.store.putMessage(msg(0, { sysFlag: SysFlag.TRANSACTION_PREPARED_TYPE }));
      assert.equal(r.queueOffset, 0);
      assert.equal(s.store.maxOffset("T", 0), 0);
      assert.equal(new TextDecoder().decode(s.store.lookMessageByOffset(r.physicalOffset)!.body), "m0");
    });

    test("bad input gets its own error and nothing is stored", async () => {
      await using s = open();
      assert.ok(await rejectionOf(s.store.putMessage(msg(0, { body: new Uint8Array(0) }))) instanceof MessageIllegalError);
      assert.ok(await rejectionOf(s.store.putMessage(msg(0, { queueId: 70_000 }))) instanceof InvalidParameterError);
      assert.ok(await rejectionOf(s.store.putMessage(msg(0, { properties: { K: "x".repeat(40_000) } }))) instanceof MessageIllegalError);
      assert.equal(s.store.commitLogMaxOffset, 0);
    });

    test("replication: a copy fed the master's records holds the same log and queues; truncation drops a tail", async () => {
      await using m = open();
      await using r = open();
      for (let i = 0; i < 8; i++) await m.store.putMessage(msg(i));
      for (let from = 0; from < m.store.commitLogMaxOffset;) {
        const chunk = m.store.readReplica(from, 200)!;
        assert.equal(await r.store.appendReplicated(from, chunk.bytes), chunk.next);
        from = chunk.next;
      }
      assert.equal(r.store.commitLogMaxOffset, m.store.commitLogMaxOffset);
      assert.deepEqual(r.store.getMessage("T", 1, 0, 32).messages.map(text), m.store.getMessage("T", 1, 0, 32).messages.map(text));
      await assert.rejects(r.store.appendReplicated(0, m.store.readReplica(0, 200)!.bytes), /start at 0/);
      const third = m.store.getMessage("T", 0, 2, 1).units[0].physicalOffset;
      await r.store.truncateTo(third);
      assert.equal(r.store.commitLogMaxOffset, third);
      assert.deepEqual(r.store.getMessage("T", 0, 0, 32).messages.map(text), ["m0", "m2"]);
    });

    test("a closed store takes no appends", async () => {
      await using s = open();
      await s.store.close();
      assert.match(String(await rejectionOf(s.store.putMessage(msg(0)))), /shut down/);
    });
  });
}
