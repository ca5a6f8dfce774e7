import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { waitFor } from "../../harness/wait.ts";
import { MemoryMessageStore } from "../../../src/store/memory_message_store.ts";
import type { PutMessageRequest } from "../../../src/store/message_store.ts";
import { nodeFileSystem } from "../../../src/platform/file_system.ts";
import { silentLogger } from "../../../src/common/log.ts";
import { MessageProperty, SysFlag } from "../../../src/common/message.ts";
import { SCHEDULE_TOPIC, ScheduleMessageService, toScheduled } from "../../../src/broker/schedule_message_service.ts";
import { TIMER_TOPIC, TimerMessageService } from "../../../src/broker/timer_message_service.ts";
import { type CheckBack, committedOf, HALF_TOPIC, TransactionalMessageService } from "../../../src/broker/transactional_message_service.ts";
import { utf8 } from "../../../src/util/bytes.ts";

const body = (s: string) => utf8(s);
const text = (r: PutMessageRequest) => new TextDecoder().decode(r.body);

describe("broker services on the memory store", () => {
  test("delay levels: a scheduled message is put back to its real topic and queue once its level's delay passed", async () => {
    using dir = tempDir();
    const store = new MemoryMessageStore();
    const delivered: { req: PutMessageRequest; at: number }[] = [];
    const schedule = new ScheduleMessageService(store, [100, 300], nodeFileSystem, join(dir.path, "delayOffset.json"), async (req) => {
      delivered.push({ req, at: Date.now() });
      await store.putMessage(req);
    }, silentLogger);
    store.onMessageArrived((topic, queueId) => {
      if (topic === SCHEDULE_TOPIC) schedule.arrived(queueId);
    });
    schedule.start();
    const sent = Date.now();
    await store.putMessage(toScheduled({ body: body("later") }, "Real", 3, 2, { KEYS: "k" }));
    await store.putMessage(toScheduled({ body: body("sooner") }, "Real", 1, 1, {}));
    await waitFor(() => delivered.length === 2, { what: "both delivered" });
    assert.deepEqual(delivered.map((d) => [text(d.req), d.req.topic, d.req.queueId]), [["sooner", "Real", 1], ["later", "Real", 3]]);
    assert.ok(delivered[0].at - sent >= 100 && delivered[1].at - sent >= 300, "no earlier than its level");
    assert.equal(store.maxOffset("Real", 3), 1);
    assert.equal((delivered[1].req.properties as Record<string, string>)[MessageProperty.REAL_TOPIC], undefined);
    schedule.stop();
    assert.deepEqual(schedule.offsetTable(), { "1": 1, "2": 1 });
  });

  test("timers: due times are kept whatever order they arrive in, and a cancelled one never comes", async () => {
    using dir = tempDir();
    const store = new MemoryMessageStore();
    const delivered: string[] = [];
    const timer = new TimerMessageService(store, nodeFileSystem, {
      dir: join(dir.path, "timerlog"), segmentBytes: 48 * 1024, maxDelayMs: 3_600_000, flushIntervalMs: 100, rollIntervalMs: 3_600_000,
    }, async (req) => void delivered.push(text(req)), silentLogger);
    store.onMessageArrived((topic) => {
      if (topic === TIMER_TOPIC) timer.arrived();
    });
    timer.start();
    const now = Date.now();
    const put = (name: string, inMs: number) =>
      store.putMessage({ topic: TIMER_TOPIC, queueId: 0, body: body(name), properties: { [MessageProperty.REAL_TOPIC]: "Real", [MessageProperty.REAL_QUEUE_ID]: "0", [MessageProperty.TIMER_OUT_MS]: String(now + inMs) } });
    await put("third", 300);
    await put("first", 50);
    const doomed = await put("never", 150);
    await put("second", 200);
    await waitFor(() => timer.pending === 4, { what: "four timers pending" });
    assert.equal(timer.cancel(doomed.physicalOffset, now + 150), true);
    await waitFor(() => delivered.length === 3, { what: "three timers" });
    assert.deepEqual(delivered, ["first", "second", "third"]);
    await timer.stop();
  });

  test("transactions: an undecided half message is checked back, and committing it delivers it to its real topic once", async () => {
    using dir = tempDir();
    const store = new MemoryMessageStore();
    const checks: CheckBack[] = [];
    const tx = new TransactionalMessageService(store, nodeFileSystem, join(dir.path, "transactionOffset.json"), {
      transactionTimeout: 100, transactionCheckInterval: 50, transactionCheckMax: 5,
    }, (req) => store.putMessage(req), (c) => {
      checks.push(c);
      return true;
    }, silentLogger);
    tx.start();
    const half = await store.putMessage({
      topic: HALF_TOPIC, queueId: 0, body: body("order-1"),
      properties: { [MessageProperty.REAL_TOPIC]: "Orders", [MessageProperty.REAL_QUEUE_ID]: "2", [MessageProperty.PRODUCER_GROUP]: "pg", [MessageProperty.UNIQ_KEY]: "U1" },
    });
    assert.equal(tx.halfBacklog, 1);
    await waitFor(() => checks.length > 0, { what: "a check-back" });
    assert.equal(checks[0].producerGroup, "pg");
    const m = tx.halfAt(half.physicalOffset)!;
    assert.equal(await tx.decide(m, true, committedOf), true);
    assert.equal(await tx.decide(m, true, committedOf), false, "decided once");
    const got = store.getMessage("Orders", 2, 0, 8);
    assert.equal(got.messages.length, 1);
    assert.equal(store.lookMessageByOffset(got.units[0].physicalOffset)!.sysFlag & SysFlag.TRANSACTION_COMMIT_TYPE, SysFlag.TRANSACTION_COMMIT_TYPE);
    tx.stop();
  });
});
