import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "../harness/testing.ts";
import { waitFor } from "../harness/wait.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { BolideProcesses } from "./_bolide.ts";
import { JsonRemoting } from "./_json_client.ts";
import { clientLog, clientOptions, closeClient, createTopic, message, type OnsMessage, type OnsProducer, startConsumer, startProducer } from "./_ons.ts";

/** What a test sent, by msgId, to check what arrives against. */
interface Sent {
  tags: string;
  keys: string[];
  properties: Record<string, string>;
  body: Buffer;
}

/** Message `i` of a mixed stream: tags or none, one or two keys, non-ASCII properties, text, binary and deflated bodies. */
function mixed(topic: string, i: number): { msg: OnsMessage; sent: Omit<Sent, "tags"> & { tags: string | undefined } } {
  const kind = i % 5;
  const body = kind === 0 ? Buffer.from(`text ${i}`)
    : kind === 1 ? randomBytes(1 + (i % 300)) // binary, any byte
    : kind === 2 ? Buffer.from(`${i} `.repeat(1500)) // ≥ 4 KiB: the client deflates it (sysFlag bit 0)
    : kind === 3 ? Buffer.from(`ünïcödé 消息 ${i} 🚀`)
    : Buffer.from([0, 255, 0, i & 255, 1, 2]); // bytes that look like the properties' separators
  const tags = kind === 1 ? undefined : `Tag${kind}`;
  const keys = i % 2 ? [`k${i}`] : [`k${i}`, `order-${i >> 1}`];
  const properties: Record<string, string> = { seq: String(i), "prop-ü": `värde ${i} 值` };
  const msg = message(topic, tags, body);
  msg.keys = keys;
  Object.assign(msg.properties, properties);
  return { msg, sent: { tags, keys, properties, body } };
}

