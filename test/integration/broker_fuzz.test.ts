import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { BATCH_SIZES, cborx, frame, mutate, randomValue, rssMiB, sendBatch, SENTINEL_OPAQUE } from "../harness/fuzz.ts";
import { Child, runtimeBinary } from "../harness/process.ts";
import { Prng } from "../harness/prng.ts";
import { createTopic, startNameServer } from "../harness/servers.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import type { BrokerContext } from "../../src/broker/broker_context.ts";
import { PROCESSORS } from "../../src/broker/processor/processors.ts";
import { Producer } from "../../src/client/producer.ts";
import { Limits } from "../../src/common/limits.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { encodeFrameBytes } from "../../src/protocol/frame_codec.ts";
import { encodeBatch } from "../../src/protocol/message_batch.ts";
import type { RemotingCommand } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import { concatBytes } from "../../src/util/bytes.ts";

const FRAMES = 200_000;
const WORKERS = 16;
/** Messages stored before the fuzz, read back after it. */
const CHECKED = 300;
/** The broker's default budgets: incomplete frames and unread answers, over all connections. */
const BUDGET_MIB = (Limits.maxBufferedFrameBytesTotal + Limits.maxWriteBacklogBytesTotal) / 1024 / 1024;

/** Every request code the broker serves, read off its processors (a new processor is fuzzed without a change here). */
const SERVED: number[] = PROCESSORS.flatMap((p) => p(new Proxy({}, { get: () => undefined }) as BrokerContext).map((e) => e.code));

// Values a field may get: plausible ones, the broker's own names, and wrong ones. None names
// the checked topic or group, so what the fuzz does cannot touch what is checked after it.
const TOPICS = ["FuzzT", "FuzzT2", "", "bad topic", "TBW102", "SCHEDULE_TOPIC_XXXX", "rmq_sys_wheel_timer", "RMQ_SYS_TRANS_HALF_TOPIC", "%RETRY%fuzz-g", "%DLQ%fuzz-g", "t".repeat(300)];
const GROUPS = ["fuzz-g", "fuzz-p", "", "bad group", "%RETRY%fuzz-g", "CID_RMQ_SYS"];
const NUMBERS = [0, 1, 3, 4, -1, 7, 1024, 2 ** 31, -(2 ** 31), 2 ** 53, 1e300, 1.5, 12_000];
const FIELDS = [
  "topic", "queueId", "producerGroup", "consumerGroup", "group", "offset", "commitLogOffset", "maxMsgNums", "sysFlag",
  "commitOffset", "suspendTimeoutMillis", "subscription", "subVersion", "expressionType", "bornTimestamp", "flag",
  "properties", "reconsumeTimes", "batch", "defaultTopic", "defaultTopicQueueNums", "readQueueNums", "writeQueueNums",
  "perm", "topicFilterType", "order", "key", "maxNum", "beginTimestamp", "endTimestamp", "timestamp", "clientID",
  "tranStateTableOffset", "commitOrRollback", "fromTransactionCheck", "msgId", "transactionId", "delayLevel",
  "originMsgId", "originTopic", "unitMode", "maxReconsumeTimes", "uniqKey", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
];

const bigintAsString = (_k: string, v: unknown) => typeof v === "bigint" ? String(v) : v;

function fieldValue(r: Prng, name: string): unknown {
  if (r.int(8) === 0) return randomValue(r);
  if (/topic|^b$/i.test(name)) return r.pick(TOPICS);
  if (/group|^a$/i.test(name)) return r.pick(GROUPS);
  if (name === "subscription") return r.pick(["*", "a || b", "a > 5 AND b = 'x'", "NOT a", "((", "a IN (1, 2", ""]);
  if (name === "expressionType") return r.pick(["TAG", "SQL92", "XML", ""]);
  if (name === "properties" || name === "i") return r.pick(["", "TAGS\u0001t\u0002", "DELAY\u00012\u0002", "TIMER_DELAY_MS\u0001100\u0002", "REAL_TOPIC\u0001FuzzT2\u0002", "\u0001\u0002\u0001", "x".repeat(r.int(400))]);
  return r.int(4) === 0 ? String(r.pick(NUMBERS)) : r.pick(NUMBERS);
}

