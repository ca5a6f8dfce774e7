import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { createTopic, startBroker, startNameServer } from "../harness/servers.ts";
import { Producer } from "../../src/client/producer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { MessageQuery } from "../../src/client/message_query.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { encodeProperties } from "../../src/common/message.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";

const text = (m: MessageExt) => new TextDecoder().decode(m.body);

/** A consumer recording each message with the local time it reached the listener. */
function recorder(namesrvAddr: string, topic: string, group = "delay-cg") {
  const got: { m: MessageExt; at: number }[] = [];
  const c = new PushConsumer({
    namesrvAddr,
    group,
    consumeFromWhere: "first",
    rebalanceIntervalMs: 500,
    brokerSuspendMaxTimeMs: 1000,
    pullDelayWhenExceptionMs: 100,
    persistConsumerOffsetIntervalMs: 200,
  });
  c.subscribe(topic).registerMessageListener((msgs) => {
    const at = Date.now();
    for (const m of msgs) got.push({ m, at });
  });
  return { c, got, bodies: () => got.map((g) => text(g.m)) };
}

const SHORT_LEVELS: Partial<BrokerConfig> = { messageDelayLevel: "300ms 600ms 900ms" };

describe("delayed and timer messages", () => {
  test("each delay level arrives no earlier than due and within tolerance, with its topic, tags, keys and id restored", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", ...SHORT_LEVELS }], topics: { Later: 2 } });
    const { ns, producer } = cluster;
    const r = recorder(ns.addr, "Later");
    await r.c.start();
    const sent: { level: number; at: number; msgId: string }[] = [];
    // Level 7 is above the last of three: it is clamped to the last (900 ms).
    for (const level of [1, 2, 3, 7]) {
      const at = Date.now();
      const res = await producer.send({ topic: "Later", body: `level-${level}`, tags: "TagD", keys: `key-${level}`, delayTimeLevel: level });
      sent.push({ level, at, msgId: res.msgId });
    }
    const now = await producer.send({ topic: "Later", body: "now", delayTimeLevel: 0 });
    await waitFor(() => r.got.length === 5, { what: "all five messages" });
    const delays = [300, 600, 900, 900];
    for (const [i, s] of sent.entries()) {
      const g = r.got.find((x) => text(x.m) === `level-${s.level}`)!;
      const due = s.at + delays[i];
      assert.ok(g.m.storeTimestamp >= due, `level ${s.level} stored for delivery ${due - g.m.storeTimestamp} ms early`);
      assert.ok(g.at - due < 500, `level ${s.level} arrived ${g.at - due} ms after due`);
      assert.equal(g.m.topic, "Later");
      assert.equal(g.m.tags, "TagD");
      assert.deepEqual(g.m.keys, [`key-${s.level}`]);
      assert.equal(g.m.msgId, s.msgId, "the unique id survives the delay");
      assert.equal(g.m.properties.DELAY, undefined);
      assert.equal(g.m.properties.REAL_TOPIC, undefined);
    }
    assert.equal(r.got.findIndex((x) => text(x.m) === "now"), 0, "level 0 is not delayed");
    assert.ok(now.msgId);
    await r.c.shutdown();
    await producer.shutdown();
  });

  test("timers by deliverAt and by delayMs arrive on time; a cancelled timer or delayed message never arrives", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", ...SHORT_LEVELS }], topics: { Timed: 2 } });
    const { ns, producer } = cluster;
    const r = recorder(ns.addr, "Timed");
    await r.c.start();
    const t0 = Date.now();
    const plan = [
      { body: "at-800", deliverAt: t0 + 800 },
      { body: "in-100", delayMs: 100 },
      { body: "in-400", delayMs: 400 },
      { body: "at-date", deliverAt: new Date(t0 + 600) },
    ];
    for (const p of plan) await producer.send({ topic: "Timed", ...p });
    const doomed = await producer.send({ topic: "Timed", body: "cancelled-timer", delayMs: 700 });
    const doomedLevel = await producer.send({ topic: "Timed", body: "cancelled-level", delayTimeLevel: 2 });
    const past = await producer.send({ topic: "Timed", body: "in-the-past", deliverAt: t0 - 10_000 });
    assert.equal(await producer.cancelDelayed("Timed", doomed.msgId), true);
    assert.equal(await producer.cancelDelayed("Timed", doomedLevel.msgId), true);
    assert.equal(await producer.cancelDelayed("Timed", doomed.msgId), false, "a second cancel finds nothing pending");
    assert.equal(await producer.cancelDelayed("Timed", past.msgId), false, "a message not delayed cannot be cancelled");
    // A sentinel due after both cancelled ones: once it is in, they would have been too.
    await producer.send({ topic: "Timed", body: "sentinel", delayMs: 1_200 });
    await waitFor(() => r.bodies().includes("sentinel"), { what: "the sentinel" });
    const bodies = r.bodies();
    assert.ok(!bodies.includes("cancelled-timer") && !bodies.includes("cancelled-level"), `cancelled ones arrived: ${bodies}`);
    assert.equal(bodies.filter((b) => b === "in-the-past").length, 1, "a time already past means now");
    for (const p of plan) {
      const g = r.got.find((x) => text(x.m) === p.body)!;
      assert.ok(g, `${p.body} arrived`);
      const due = p.deliverAt !== undefined ? +p.deliverAt : t0 + p.delayMs!;
      assert.ok(g.m.storeTimestamp >= due, `${p.body} early by ${due - g.m.storeTimestamp} ms`);
      assert.ok(g.at - due < 300, `${p.body} ${g.at - due} ms late`);
      assert.equal(g.m.properties.TIMER_OUT_MS, undefined);
    }
    // A delivered timer cannot be cancelled either.
    const quick = await producer.send({ topic: "Timed", body: "quick", delayMs: 50 });
    await waitFor(() => r.bodies().includes("quick"), { what: "quick" });
    assert.equal(await producer.cancelDelayed("Timed", quick.msgId), false);
    await r.c.shutdown();
    await producer.shutdown();
  });

  test("a timer further out than the roll interval is stored again, still arrives once on time, and can be cancelled after the roll", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "r", timerRollIntervalMs: 1000 }], topics: { Far: 1 } });
    const { ns, broker, producer } = cluster;
    const r = recorder(ns.addr, "Far");
    await r.c.start();
    const due = Date.now() + 2_600;
    await producer.send({ topic: "Far", body: "far", deliverAt: due });
    const doomed = await producer.send({ topic: "Far", body: "far-cancelled", deliverAt: due });
    const admin = new RemotingClient();
    const timerQueueMax = async () => {
      const resp = await admin.invoke(broker.addr, createRequest(RequestCode.GET_MAX_OFFSET, { topic: "rmq_sys_wheel_timer", queueId: 0 }));
      return Number(resp.extFields?.offset);
    };
    // Both were stored in the timer queue once, then once more when the roll point came.
    await waitFor(async () => (await timerQueueMax()) >= 4, { what: "both timers rolled" });
    assert.ok(Date.now() < due, "the roll happened before the due time");
    assert.equal(await producer.cancelDelayed("Far", doomed.msgId), true, "the rolled copy is the one cancelled");
    await producer.send({ topic: "Far", body: "sentinel", deliverAt: due + 400 });
    await waitFor(() => r.bodies().includes("sentinel"), { what: "the sentinel" });
    assert.deepEqual(r.bodies().filter((b) => b.startsWith("far")), ["far"]);
    const g = r.got.find((x) => text(x.m) === "far")!;
    assert.ok(g.m.storeTimestamp >= due, `early by ${due - g.m.storeTimestamp} ms`);
    assert.ok(g.at - due < 300, `${g.at - due} ms late`);
    admin.close();
    await r.c.shutdown();
    await producer.shutdown();
  });

  test("bad delays get clear errors and the broker keeps serving", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", timerMaxDelayMs: 60_000 }], topics: { Bad: 1 }, producerOptions: { retryTimesWhenSendFailed: 0 } });
    const { broker, producer } = cluster;
    const tooFar = await rejectionOf(producer.send({ topic: "Bad", body: "x", delayMs: 120_000 }));
    assert.match(tooFar.message, /exceeds timerMaxDelayMs/);
    assert.ok(await rejectionOf(producer.send({ topic: "Bad", body: "x", delayMs: -5 })) instanceof InvalidParameterError);
    assert.ok(await rejectionOf(producer.send({ topic: "Bad", body: "x", delayTimeLevel: 1.5 })) instanceof InvalidParameterError);
    assert.ok(await rejectionOf(producer.send({ topic: "Bad", body: "x", delayMs: 5, delayTimeLevel: 1 })) instanceof InvalidParameterError);
    assert.ok(await rejectionOf(producer.sendBatch([{ topic: "Bad", body: "x", delayMs: 500 }])) instanceof InvalidParameterError);
    await assert.rejects(producer.cancelDelayed("Bad", "not-an-id"), InvalidParameterError);
    // Malformed properties straight on the wire.
    const raw = new RemotingClient();
    const send = (props: Record<string, string>) =>
      raw.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", topic: "Bad", queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0, properties: encodeProperties(props), reconsumeTimes: 0 }, new Uint8Array([1])));
    const bad: Record<string, string>[] = [{ DELAY: "abc" }, { DELAY: "-1" }, { TIMER_DELIVER_MS: "soon" }, { TIMER_DELAY_MS: "-3" }];
    for (const props of bad) {
      const resp = await send(props);
      assert.equal(resp.code, ResponseCode.MESSAGE_ILLEGAL, `${JSON.stringify(props)}: ${resp.remark}`);
    }
    const cancel = await raw.invoke(broker.addr, createRequest(RequestCode.CANCEL_DELAYED_MESSAGE, { topic: "Bad", uniqKey: "00".repeat(16) }));
    assert.equal(cancel.code, ResponseCode.QUERY_NOT_FOUND);
    raw.close();
    const ok = await producer.send({ topic: "Bad", body: "still serving", delayMs: 10 });
    assert.equal(ok.status, "SEND_OK");
    await producer.shutdown();
  });

  test("timers and delayed messages pending across a clean restart and a crash still arrive; a cancel survives both", async () => {
    using dir = tempDir();
    await using ns = await startNameServer();
    const storeDir = join(dir.path, "b");
    let broker = await startBroker(ns.addr, storeDir, { ...SHORT_LEVELS, messageDelayLevel: "1s 2s", timerFlushIntervalMs: 50 });
    await createTopic(broker.addr, "Durable", 1);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await producer.send({ topic: "Durable", body: `timer-${i}`, deliverAt: t0 + 1_500 + i * 50 });
    await producer.send({ topic: "Durable", body: "level-2", delayTimeLevel: 2 });
    const doomed = await producer.send({ topic: "Durable", body: "cancelled", delayMs: 2_000 });
    assert.equal(await producer.cancelDelayed("Durable", doomed.msgId), true);
    await waitFor(() => broker.runtimeInfo().timersPending === "21", { what: "21 timers pending" });
    await broker.shutdown(500);
    broker = await startBroker(ns.addr, storeDir, { messageDelayLevel: "1s 2s", timerFlushIntervalMs: 50 });
    assert.equal(broker.runtimeInfo().timersPending, "20", "the cancelled timer is not pending after the restart");
    // A crash (no flush, no persisted progress) once the first timer is delivered: the rest must still come.
    await waitFor(() => broker.store.maxOffset("Durable", 0) > 0, { what: "the first timer delivered", timeoutMs: 10_000 });
    await broker.kill();
    broker = await startBroker(ns.addr, storeDir, { messageDelayLevel: "1s 2s", timerFlushIntervalMs: 50 });
    const r = recorder(ns.addr, "Durable");
    await r.c.start();
    await waitFor(() => new Set(r.bodies()).size === 21, { what: "20 timers and the delayed message", timeoutMs: 15_000 });
    for (let i = 0; i < 20; i++) {
      const g = r.got.find((x) => text(x.m) === `timer-${i}`)!;
      assert.ok(g.m.storeTimestamp >= t0 + 1_500 + i * 50, `timer-${i} early`);
    }
    await waitFor(() => Date.now() > t0 + 2_600, { what: "past the cancelled one's due time" });
    await waitFor(() => broker.runtimeInfo().timersPending === "0", { what: "no timer pending" });
    assert.ok(!r.bodies().includes("cancelled"));
    console.log(`  restart test: ${r.got.length} deliveries of 21 messages (a crash may repeat some)`);
    await r.c.shutdown();
    await producer.shutdown();
    await broker.shutdown(500);
  });

  test("100,000 timers spread over one minute each arrive exactly once, on time", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", commitLogSegmentBytes: 256 * 1024 * 1024 }], topics: { Wheel: 4 }, producerGroup: false });
    const { ns, broker } = cluster;
    const N = 100_000;
    const SPREAD = 60_000;
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    const start = Date.now() + 5_000; // time to send most of them first
    const dueOf = (i: number) => start + Math.floor((i * SPREAD) / N);
    /**
     * When each send was acknowledged. On a loaded machine some are acknowledged after they were
     * due (then they are stored at once): they are on time if delivered soon after that.
     */
    const ackedAt = new Float64Array(N);
    const onTimeOf = (i: number) => Math.max(dueOf(i), ackedAt[i]);
    const seen = new Uint8Array(N);
    /** Delivery lateness (the delivered copy's store time − when it could first be due) and arrival lateness at the listener. */
    const late: number[] = [];
    const arrival: number[] = [];
    let early = 0;
    let dups = 0;
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "wheel-cg", consumeFromWhere: "first", rebalanceIntervalMs: 500, consumeMessageBatchMaxSize: 32 });
    c.subscribe("Wheel").registerMessageListener((msgs) => {
      const now = Date.now();
      for (const m of msgs) {
        const i = new DataView(m.body.buffer, m.body.byteOffset, 4).getUint32(0);
        if (seen[i]++) dups++;
        if (m.storeTimestamp < dueOf(i)) early++;
        late.push(m.storeTimestamp - onTimeOf(i));
        arrival.push(now - onTimeOf(i));
      }
    });
    await c.start();
    let inflight = 0;
    let failed = 0;
    for (let i = 0; i < N; i++) {
      const body = new Uint8Array(16);
      new DataView(body.buffer).setUint32(0, i);
      while (inflight >= 512) await new Promise((r) => setTimeout(r, 1));
      inflight++;
      const acked = () => {
        ackedAt[i] = Date.now();
        inflight--;
      };
      producer.send({ topic: "Wheel", body, deliverAt: dueOf(i) }, { onSuccess: acked, onException: () => void (inflight--, failed++) });
    }
    await waitFor(() => inflight === 0, { what: "all sends answered", timeoutMs: 60_000 });
    assert.equal(failed, 0);
    const sentLate = ackedAt.filter((t, i) => t > dueOf(i)).length;
    await waitFor(() => late.length >= N, { what: `${N} timers`, timeoutMs: SPREAD + 30_000, intervalMs: 200 });
    await waitFor(() => broker.runtimeInfo().timersPending === "0", { what: "nothing pending" });
    late.sort((a, b) => a - b);
    arrival.sort((a, b) => a - b);
    const p = (q: number, xs = late) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
    console.log(`  100k timers: delivered late by p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms; at the listener p50 ${p(0.5, arrival)} ms, p99 ${p(0.99, arrival)} ms, max ${p(1, arrival)} ms; ${dups} duplicates, ${early} early; ${sentLate} acknowledged after they were due`);
    assert.equal(dups, 0);
    assert.equal(early, 0);
    assert.equal(seen.filter((x) => x === 1).length, N);
    assert.ok(p(0.99) <= 250, `p99 delivery lateness ${p(0.99)} ms`);
    assert.ok(p(0.99, arrival) <= 1_000, `p99 arrival lateness ${p(0.99, arrival)} ms`);
    await c.shutdown();
    await producer.shutdown();
  }, 150_000);
});

