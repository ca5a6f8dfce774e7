import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { selectByHash } from "../../src/client/producer.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer, type PushConsumerOptions } from "../../src/client/push_consumer.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeBody, encodeBody } from "../../src/protocol/body_codec.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { SubscriptionParseError } from "../../src/common/errors.ts";
import { createLogger } from "../../src/common/log.ts";
import { Child, runtimeBinary } from "../harness/process.ts";
import { parseOffsetMsgId } from "../../src/common/message_id.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
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

describe("push consumer", () => {
  test("consumes every message of a topic with a concurrent listener", async () => {
    await using cluster = await startCluster({ topics: { Smoke: 4 } });
    const { ns, producer } = cluster;
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

  test("a message sent to an idle queue arrives at once: a held pull outlives the request timeout", async () => {
    await using cluster = await startCluster({ topics: { Idle: 1 } });
    const { ns, producer } = cluster;
    let arrived = 0;
    // The broker holds the pull up to 2 s, far past the 300 ms request timeout; the exception
    // back-off keeps its 3 s default, so a pull given up on would delay the message by seconds.
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "idle", consumeFromWhere: "last", timeoutMs: 300, brokerSuspendMaxTimeMs: 2000 });
    c.subscribe("Idle", "*").registerMessageListener(() => void (arrived = Date.now()));
    await c.start();
    await waitFor(() => c.stats().pulls >= 1, { what: "the first pull" });
    const idleUntil = Date.now() + 1000; // idle for three request timeouts: the scenario itself
    await waitFor(() => Date.now() >= idleUntil, { what: "an idle second" });
    const sent = Date.now();
    await producer.send({ topic: "Idle", body: "after a quiet spell" });
    await waitFor(() => arrived > 0, { what: "the message", timeoutMs: 10_000 });
    assert.ok(arrived - sent < 1000, `arrived ${arrived - sent} ms after the send`);
    await c.shutdown();
    await producer.shutdown();
  });

  test("members join and leave while messages flow: none is lost, duplicates are counted", async () => {
    await using cluster = await startCluster({ topics: { Flow: 8 } });
    const { ns, producer } = cluster;
    const total = 3000;
    const seen = new Map<string, number>();
    const byMember = new Map<string, number>();
    const member = (name: string) => {
      const c = new PushConsumer({ namesrvAddr: ns.addr, group: "flow", instanceName: name, ...FAST });
      c.subscribe("Flow").registerMessageListener((msgs) => {
        for (const m of msgs) {
          seen.set(text(m), (seen.get(text(m)) ?? 0) + 1);
          byMember.set(name, (byMember.get(name) ?? 0) + 1);
        }
      });
      return c;
    };
    let sent = 0;
    const sending = (async () => {
      while (sent < total) {
        await Promise.all(Array.from({ length: 20 }, () => producer.send({ topic: "Flow", body: `f-${sent++}` })));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const a = member("a");
    const b = member("b");
    await a.start();
    await b.start();
    await waitFor(() => a.assignment().length + b.assignment().length === 8 + 1, { what: "a and b to split 8 queues and the retry queue" });
    await waitFor(() => sent >= total / 3, { what: "a third sent" });
    const c = member("c");
    await c.start();
    await waitFor(() => c.assignment().some((q) => q.topic === "Flow") && a.assignment().length + b.assignment().length + c.assignment().length === 9, { what: "c to take its share" });
    await waitFor(() => sent >= (2 * total) / 3, { what: "two thirds sent" });
    await b.shutdown(); // leaves: a and c take b's queues from its stored offsets
    await waitFor(() => a.assignment().length + c.assignment().length === 9, { what: "a and c to cover all queues" });
    await sending;
    await waitFor(() => seen.size === total, { timeoutMs: 20_000, what: `all ${total} messages (have ${seen.size})` });
    const duplicates = [...seen.values()].reduce((n, k) => n + k - 1, 0);
    console.log(`join/leave: ${total} messages, ${duplicates} duplicates; per member ${JSON.stringify(Object.fromEntries(byMember))}`);
    for (const name of ["a", "b", "c"]) assert.ok((byMember.get(name) ?? 0) > 0, `member ${name} consumed something`);
    await a.shutdown();
    await c.shutdown();
    await producer.shutdown();
  }, 60_000);

  test("a member killed with kill -9 mid-batch: its unacknowledged messages reach the survivors", async () => {
    await using cluster = await startCluster({ topics: { Crash: 4 } });
    const { ns, producer } = cluster;
    const total = 400;
    for (let i = 0; i < total; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => producer.send({ topic: "Crash", body: `c-${i + j}` })));
    const script = new URL("../fixtures/push_consumer_child.ts", import.meta.url).pathname;
    await using child = new Child(runtimeBinary(), [script, ns.addr, "crash", "Crash", "25"]);
    await child.firstLine(15_000);
    const survivorSeen = new Map<string, number>();
    const survivor = new PushConsumer({ namesrvAddr: ns.addr, group: "crash", instanceName: "survivor", ...FAST });
    survivor.subscribe("Crash").registerMessageListener(async (msgs) => {
      await new Promise((r) => setTimeout(r, 5));
      for (const m of msgs) survivorSeen.set(text(m), (survivorSeen.get(text(m)) ?? 0) + 1);
    });
    await survivor.start();
    const childDone = () => child.stdoutLines.filter((l) => l.startsWith("done ")).map((l) => l.slice(5));
    await waitFor(() => childDone().length >= 80, { timeoutMs: 15_000, what: "the child to consume some messages" });
    child.kill("SIGKILL");
    await child.exited;
    const done = new Set(childDone());
    await waitFor(() => survivor.assignment().filter((q) => q.topic === "Crash").length === 4, { timeoutMs: 15_000, what: "the survivor to take every queue" });
    await waitFor(() => [...Array(total).keys()].every((i) => done.has(`c-${i}`) || survivorSeen.has(`c-${i}`)), {
      timeoutMs: 20_000,
      what: "every message consumed by the child before its death or by the survivor",
    });
    const duplicates = [...survivorSeen.keys()].filter((k) => done.has(k)).length;
    console.log(`kill -9: child finished ${done.size}, survivor ${survivorSeen.size}, ${duplicates} consumed by both`);
    assert.ok(done.size < total, "the child was killed before it finished everything");
    await survivor.shutdown();
    await producer.shutdown();
  }, 60_000);

  test("a failing message is retried with growing reconsumeTimes, then lands in the DLQ", async () => {
    await using cluster = await startCluster({ brokers: [{ messageDelayLevel: Array(18).fill("200ms").join(" ") }], topics: { Work: 2 } });
    const { ns, broker, producer } = cluster;
    const attempts = new Map<string, { reconsumeTimes: number; topic: string; at: number; msgId: string }[]>();
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "workers", maxReconsumeTimes: 3, ...FAST });
    c.subscribe("Work").registerMessageListener((msgs) => {
      const m = msgs[0];
      const list = attempts.get(text(m)) ?? [];
      list.push({ reconsumeTimes: m.reconsumeTimes, topic: m.topic, at: Date.now(), msgId: m.msgId });
      attempts.set(text(m), list);
      if (text(m) === "ok") return "CONSUME_SUCCESS";
      if (text(m) === "fails-twice" && list.length <= 2) return "RECONSUME_LATER";
      if (text(m) === "throws-once" && list.length === 1) throw new Error("listener bug");
      if (text(m) === "always") return "RECONSUME_LATER";
      return "CONSUME_SUCCESS";
    });
    await c.start();
    for (const body of ["ok", "fails-twice", "throws-once", "always"]) await producer.send({ topic: "Work", body, keys: body });
    await waitFor(() => attempts.get("always")?.length === 4 && attempts.get("fails-twice")?.length === 3, { timeoutMs: 20_000, what: "all attempts" });
    assert.equal(attempts.get("ok")!.length, 1);
    assert.deepEqual(attempts.get("fails-twice")!.map((a) => a.reconsumeTimes), [0, 1, 2]);
    assert.deepEqual(attempts.get("throws-once")!.map((a) => a.reconsumeTimes), [0, 1]);
    assert.deepEqual(attempts.get("always")!.map((a) => a.reconsumeTimes), [0, 1, 2, 3]);
    for (const list of attempts.values()) {
      assert.ok(list.every((a) => a.topic === "Work"), "retries show the original topic");
      assert.equal(new Set(list.map((a) => a.msgId)).size, 1, "a retried message keeps its id");
      for (let i = 1; i < list.length; i++) assert.ok(list[i].at - list[i - 1].at >= 180, `retry ${i} came ${list[i].at - list[i - 1].at} ms after the previous attempt`);
    }
    // After maxReconsumeTimes (3) the fourth failure sends it to %DLQ%workers, which nothing consumes automatically.
    const dlq = new PullConsumer({ namesrvAddr: ns.addr, group: "dlq-reader", consumeFromWhere: "first" });
    const dead: MessageExt[] = [];
    await waitFor(async () => {
      if (dead.length === 0) {
        const queues = await dlq.queuesOf("%DLQ%workers").catch(() => []);
        if (queues.length === 0) return false;
        if (dlq.assignment().length === 0) await dlq.assign(queues);
      }
      dead.push(...await dlq.poll(200));
      return dead.length >= 1;
    }, { timeoutMs: 10_000, what: "the message in the DLQ" });
    assert.deepEqual(dead.map(text), ["always"]);
    assert.equal(dead[0].reconsumeTimes, 4);
    assert.equal(dead[0].properties.RETRY_TOPIC, "Work");
    assert.equal(dead[0].properties.DLQ_ORIGIN_TOPIC, "Work");
    assert.equal(dead[0].msgId, attempts.get("always")![0].msgId);
    // Nothing is waiting in the schedule and the consumer has pulled its whole retry queue: no fifth attempt can come.
    await waitFor(() => broker.runtimeInfo().scheduledPending.split(",").every((n) => n === "0"), { what: "the schedule to be empty" });
    const retryMax = broker.store.maxOffset("%RETRY%workers", 0);
    await waitFor(() => c.stats().queues.find((q) => q.mq.topic === "%RETRY%workers")?.nextOffset === retryMax, { what: "the retry queue pulled to its end" });
    assert.equal(attempts.get("always")!.length, 4);
    // The CLI lists and reads the dead letter, and re-sends it to the group, which consumes it again.
    const cli = async (...args: string[]) => {
      await using p = new Child(runtimeBinary(), [CLI, ...args, "--namesrv", ns.addr]);
      await p.exited;
      assert.equal(p.exitCode, 0, p.stderr);
      return p.stdoutLines.join("\n");
    };
    const [listed] = JSON.parse(await cli("dlq", "list", "--group", "workers", "--json"));
    assert.deepEqual([listed.offset, listed.originTopic, listed.reconsumeTimes, listed.msgId], [0, "Work", 4, dead[0].msgId]);
    // Without --json, a table for people.
    const table = (await cli("dlq", "list", "--group", "workers")).split("\n");
    assert.match(table[0], /^offset\s+msgId\s+originTopic\s+reconsumeTimes\s+tags\s+stored\s+bytes$/);
    assert.match(table[1], new RegExp(`^\\s*0\\s+${dead[0].msgId}\\s+Work\\s+4\\b`));
    const read = JSON.parse(await cli("dlq", "read", "--group", "workers", "--offset", "0"));
    assert.equal(read.body, "always");
    const resent = JSON.parse(await cli("dlq", "resend", "--group", "workers", "--offset", "0"));
    assert.equal(resent.resent, 0);
    await waitFor(() => attempts.get("always")!.length === 5, { what: "the re-sent dead letter to be consumed again" });
    assert.deepEqual([attempts.get("always")![4].reconsumeTimes, attempts.get("always")![4].topic], [0, "Work"]);
    const group = JSON.parse(await cli("group", "--group", "workers", "--json"));
    assert.equal(group[0].members.length, 1);
    assert.equal(group[0].subscriptionsConsistent, true);
    await dlq.shutdown();
    await c.shutdown();
    await producer.shutdown();
  }, 60_000);

  test("orderly consumption keeps per-key order across a rebalance", async () => {
    await using cluster = await startCluster({ topics: { Orders: 4 } });
    const { ns, producer } = cluster;
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    const perKey = 150;
    const log: { key: string; seq: number; member: string }[] = [];
    const member = (name: string) => {
      const c = new PushConsumer({ namesrvAddr: ns.addr, group: "orderly", instanceName: name, ...FAST });
      c.subscribe("Orders").registerOrderlyListener(async (msgs) => {
        const [key, seq] = text(msgs[0]).split(":");
        // Fail now and then: the queue pauses and the same message comes again, still in order.
        if (Number(seq) % 37 === 5 && msgs[0].reconsumeTimes === 0) return "SUSPEND_CURRENT_QUEUE_A_MOMENT";
        if (Number(seq) % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        log.push({ key, seq: Number(seq), member: name });
        return "SUCCESS";
      });
      return c;
    };
    let sent = 0;
    const sending = (async () => {
      for (let seq = 0; seq < perKey; seq++) {
        for (const key of keys) await producer.send({ topic: "Orders", body: `${key}:${seq}`, keys: key }, selectByHash, key);
        sent = seq;
      }
    })();
    const a = member("a");
    await a.start();
    await waitFor(() => log.length > 200, { what: "a to consume some" });
    const b = member("b");
    await b.start();
    await waitFor(() => b.assignment().some((q) => q.topic === "Orders") && log.some((e) => e.member === "b"), { timeoutMs: 20_000, what: "b to take queues and consume" });
    await sending;
    await waitFor(() => new Set(log.map((e) => `${e.key}:${e.seq}`)).size === keys.length * perKey, { timeoutMs: 30_000, what: "every message" });
    let duplicates = 0;
    for (const key of keys) {
      const seqs = log.filter((e) => e.key === key).map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) {
        assert.ok(seqs[i] >= seqs[i - 1], `${key}: ${seqs[i]} came after ${seqs[i - 1]}`);
        if (seqs[i] === seqs[i - 1]) duplicates++;
      }
    }
    console.log(`orderly: ${log.length} consumed, ${duplicates} duplicates, members ${JSON.stringify(Object.fromEntries(["a", "b"].map((m) => [m, log.filter((e) => e.member === m).length])))}; sent through seq ${sent}`);
    assert.ok(log.some((e) => e.member === "a") && log.some((e) => e.member === "b"));
    await a.shutdown();
    await b.shutdown();
    await producer.shutdown();
  }, 90_000);

  test("a slow listener with 1,000,000 messages waiting: pulling stops at the thresholds, memory stays bounded", async () => {
    await using cluster = await startCluster({ brokers: [{ commitLogSegmentBytes: 256 * 1024 * 1024 }], topics: { Backlog: 4 } });
    const { ns, broker, producer } = cluster;
    const total = 1_000_000;
    const batch = Array.from({ length: 500 }, (_, i) => ({ topic: "Backlog", body: `backlog-message-${i}`.padEnd(64, ".") }));
    for (let sent = 0; sent < total; sent += batch.length * 8) {
      await Promise.all(Array.from({ length: 8 }, () => producer.sendBatch(batch)));
    }
    const perQueue = await Promise.all([0, 1, 2, 3].map((q) => broker.store.maxOffset("Backlog", q)));
    assert.equal(perQueue.reduce((a, b) => a + b, 0), total);
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let calls = 0;
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "slow", ...FAST, consumeConcurrency: 2 });
    c.subscribe("Backlog").registerMessageListener(async () => {
      calls++;
      await gate; // a listener stuck on its first messages
    });
    await c.start();
    await waitFor(() => c.stats().flowControlPauses > 40, { timeoutMs: 20_000, what: "flow control to engage" });
    const pullsAtPause = c.stats().pulls;
    await waitFor(() => c.stats().flowControlPauses > 200, { timeoutMs: 20_000, what: "flow control to keep pausing" });
    const s = c.stats();
    console.log(`backlog: ${s.cachedMessages} messages (${s.cachedBytes} bytes) cached over ${s.queues.length} queues, ${s.pulls} pulls, ${s.flowControlPauses} pauses`);
    assert.ok(s.pulls <= pullsAtPause + 4, `pulls went on while paused: ${pullsAtPause} → ${s.pulls}`);
    for (const q of s.queues.filter((q) => q.mq.topic === "Backlog")) {
      assert.ok(q.cachedMessages <= 1000 + 32, `queue ${q.mq.queueId} caches ${q.cachedMessages}`);
      assert.ok(q.cachedMessages > 900, `queue ${q.mq.queueId} filled to its threshold (${q.cachedMessages})`);
    }
    assert.equal(calls, 2, "only consumeConcurrency listener calls are in progress");
    release();
    await waitFor(() => c.stats().consumed > 10_000, { timeoutMs: 20_000, what: "consumption to resume" });
    await c.shutdown();
    await producer.shutdown();
  }, 120_000);

  test("size and span thresholds pause pulling too", async () => {
    await using cluster = await startCluster({ topics: { Big: 1, Span: 1 }, producerOptions: { compressMsgBodyOverHowmuch: 1024 * 1024 } });
    const { ns, producer } = cluster;
    const big = new Uint8Array(64 * 1024).fill(7);
    for (let i = 0; i < 40; i++) await producer.send({ topic: "Big", body: big });
    for (let i = 0; i < 3000; i += 500) await producer.sendBatch(Array.from({ length: 500 }, (_, j) => ({ topic: "Span", body: `s-${i + j}` })));
    const bySize = new PushConsumer({ namesrvAddr: ns.addr, group: "by-size", ...FAST, shutdownGraceMs: 10, pullThresholdSizeForQueueMiB: 1, pullBatchSize: 4 });
    bySize.subscribe("Big").registerMessageListener(() => new Promise(() => {}));
    await bySize.start();
    await waitFor(() => bySize.stats().flowControlPauses > 20, { what: "the size threshold to pause pulls" });
    const sized = bySize.stats().queues.find((q) => q.mq.topic === "Big")!;
    assert.ok(sized.cachedBytes > 1024 * 1024 && sized.cachedBytes <= 1024 * 1024 + 4 * big.byteLength, `cached ${sized.cachedBytes} bytes`);
    // Span: the first message never finishes, the rest do; the offset span grows to 2000 and pulling stops.
    const bySpan = new PushConsumer({ namesrvAddr: ns.addr, group: "by-span", ...FAST, shutdownGraceMs: 10, consumeConcurrentlyMaxSpan: 2000 });
    bySpan.subscribe("Span").registerMessageListener((msgs) => msgs[0].queueOffset === 0 ? new Promise(() => {}) : undefined);
    await bySpan.start();
    await waitFor(() => bySpan.stats().flowControlPauses > 20, { what: "the span threshold to pause pulls" });
    const spanned = bySpan.stats().queues.find((q) => q.mq.topic === "Span")!;
    assert.ok(spanned.span > 2000 && spanned.span <= 2000 + 32, `span ${spanned.span}`);
    assert.ok(spanned.cachedMessages < 100, `few messages are cached (${spanned.cachedMessages}): the span, not the count, stopped pulling`);
    await bySize.shutdown();
    await bySpan.shutdown();
    await producer.shutdown();
  }, 60_000);

  test("broadcasting delivers every message to every member and keeps offsets locally", async () => {
    await using cluster = await startCluster({ topics: { News: 4 } });
    const { ns, producer } = cluster;
    const dir = { path: cluster.dir };
    for (let i = 0; i < 60; i++) await producer.send({ topic: "News", body: `n-${i}` });
    const member = (name: string, into: string[]) => {
      const c = new PushConsumer({ namesrvAddr: ns.addr, group: "readers", messageModel: "BROADCASTING", instanceName: name, offsetStoreDir: join(dir.path, "offsets"), ...FAST });
      c.subscribe("News").registerMessageListener((msgs) => void into.push(...msgs.map(text)));
      return c;
    };
    const gotA: string[] = [];
    const gotB: string[] = [];
    const a = member("a", gotA);
    const b = member("b", gotB);
    await a.start();
    await b.start();
    await waitFor(() => gotA.length === 60 && gotB.length === 60, { what: "both members to get all 60" });
    assert.equal(a.assignment().length, 4);
    assert.equal(b.assignment().length, 4);
    await a.shutdown();
    // Restarted, member a resumes from its local offsets: it sees only what is new.
    for (let i = 60; i < 70; i++) await producer.send({ topic: "News", body: `n-${i}` });
    const again: string[] = [];
    const a2 = member("a", again);
    await a2.start();
    await waitFor(() => again.length === 10 && gotB.length === 70, { what: "the ten new messages" });
    assert.deepEqual(again.sort(), Array.from({ length: 10 }, (_, i) => `n-${60 + i}`).sort());
    await a2.shutdown();
    await b.shutdown();
    await producer.shutdown();
  });

  test("tag and SQL92 filters deliver exactly the matching messages; members that disagree are reported", async () => {
    const warnings: string[] = [];
    await using cluster = await startCluster({ brokers: [{ log: createLogger("broker", "warn", (l) => warnings.push(l)) }], topics: { Events: 4 } });
    const { ns, broker, producer } = cluster;
    const all: { body: string; tags: string; n: number; region: string }[] = [];
    for (let i = 0; i < 120; i++) {
      const e = { body: `e-${i}`, tags: ["A", "B", "C"][i % 3], n: i % 10, region: i % 4 === 0 ? "eu" : "us" };
      all.push(e);
      await producer.send({ topic: "Events", body: e.body, tags: e.tags, properties: { n: String(e.n), region: e.region } });
    }
    const consume = (group: string, expr: string, type: "TAG" | "SQL92", into: string[], instanceName?: string) => {
      const c = new PushConsumer({ namesrvAddr: ns.addr, group, instanceName, ...FAST });
      c.subscribe("Events", expr, type).registerMessageListener((msgs) => void into.push(...msgs.map(text)));
      return c;
    };
    const byTag: string[] = [];
    const bySql: string[] = [];
    const tagged = consume("tagged", "A || B", "TAG", byTag);
    const sql = consume("sql", "n >= 5 AND region = 'eu'", "SQL92", bySql);
    await tagged.start();
    await sql.start();
    const wantTag = all.filter((e) => e.tags !== "C").map((e) => e.body).sort();
    const wantSql = all.filter((e) => e.n >= 5 && e.region === "eu").map((e) => e.body).sort();
    await waitFor(() => byTag.length >= wantTag.length && bySql.length >= wantSql.length, { what: "the matching messages" });
    await producer.send({ topic: "Events", body: "last", tags: "A", properties: { n: "9", region: "eu" } });
    await waitFor(() => byTag.includes("last") && bySql.includes("last"), { what: "a final match to both" });
    assert.deepEqual(byTag.filter((b) => b !== "last").sort(), wantTag);
    assert.deepEqual(bySql.filter((b) => b !== "last").sort(), wantSql);
    // A bad expression is refused at subscribe time, naming where it fails.
    assert.throws(() => new PushConsumer({ namesrvAddr: ns.addr, group: "bad" }).subscribe("Events", "n >>= 5", "SQL92"), SubscriptionParseError);
    // A second member of "tagged" in this process needs an instance of its own (as in RocketMQ).
    const twin = consume("tagged", "C", "TAG", []);
    await assert.rejects(twin.start(), /consumer of group tagged already runs in client instance .*another instanceName/);
    await twin.shutdown();
    // A member of "tagged" subscribing differently: the broker warns and its admin view says so.
    const odd = consume("tagged", "C", "TAG", [], "odd");
    await odd.start();
    const admin = new RemotingClient();
    const view = await waitFor(async () => {
      const r = await admin.invoke(broker.addr, createRequest(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: "tagged" }));
      const v = r.code === ResponseCode.SUCCESS ? decodeBody<{ members: unknown[]; subscriptionsConsistent: boolean }>(r.body, r.serializeType, "view") : undefined;
      return v && v.members.length === 2 ? v : undefined;
    }, { what: "both members in the view" });
    assert.equal(view.subscriptionsConsistent, false);
    assert.ok(warnings.some((w) => w.includes("tagged") && w.includes("different subscriptions")), warnings.join("\n"));
    const none = await admin.invoke(broker.addr, createRequest(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: "nobody" }));
    assert.equal(none.code, ResponseCode.CONSUMER_NOT_ONLINE);
    admin.close();
    await odd.shutdown();
    await tagged.shutdown();
    await sql.shutdown();
    await producer.shutdown();
  });

  test("the async-iterator form hands out messages one by one and acknowledges each on the next", async () => {
    await using cluster = await startCluster({ topics: { Iter: 2 } });
    const { ns, broker, producer } = cluster;
    for (let i = 0; i < 30; i++) await producer.send({ topic: "Iter", body: `i-${i}` });
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "iter", ...FAST });
    c.subscribe("Iter");
    const it = c.messages();
    await c.start();
    const got: string[] = [];
    for await (const m of it) {
      got.push(text(m));
      if (got.length === 30) break;
    }
    assert.deepEqual(got.sort(), Array.from({ length: 30 }, (_, i) => `i-${i}`).sort());
    // 29 were acknowledged by asking for the next; the 30th was in hand when the loop left.
    await waitFor(() => c.stats().consumed === 29, { what: "29 acknowledged" });
    await c.shutdown();
    const again: string[] = [];
    const c2 = new PushConsumer({ namesrvAddr: ns.addr, group: "iter", ...FAST });
    c2.subscribe("Iter").registerMessageListener((msgs) => void again.push(...msgs.map(text)));
    await c2.start();
    await waitFor(() => again.length >= 1, { what: "the unacknowledged message to come again" });
    const ends = await Promise.all([0, 1].map((q) => broker.store.maxOffset("Iter", q)));
    await waitFor(() => c2.stats().queues.filter((q) => q.mq.topic === "Iter").every((q) => q.nextOffset === ends[q.mq.queueId]), { what: "c2 to pull both queues to their ends" });
    await waitFor(() => c2.stats().cachedMessages === 0, { what: "c2 to consume what it pulled" });
    assert.ok(again.length <= 20, `at most the messages above the lowest unacknowledged one come again (${again.length})`);
    await c2.shutdown();
    await producer.shutdown();
  });

  test("bad options and bad send-backs get clear errors", async () => {
    await using cluster = await startCluster({ producerGroup: false });
    const { ns, broker } = cluster;
    assert.throws(() => new PushConsumer({ namesrvAddr: ns.addr, group: "bad group" }), /Group name/);
    assert.throws(() => new PushConsumer({ namesrvAddr: ns.addr, group: "g", pullBatchSize: 0 }), /pullBatchSize/);
    assert.throws(() => new PushConsumer({ namesrvAddr: ns.addr, group: "g", consumeFromWhere: "middle" as "first" }), /consumeFromWhere/);
    const c = new PushConsumer({ namesrvAddr: ns.addr, group: "g" });
    await assert.rejects(c.start(), /listener/);
    assert.throws(() => c.subscribe("bad topic"), /Topic name/);
    const raw = new RemotingClient();
    const r1 = await raw.invoke(broker.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: "g", offset: 123456789, delayLevel: 0 }));
    assert.equal(r1.code, ResponseCode.SYSTEM_ERROR);
    assert.match(r1.remark ?? "", /offset/);
    const r2 = await raw.invoke(broker.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: "bad group", offset: 0 }));
    assert.equal(r2.code, ResponseCode.INVALID_PARAMETER);
    const r3 = await raw.invoke(broker.addr, createRequest(RequestCode.HEART_BEAT, undefined, encodeBody({ clientID: "x", consumerDataSet: [{ nope: 1 }] })));
    assert.equal(r3.code, ResponseCode.INVALID_PARAMETER);
    raw.close();
    await c.shutdown();
  });

  test("a delayed retry survives a broker restart and is delivered once", async () => {
    const levels = { messageDelayLevel: Array(18).fill("400ms").join(" "), flushDelayOffsetInterval: 50 };
    await using cluster = await startCluster({ brokers: [levels] });
    const { producer } = cluster;
    let broker = cluster.broker;
    const sent = await producer.send({ topic: "Later", body: "retry-me" });
    const raw = new RemotingClient();
    const offset = parseOffsetMsgId(sent.offsetMsgId).offset;
    const back = await raw.invoke(broker.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: "g", offset, delayLevel: 0 }));
    assert.equal(back.code, ResponseCode.SUCCESS);
    await broker.shutdown(1000); // before the retry is due
    assert.equal(broker.store.maxOffset("%RETRY%g", 0), 0);
    broker = await cluster.restart(0);
    await waitFor(() => broker.store.maxOffset("%RETRY%g", 0) === 1, { what: "the retry to be delivered after the restart" });
    const [delivered] = broker.store.getMessage("%RETRY%g", 0, 0, 1).messages;
    assert.ok(delivered);
    await waitFor(() => broker.runtimeInfo().scheduledPending.split(",").every((n) => n === "0"), { what: "the schedule to be empty" });
    await broker.shutdown(1000);
    // Its progress was persisted: a second restart does not deliver it again.
    broker = await cluster.restart(0);
    await waitFor(() => broker.runtimeInfo().scheduledPending.split(",").every((n) => n === "0"), { what: "nothing pending after restart" });
    assert.equal(broker.store.maxOffset("%RETRY%g", 0), 1);
    raw.close();
  });
});