function randomBody(r: Prng): Uint8Array | undefined {
  switch (r.int(6)) {
    case 0: return undefined;
    case 1: return r.bytes(1 + r.int(300));
    case 2: return cborx.encode(randomValue(r));
    case 3: // a heartbeat, a lock request or a topic list of random shape
      return cborx.encode({
        clientID: r.pick(["fuzz-client", "", 5]),
        producerDataSet: r.int(3) === 0 ? randomValue(r) : [{ groupName: r.pick(GROUPS) }],
        consumerDataSet: r.int(3) === 0 ? randomValue(r) : [{ groupName: r.pick(GROUPS), consumeType: r.pick(["CONSUME_PASSIVELY", "x"]), messageModel: r.pick(["CLUSTERING", "BROADCASTING", 3]), subscriptionDataSet: r.int(2) ? randomValue(r) : [{ topic: r.pick(TOPICS), subString: r.pick(["*", "(("]), expressionType: "TAG" }] }],
        consumerGroup: r.pick(GROUPS),
        clientId: "fuzz-client",
        mqSet: r.int(3) === 0 ? randomValue(r) : [{ topic: r.pick(TOPICS), brokerName: "broker-a", queueId: r.pick(NUMBERS) }],
      });
    case 4: // a message batch, sometimes of many entries
      return encodeBatch(Array.from({ length: 1 + r.int(r.int(4) === 0 ? 200 : 4) }, () => ({ flag: 0, body: r.bytes(1 + r.int(100)), properties: new TextEncoder().encode(String(fieldValue(r, "properties"))) })));
    default: return new TextEncoder().encode(JSON.stringify(randomValue(r), bigintAsString));
  }
}

/**
 * A request for one of the codes served (sometimes another code), with random fields and body,
 * CBOR or JSON; `answered` says whether it expects an answer (not one-way, not marked a response).
 */
export function request(r: Prng): { bytes: Uint8Array; answered: boolean } {
  const flag = r.int(8) === 0 ? r.int(4) : 0;
  return { bytes: requestBytes(r, flag), answered: flag === 0 };
}

function requestBytes(r: Prng, flag: number): Uint8Array {
  const code = r.int(20) === 0 ? r.int(70_000) : r.pick(SERVED);
  const extFields: Record<string, unknown> = {};
  for (let n = r.int(10); n > 0; n--) {
    const name = r.pick(FIELDS);
    extFields[name] = fieldValue(r, name);
  }
  const cmd = { code, flag, opaque: 1 + r.int(1 << 30), extFields, body: randomBody(r) } as RemotingCommand;
  if (r.int(3) > 0) return encodeFrameBytes(cmd, SerializeType.CBOR);
  // RocketMQ's JSON header: extFields' values are strings there.
  const json = { code, flag: cmd.flag, opaque: cmd.opaque, language: "JAVA", version: 401, extFields: Object.fromEntries(Object.entries(extFields).map(([k, v]) => [k, r.int(6) === 0 ? v : String(v)])) };
  return frame(SerializeType.JSON, new TextEncoder().encode(JSON.stringify(json, bigintAsString)), cmd.body);
}


