import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "../harness/testing.ts";
import { waitFor } from "../harness/wait.ts";
import { BolideProcesses } from "./_bolide.ts";
import { clientLog, clientOptions, createTopic, message, type OnsMessage, startConsumer, startProducer } from "./_ons.ts";

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
      await c.close();
      await p.close();
    }
  }, 90_000);
});