describe("message query", () => {
  test("by key within a time range, by unique id and by offset id, after a restart", async () => {
    using dir = tempDir();
    await using ns = await startNameServer();
    const storeDir = join(dir.path, "b");
    let broker = await startBroker(ns.addr, storeDir);
    await createTopic(broker.addr, "Findable", 2);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg" });
    const first = await producer.send({ topic: "Findable", body: "order 1", keys: ["order-1", "customer-9"] });
    const mid = Date.now();
    await waitFor(() => Date.now() > mid + 5, { what: "time to pass" });
    const second = await producer.send({ topic: "Findable", body: "order 2", keys: "customer-9" });
    const later = await producer.send({ topic: "Findable", body: "later", delayMs: 200 });
    await producer.shutdown();
    await broker.shutdown(500);
    // The same port, as a real broker restarts: offset ids name the broker's address.
    broker = await startBroker(ns.addr, storeDir, { listenPort: Number(broker.addr.split(":")[1]) });
    const q = new MessageQuery({ namesrvAddr: ns.addr });
    const both = await q.queryByKey("Findable", "customer-9");
    assert.deepEqual(both.map(text), ["order 2", "order 1"], "newest first");
    assert.deepEqual((await q.queryByKey("Findable", "customer-9", { begin: mid })).map(text), ["order 2"]);
    assert.deepEqual((await q.queryByKey("Findable", "customer-9", { end: mid })).map(text), ["order 1"]);
    assert.deepEqual(await q.queryByKey("Findable", "nobody"), []);
    assert.equal(text((await q.getByUniqueId("Findable", first.msgId))!), "order 1");
    assert.equal(text((await q.getByOffsetId(second.offsetMsgId))!), "order 2");
    // The timer message is found by its id in its topic once delivered.
    await waitFor(async () => (await q.getByUniqueId("Findable", later.msgId)) !== undefined, { what: "the delivered timer by id" });
    assert.equal(await q.getByUniqueId("Findable", "0".repeat(32)), undefined);
    await assert.rejects(q.queryByKey("Findable", "two words"), InvalidParameterError);
    await assert.rejects(q.queryByKey("Findable", "k", { maxNum: 0 }), InvalidParameterError);
    await assert.rejects(q.getByOffsetId("xyz"), InvalidParameterError);
    q.close();
    await broker.shutdown(500);
  });
});