describe("broker under hostile input", () => {
  test(`survives ${FRAMES.toLocaleString()} random and mutated frames of every code it serves, within its memory budget, and loses nothing`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const r = new Prng(seed);
    using dir = tempDir();
    await using ns = await startNameServer();
    await using broker = new Child(runtimeBinary(), [
      "cli.ts", "broker", "--namesrvAddr", ns.addr, "--listenPort", "0", "--storePathRootDir", join(dir.path, "store"),
      "--log-level", "warn",
    ]);
    const addr = await broker.listenAddr(30_000);
    const port = Number(addr.split(":")[1]);

    // Messages stored before the fuzz: random bodies (no deflate), keys, tags.
    await createTopic(addr, "Checked", 4);
    const producer = new Producer({ namesrvAddr: ns.addr, group: "checked-p" });
    await producer.start();
    const bodies = new Map<string, string>();
    for (let i = 0; i < CHECKED; i++) {
      const body = Buffer.from(r.bytes(64 + r.int(2_000))).toString("base64");
      bodies.set(`k${i}`, body);
      await producer.send({ topic: "Checked", body, keys: `k${i}`, tags: `t${i % 3}` });
    }
    const baseline = rssMiB(broker.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMiB(broker.pid));
      } catch { /* exited: the assertion below says so */ }
    }, 50);

    const sentinel = encodeFrameBytes({ code: RequestCode.GET_BROKER_RUNTIME_INFO, flag: 0, opaque: SENTINEL_OPAQUE });
    let sent = 0;
    let batches = 0;
    let answered = 0;
    let wellFramed = 0;
    let answers = 0;
    const started = Date.now();
    try {
      await Promise.all(Array.from({ length: WORKERS }, async () => {
        while (sent < FRAMES) {
          // Well-framed requests of hostile content (each must get an answer), then half the
          // time one damaged frame (after which the broker may close), then the sentinel.
          const frames: Uint8Array[] = [];
          const n = r.pick(BATCH_SIZES);
          let asking = 0;
          for (let i = 0; i < n; i++) {
            const q = request(r);
            frames.push(q.bytes);
            if (q.answered) asking++;
          }
          const damaged = r.int(2) === 0;
          if (damaged) frames.push(mutate(r, request(r).bytes));
          sent += frames.length;
          batches++;
          frames.push(sentinel);
          const got = await sendBatch(port, concatBytes(frames));
          if (got.sentinelAnswered) answered++;
          // A damaged frame closes the connection, and answers still in progress go with it.
          if (!damaged) {
            wellFramed += asking + 1;
            answers += got.answers;
          }
        }
      }));
    } finally {
      clearInterval(sampler);
    }
    const elapsedS = (Date.now() - started) / 1000;

    assert.equal(broker.exitCode, null, `broker exited (seed ${seed}): ${broker.stderr}`);
    assert.equal(broker.signal, null, `broker killed (seed ${seed})`);
    assert.ok(sent >= FRAMES);
    // In batches with no damaged frame, every request that asks for an answer gets one (but
    // pulls still held when their client half-closed).
    assert.ok(answers >= wellFramed * 0.95, `${answers} answers to ${wellFramed} well-framed requests (seed ${seed})`);
    assert.ok(answered > batches / 4, `${answered} of ${batches} sentinels answered (seed ${seed})`);
    assert.doesNotMatch(broker.stderr, /unhandledRejection|uncaughtException|TypeError|RangeError/, `seed ${seed}`);
    assert.ok(peak - baseline <= BUDGET_MIB, `RSS grew ${(peak - baseline).toFixed(0)} MiB past ${baseline.toFixed(0)} MiB (seed ${seed})`);

    // A normal client still sends and consumes, and what was stored before is intact.
    await producer.send({ topic: "Checked", body: "after the fuzz", keys: "after" });
    const consumer = new PullConsumer({ namesrvAddr: ns.addr, group: "checked-c", consumeFromWhere: "first", brokerSuspendMaxTimeMs: 0 });
    await consumer.subscribe("Checked");
    const got = new Map<string, string>();
    await waitFor(async () => {
      for (const m of await consumer.poll(200, 256)) got.set(m.keys[0] ?? "", new TextDecoder().decode(m.body));
      return got.size >= CHECKED + 1;
    }, { what: "every message stored before, and the one after", timeoutMs: 30_000 });
    assert.equal(got.get("after"), "after the fuzz");
    got.delete("after");
    assert.deepEqual(got, bodies, "the messages stored before the fuzz read back byte for byte");
    await consumer.shutdown();
    await producer.shutdown();
    console.log(`broker fuzz: ${sent} frames (${answers} answers to the ${wellFramed} requests of undamaged batches) over ${SERVED.length} codes in ${batches} connections, ${answered} sentinels answered, RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MiB, ${elapsedS.toFixed(1)} s, seed ${seed}`);
  }, 240_000);
});