/** waitFor, with the clients' last log lines in the failure. */
async function waitUntil(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  try {
    await waitFor(check, { timeoutMs, what: "a condition" });
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms: ${what()}; client log:\n${clientLog.slice(-20).join("\n")}`);
  }
}

describe("ali-ons 3.12, unmodified, against Bolide processes", () => {
  test("1,000 mixed messages arrive as sent, with the producer's msgIds", async () => {
    await using bolide = await BolideProcesses.start();
    const opts = clientOptions(bolide.namesrvAddr, "mixed");
    const p = await startProducer({ ...opts, producerGroup: "CompatP" });
    await createTopic(p, bolide.brokerAddr, "CompatMixed");
    const sent = new Map<string, Sent>();
    const N = 1_000;
    for (let i = 0; i < N; i++) {
      const { msg, sent: s } = mixed("CompatMixed", i);
      const r = await p.send(msg);
      assert.equal(r.sendStatus, "SEND_OK");
      assert.match(r.msgId, /^[0-9A-F]{32}$/);
      // ali-ons sends a missing tag as the text it has ("undefined"); RocketMQ stores it as sent.
      sent.set(r.msgId, { ...s, tags: s.tags ?? "undefined" });
    }
    const got = new Map<string, OnsMessage>();
    const c = await startConsumer({ ...opts, consumerGroup: "CompatMixedC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [
      ["CompatMixed", "*", async (m) => void got.set(m.msgId, m)],
    ]);
    try {
      await waitUntil(() => got.size >= N, 30_000, () => `${got.size} of ${N} consumed`);
      for (const [id, s] of sent) {
        const m = got.get(id);
        assert.ok(m, `msgId ${id} sent but not consumed under that id`);
        assert.equal(m.topic, "CompatMixed");
        assert.equal(m.tags, s.tags, id);
        assert.deepEqual(typeof m.keys === "string" ? m.keys.split(" ") : m.keys, s.keys, id);
        for (const [k, v] of Object.entries(s.properties)) assert.equal(m.properties[k], v, `${id} property ${k}`);
        assert.deepEqual(Buffer.from(m.body), s.body, `${id} body`);
      }
    } finally {
      await closeClient(c);
      await closeClient(p);
    }
  }, 90_000);
});

/** Sends `n` plain messages numbered from `from`; their msgIds (failed sends are left out when `tolerant`). */
async function sendNumbered(p: OnsProducer, topic: string, from: number, n: number, tolerant = false): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = from; i < from + n; i++) {
    try {
      const r = await p.send(message(topic, "T", `n${i}`));
      ids.set(r.msgId, i);
    } catch (err) {
      if (!tolerant) throw err;
    }
  }
  return ids;
}

describe("ali-ons 3.12 consumers against Bolide processes", () => {
  test("two clients of one group split the queues; when one leaves, the other takes its queues", async () => {
    await using bolide = await BolideProcesses.start();
    const p = await startProducer({ ...clientOptions(bolide.namesrvAddr, "balP"), producerGroup: "BalP" });
    await createTopic(p, bolide.brokerAddr, "CompatBalance");
    const byClient = { a: new Map<string, OnsMessage>(), b: new Map<string, OnsMessage>() };
    const group = { consumerGroup: "BalC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" };
    const a = await startConsumer({ ...clientOptions(bolide.namesrvAddr, "balA"), ...group }, [["CompatBalance", "*", async (m) => void byClient.a.set(m.msgId, m)]]);
    const b = await startConsumer({ ...clientOptions(bolide.namesrvAddr, "balB"), ...group }, [["CompatBalance", "*", async (m) => void byClient.b.set(m.msgId, m)]]);
    const sent = new Map<string, number>();
    try {
      // Until both members have consumed (the second gets its queues at its first rebalance).
      let next = 0;
      await waitUntil(() => {
        if (byClient.a.size > 0 && byClient.b.size > 0) return true;
        void sendNumbered(p, "CompatBalance", next, 8).then((ids) => ids.forEach((v, k) => sent.set(k, v)));
        next += 8;
        return false;
      }, 30_000, () => `a ${byClient.a.size}, b ${byClient.b.size}`);
      await waitUntil(() => [...sent.keys()].every((id) => byClient.a.has(id) || byClient.b.has(id)), 20_000, () => "all sent consumed by one of the two");
      // Each queue is owned by one member at a time: the two saw different queues.
      const queuesOf = (m: Map<string, OnsMessage>) => new Set([...m.values()].map((x) => x.queueId));
      const qa = queuesOf(byClient.a), qb = queuesOf(byClient.b);
      assert.ok(qa.size > 0 && qb.size > 0, `queues a ${[...qa]} b ${[...qb]}`);
      await closeClient(b); // persists its offsets, then UNREGISTER_CLIENT
      const after = await sendNumbered(p, "CompatBalance", 10_000, 40);
      await waitUntil(() => [...after.keys()].every((id) => byClient.a.has(id)), 20_000, () => "a consumed everything sent after b left");
      assert.deepEqual([...new Set([...after.keys()].map((id) => byClient.a.get(id)!.queueId))].sort(), [0, 1, 2, 3]);
    } finally {
      await closeClient(a);
      await closeClient(p);
    }
  }, 90_000);

  test("a message whose handler throws comes back through %RETRY%<group> and is consumed the second time", async () => {
    // Delay level 3 (the first retry's) made 1 s instead of 10 s.
    await using bolide = await BolideProcesses.start(["--messageDelayLevel", "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"]);
    const opts = clientOptions(bolide.namesrvAddr, "retry");
    const p = await startProducer({ ...opts, producerGroup: "RetryP" });
    await createTopic(p, bolide.brokerAddr, "CompatRetry");
    const sent = await sendNumbered(p, "CompatRetry", 0, 20);
    const first = new Map<string, OnsMessage>();
    const second = new Map<string, OnsMessage>();
    const c = await startConsumer({ ...opts, consumerGroup: "RetryC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [
      ["CompatRetry", "*", async (m) => {
        const body = Buffer.from(m.body).toString();
        if (m.reconsumeTimes === 0) {
          first.set(body, m);
          throw new Error(`failing ${body} once`);
        }
        second.set(body, m);
      }],
    ]);
    try {
      await waitUntil(() => second.size >= sent.size, 30_000, () => `${first.size} failed once, ${second.size} retried`);
      for (const [id, i] of sent) {
        const m = second.get(`n${i}`)!;
        assert.equal(first.get(`n${i}`)!.msgId, id);
        assert.equal(m.topic, "CompatRetry", "the client restores the topic from RETRY_TOPIC");
        assert.equal(m.reconsumeTimes, 1);
        assert.equal(m.properties.ORIGIN_MESSAGE_ID, id);
        assert.notEqual(m.msgId, id, "the retry is a new record in %RETRY%RetryC");
      }
      // Through CONSUMER_SEND_MSG_BACK, not the client's fallback (a plain send to the retry topic).
      assert.equal(clientLog.filter((l) => l.includes("fallback to local retry")).length, 0, clientLog.join("\n"));
    } finally {
      await closeClient(c);
      await closeClient(p);
    }
  }, 60_000);

  test("broadcasting: every member of the group gets every message", async () => {
    await using bolide = await BolideProcesses.start();
    const p = await startProducer({ ...clientOptions(bolide.namesrvAddr, "bcP"), producerGroup: "BcP" });
    await createTopic(p, bolide.brokerAddr, "CompatBroadcast");
    const got = [new Set<string>(), new Set<string>()];
    const members = [];
    for (const i of [0, 1]) {
      members.push(await startConsumer({ ...clientOptions(bolide.namesrvAddr, `bc${i}`), consumerGroup: "BcC", isBroadcast: true, consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [
        ["CompatBroadcast", "*", async (m) => void got[i].add(m.msgId)],
      ]));
    }
    try {
      const sent = await sendNumbered(p, "CompatBroadcast", 0, 50);
      await waitUntil(() => got.every((g) => [...sent.keys()].every((id) => g.has(id))), 20_000, () => `got ${got[0].size} and ${got[1].size} of ${sent.size}`);
    } finally {
      for (const m of members) await closeClient(m);
      await closeClient(p);
    }
  }, 60_000);

  test("committed offsets survive the consumer: a new member resumes after what the last one consumed", async () => {
    await using bolide = await BolideProcesses.start();
    const opts = clientOptions(bolide.namesrvAddr, "offsets");
    const p = await startProducer({ ...opts, producerGroup: "OffP" });
    await createTopic(p, bolide.brokerAddr, "CompatOffsets");
    const before = await sendNumbered(p, "CompatOffsets", 0, 100);
    const seen1 = new Set<string>();
    const c1 = await startConsumer({ ...opts, consumerGroup: "OffC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [["CompatOffsets", "*", async (m) => void seen1.add(m.msgId)]]);
    await waitUntil(() => seen1.size >= before.size, 20_000, () => `${seen1.size} of ${before.size}`);
    await closeClient(c1); // commits, then UNREGISTER_CLIENT: close() rejects if either is refused
    const after = await sendNumbered(p, "CompatOffsets", 100, 50);
    const seen2 = new Set<string>();
    const c2 = await startConsumer({ ...clientOptions(bolide.namesrvAddr, "offsets2"), consumerGroup: "OffC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [["CompatOffsets", "*", async (m) => void seen2.add(m.msgId)]]);
    try {
      await waitUntil(() => [...after.keys()].every((id) => seen2.has(id)), 20_000, () => `${seen2.size} of ${after.size}`);
      assert.deepEqual([...seen2].filter((id) => before.has(id)), [], "nothing consumed before the restart of the group comes again");
    } finally {
      await closeClient(c2);
      await closeClient(p);
    }
  }, 60_000);

  test("a broker restart in the middle of a stream: every acknowledged message is consumed", async () => {
    await using bolide = await BolideProcesses.start();
    const opts = clientOptions(bolide.namesrvAddr, "restart");
    const p = await startProducer({ ...opts, producerGroup: "RestartP" });
    await createTopic(p, bolide.brokerAddr, "CompatRestart");
    const got = new Set<string>();
    const c = await startConsumer({ ...opts, consumerGroup: "RestartC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [["CompatRestart", "*", async (m) => void got.add(m.msgId)]]);
    try {
      const acked = await sendNumbered(p, "CompatRestart", 0, 100);
      await bolide.restartBroker();
      // Sends fail until the client reconnects (one broker: nothing to fail over to).
      for (let i = 100; acked.size < 200; i++) (await sendNumbered(p, "CompatRestart", i, 1, true)).forEach((v, k) => acked.set(k, v));
      await waitUntil(() => [...acked.keys()].every((id) => got.has(id)), 30_000, () => `${[...acked.keys()].filter((id) => got.has(id)).length} of ${acked.size} acknowledged consumed`);
    } finally {
      await closeClient(c);
      await closeClient(p);
    }
  }, 90_000);

  test("the broker's own requests reach ali-ons in JSON: GET_CONSUMER_RUNNING_INFO is dropped by the client, answered SYSTEM_ERROR to the asker, and the client keeps consuming", async () => {
    await using bolide = await BolideProcesses.start();
    const opts = clientOptions(bolide.namesrvAddr, "asked");
    const p = await startProducer({ ...opts, producerGroup: "AskedP" });
    await createTopic(p, bolide.brokerAddr, "CompatAsked");
    const got = new Set<string>();
    const c = await startConsumer({ ...opts, consumerGroup: "AskedC", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET" }, [["CompatAsked", "*", async (m) => void got.add(m.msgId)]]);
    const admin = await JsonRemoting.connect(bolide.brokerAddr);
    try {
      const first = await sendNumbered(p, "CompatAsked", 0, 5);
      await waitUntil(() => [...first.keys()].every((id) => got.has(id)), 20_000, () => `${got.size} of 5`);
      const a = await admin.request(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: "AskedC", clientId: "127.0.0.1@asked" }, undefined, 0, 15_000);
      assert.equal(a.header.code, ResponseCode.SYSTEM_ERROR, a.header.remark);
      assert.match(String(a.header.remark), /did not answer/);
      const after = await sendNumbered(p, "CompatAsked", 5, 5);
      await waitUntil(() => [...after.keys()].every((id) => got.has(id)), 20_000, () => "consumed after the broker's request");
      assert.equal(clientLog.filter((l) => /JSON|Unexpected token/.test(l)).length, 0, clientLog.join("\n"));
    } finally {
      admin.close();
      await closeClient(c);
      await closeClient(p);
    }
  }, 60_000);
});
