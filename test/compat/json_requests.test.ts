import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import type { BrokerContext } from "../../src/broker/broker_context.ts";
import { PROCESSORS } from "../../src/broker/processor/processors.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { encodeFrameBytes, FrameDecoder } from "../../src/protocol/frame_codec.ts";
import { encodeBatch } from "../../src/protocol/message_batch.ts";
import type { RemotingCommand } from "../../src/protocol/remoting_command.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import { ResetOffsetBody } from "../../src/protocol/bodies/stats_bodies.ts";
import net from "node:net";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { JsonRemoting, type RawAnswer } from "./_json_client.ts";

/** Every request code the broker serves, read off its processors: a new one fails this file until it has an entry below. */
const SERVED: number[] = PROCESSORS.flatMap((p) => p(new Proxy({}, { get: () => undefined }) as BrokerContext).map((e) => e.code));

/** The ACL fields an ONS client adds to every request; served while there is no ACL. */
const ACL = { AccessKey: "ak", OnsChannel: "ALIYUN", Signature: "c2lnbmF0dXJl" };

const T = "JsonT";
const G = "JsonG";
const CLIENT = "127.0.0.1@json";
const props = (p: Record<string, string>) => Object.entries(p).map(([k, v]) => `${k}\u0001${v}\u0002`).join("");
const utf8 = (s: string) => new TextEncoder().encode(s);

interface Entry {
  code: number;
  /** Header fields as a Java client sends them (strings). */
  ext: Record<string, unknown>;
  body?: Uint8Array;
  /** The codes a well-formed answer may have (SUCCESS by default). */
  codes?: number[];
  /** Checks of the answer beyond its form: a JSON body's shape, header fields. */
  check?(a: RawAnswer, body: unknown): void;
}

/** One request per served code, in an order where each finds what it needs (a stored message, a member). */
function entries(stored: { offset: string; msgId: string }): Entry[] {
  const hb = { clientID: CLIENT, producerDataSet: [{ groupName: "JsonP" }], consumerDataSet: [{ groupName: G, consumeType: "CONSUME_PASSIVELY", messageModel: "CLUSTERING", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET", subscriptionDataSet: [{ topic: T, subString: "A || B", classFilterMode: false, tagsSet: ["A", "B"], codeSet: [65, 66], subVersion: 1 }], unitMode: false }] };
  const mq = { topic: T, brokerName: "broker-a", queueId: 0 };
  return [
    { code: RequestCode.SEND_MESSAGE, ext: { producerGroup: "JsonP", topic: T, defaultTopic: "TBW102", defaultTopicQueueNums: "4", queueId: "0", sysFlag: "0", bornTimestamp: String(Date.now()), flag: "0", properties: props({ TAGS: "A", KEYS: "k1" }), reconsumeTimes: "0", unitMode: "false" }, body: utf8("v1"), check: (a) => assert.match(String(a.header.extFields?.msgId), /^[0-9A-F]{32}$/) },
    { code: RequestCode.SEND_MESSAGE_V2, ext: { a: "JsonP", b: T, c: "TBW102", d: "4", e: "2", f: "0", g: String(Date.now()), h: "0", i: props({ TAGS: "B" }), j: "0", k: "false" }, body: utf8("v2") },
    { code: RequestCode.SEND_BATCH_MESSAGE, ext: { a: "JsonP", b: T, c: "TBW102", d: "4", e: "3", f: "0", g: String(Date.now()), h: "0", i: "", j: "0", k: "false", m: "true" }, body: encodeBatch([{ flag: 0, body: utf8("b1"), properties: utf8(props({ TAGS: "A" })) }, { flag: 0, body: utf8("b2"), properties: new Uint8Array(0) }]) },
    { code: RequestCode.CANCEL_DELAYED_MESSAGE, ext: { topic: T, uniqKey: "00000000000000000000000000000000" }, codes: [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND, ResponseCode.NO_MESSAGE] },
    { code: RequestCode.HEART_BEAT, ext: {}, body: utf8(JSON.stringify(hb)) },
    { code: RequestCode.GET_CONSUMER_LIST_BY_GROUP, ext: { consumerGroup: G }, check: (_a, b) => assert.deepEqual(b, { consumerIdList: [CLIENT] }) },
    {
      code: RequestCode.GET_CONSUMER_CONNECTION_LIST, ext: { consumerGroup: G }, check: (_a, b) => {
        const c = b as { connectionSet: { clientId: string; language: string }[]; subscriptionTable: Record<string, { tagsSet: string[]; codeSet: number[] }>; messageModel: string; consumeFromWhere: string };
        assert.equal(c.connectionSet[0].clientId, CLIENT);
        assert.equal(c.connectionSet[0].language, "JAVA");
        assert.deepEqual(c.subscriptionTable[T].tagsSet, ["A", "B"]);
        assert.deepEqual(c.subscriptionTable[T].codeSet, [65, 66]); // Java's "A".hashCode()
        assert.equal(c.messageModel, "CLUSTERING");
        assert.equal(c.consumeFromWhere, "CONSUME_FROM_FIRST_OFFSET");
      },
    },
    {
      code: RequestCode.PULL_MESSAGE, ext: { consumerGroup: G, topic: T, queueId: "1", queueOffset: "0", maxMsgNums: "32", sysFlag: "4", commitOffset: "0", suspendTimeoutMillis: "0", subscription: "*", subVersion: "1" },
      check: (a) => {
        for (const f of ["nextBeginOffset", "minOffset", "maxOffset"]) assert.equal(typeof a.header.extFields?.[f], "string", f);
        assert.ok(a.body.length > 0);
      },
    },
    { code: RequestCode.QUERY_CONSUMER_OFFSET, ext: { topic: T, consumerGroup: G, queueId: "1" } },
    { code: RequestCode.UPDATE_CONSUMER_OFFSET, ext: { topic: T, consumerGroup: G, queueId: "1", commitOffset: "1" } },
    { code: RequestCode.GET_MAX_OFFSET, ext: { topic: T, queueId: "1" }, check: (a) => assert.equal(a.header.extFields?.offset, "1") },
    { code: RequestCode.GET_MIN_OFFSET, ext: { topic: T, queueId: "1" }, check: (a) => assert.equal(a.header.extFields?.offset, "0") },
    { code: RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, ext: { topic: T, queueId: "1", timestamp: String(Date.now() - 60_000) } },
    { code: RequestCode.GET_EARLIEST_MSG_STORETIME, ext: { topic: T, queueId: "1" } },
    { code: RequestCode.LOCK_BATCH_MQ, ext: {}, body: utf8(JSON.stringify({ consumerGroup: G, clientId: CLIENT, mqSet: [mq] })), check: (_a, b) => assert.deepEqual(b, { lockOKMQSet: [mq] }) },
    { code: RequestCode.UNLOCK_BATCH_MQ, ext: {}, body: utf8(JSON.stringify({ consumerGroup: G, clientId: CLIENT, mqSet: [mq] })) },
    { code: RequestCode.CONSUMER_SEND_MSG_BACK, ext: { offset: stored.offset, group: G, delayLevel: "0", originMsgId: stored.msgId, originTopic: T, unitMode: "false", maxReconsumeTimes: "16" } },
    { code: RequestCode.END_TRANSACTION, ext: { producerGroup: "JsonP", tranStateTableOffset: "0", commitLogOffset: stored.offset, commitOrRollback: "8", fromTransactionCheck: "false", msgId: stored.msgId, transactionId: "tx" }, codes: [ResponseCode.SUCCESS, ResponseCode.SYSTEM_ERROR, ResponseCode.INVALID_PARAMETER, ResponseCode.NO_MESSAGE] },
    { code: RequestCode.QUERY_MESSAGE, ext: { topic: T, key: "k1", maxNum: "32", beginTimestamp: "0", endTimestamp: String(Date.now() + 60_000) }, check: (a) => assert.ok(a.body.length > 0) },
    { code: RequestCode.VIEW_MESSAGE_BY_ID, ext: { offset: stored.offset }, check: (a) => assert.ok(a.body.length > 0) },
    { code: RequestCode.UPDATE_AND_CREATE_TOPIC, ext: { topic: "JsonNew", defaultTopic: "TBW102", readQueueNums: "2", writeQueueNums: "2", perm: "6", topicFilterType: "SINGLE_TAG", topicSysFlag: "0", order: "false" } },
    { code: RequestCode.GET_ALL_TOPIC_CONFIG, ext: {}, check: (_a, b) => assert.equal((b as { topicConfigTable: Record<string, { writeQueueNums: number }> }).topicConfigTable.JsonNew.writeQueueNums, 2) },
    { code: RequestCode.DELETE_TOPIC_IN_BROKER, ext: { topic: "JsonNew" } },
    {
      code: RequestCode.GET_TOPIC_STATS_INFO, ext: { topic: T }, check: (a) => {
        const t = fastjsonQueueMap(a.body) as { offsetTable: Record<string, { minOffset: number; maxOffset: number; lastUpdateTimestamp: number }> };
        const q1 = t.offsetTable[JSON.stringify({ brokerName: "broker-a", queueId: 1, topic: T })];
        assert.deepEqual([q1.minOffset, q1.maxOffset], [0, 1]);
        assert.ok(q1.lastUpdateTimestamp > 0);
      },
    },
    {
      code: RequestCode.GET_CONSUME_STATS, ext: { consumerGroup: G, topic: T }, check: (a) => {
        const c = fastjsonQueueMap(a.body) as { consumeTps: number; offsetTable: Record<string, { brokerOffset: number; consumerOffset: number; lastTimestamp: number }> };
        const q1 = c.offsetTable[JSON.stringify({ brokerName: "broker-a", queueId: 1, topic: T })];
        assert.deepEqual([q1.brokerOffset, q1.consumerOffset], [1, 1]); // committed above
        assert.ok(q1.lastTimestamp > 0);
        assert.equal(typeof c.consumeTps, "number");
      },
    },
    // As mqadmin resetOffsetByTime sends it; rewind only, so the committed offset above stays.
    {
      code: RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, ext: { topic: T, group: G, timestamp: "-1", isForce: "false" }, check: (a) => {
        const text = a.body.toString("utf8");
        assert.match(text, /^\{"offsetTable":\{(\{"brokerName":"broker-a","queueId":\d+,"topic":"[^"]*"\}:\d+,?)+\}\}$/, text.slice(0, 200));
        const q1 = ResetOffsetBody.decode(a.body, SerializeType.JSON).offsetTable.find((e) => e.mq.queueId === 1);
        assert.equal(q1?.offset, 1);
      },
    },
    // As mqadmin updateSubGroup sends it: every field, and 5.x's extra ones (ignored).
    {
      code: RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, ext: {}, body: utf8(JSON.stringify({
        groupName: "JsonSub", consumeEnable: true, consumeFromMinEnable: true, consumeBroadcastEnable: false, consumeMessageOrderly: false,
        retryQueueNums: 2, retryMaxTimes: 5, brokerId: 0, whichBrokerWhenConsumeSlowly: 1, notifyConsumerIdsChangedEnable: true,
        groupSysFlag: 0, consumeTimeoutMinute: 15, subscriptionDataSet: null, attributes: {},
        groupRetryPolicy: { type: "CUSTOMIZED", customizedRetryPolicy: { next: 1, maxReconsumeTimes: -1 } },
      })),
    },
    {
      code: RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, ext: {}, check: (_a, b) => {
        const t = (b as { subscriptionGroupTable: Record<string, { retryQueueNums: number; retryMaxTimes: number; consumeBroadcastEnable: boolean }>; dataVersion: { counter: number } });
        assert.deepEqual(t.subscriptionGroupTable.JsonSub, { ...t.subscriptionGroupTable.JsonSub, retryQueueNums: 2, retryMaxTimes: 5, consumeBroadcastEnable: false });
        assert.ok(t.subscriptionGroupTable[G], "the group that heartbeated was created");
        assert.equal(typeof t.dataVersion.counter, "number");
      },
    },
    { code: RequestCode.DELETE_SUBSCRIPTIONGROUP, ext: { groupName: "JsonSub", cleanOffset: "false" } },
    { code: RequestCode.CONSUME_MESSAGE_DIRECTLY, ext: { consumerGroup: G, clientId: "not-a-member", msgId: stored.msgId, brokerName: "broker-a" }, codes: [ResponseCode.CONSUMER_NOT_ONLINE] },
    {
      code: RequestCode.VIEW_BROKER_STATS_DATA, ext: { statsName: "TOPIC_PUT_NUMS", statsKey: T }, check: (_a, b) => {
        const d = b as { statsMinute: { sum: number; tps: number; avgpt: number }; statsHour: unknown; statsDay: unknown };
        assert.ok(d.statsMinute.sum >= 1 && typeof d.statsMinute.tps === "number" && d.statsHour && d.statsDay);
      },
    },
    { code: RequestCode.GET_PRODUCER_CONNECTION_LIST, ext: { producerGroup: "JsonP" }, check: (_a, b) => assert.ok((b as { connectionSet: unknown[] }).connectionSet.length >= 1) },
    { code: RequestCode.GET_CONSUMER_RUNNING_INFO, ext: { consumerGroup: G, clientId: "not-a-member", jstackEnable: "false" }, codes: [ResponseCode.CONSUMER_NOT_ONLINE] },
    // mqadmin getBrokerConfig / updateBrokerConfig: properties text both ways, not JSON.
    {
      code: RequestCode.GET_BROKER_CONFIG, ext: {}, check: (a) => {
        assert.match(a.body.toString("utf8"), /^brokerName=broker-a$/m);
        assert.equal(typeof JSON.parse(String(a.header.extFields!.version)).counter, "number");
      },
    },
    { code: RequestCode.UPDATE_BROKER_CONFIG, ext: {}, body: utf8("maxSendBacklog=10000\n") },
    { code: RequestCode.GET_BROKER_RUNTIME_INFO, ext: {}, check: (_a, b) => assert.equal(typeof (b as { table: Record<string, string> }).table, "object") },
    { code: RequestCode.GET_ALL_CONSUMER_OFFSET, ext: {}, check: (_a, b) => assert.equal((b as { offsetTable: Record<string, Record<string, number>> }).offsetTable[`${T}@${G}`]["1"], 1) },
    { code: RequestCode.GET_ALL_DELAY_OFFSET, ext: {}, check: (_a, b) => assert.equal(typeof (b as { offsetTable: object }).offsetTable, "object") },
    { code: RequestCode.UNREGISTER_CLIENT, ext: { clientID: CLIENT, consumerGroup: G } },
  ];
}

/** Codes whose answer body is not a structured body: message records, or properties text. */
const RECORD_BODIES = new Set<number>([
  RequestCode.PULL_MESSAGE, RequestCode.QUERY_MESSAGE, RequestCode.VIEW_MESSAGE_BY_ID,
  RequestCode.GET_BROKER_CONFIG, RequestCode.UPDATE_BROKER_CONFIG, // properties text, as RocketMQ sends it
]);
/** Codes whose body is fastjson's map keyed by MessageQueue objects (not JSON: RocketMQ's tools read it so). */
const QUEUE_KEYED_BODIES = new Set<number>([RequestCode.GET_TOPIC_STATS_INFO, RequestCode.GET_CONSUME_STATS, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET]);

/**
 * Reads fastjson's `{{"brokerName":…,"queueId":…,"topic":…}:{…}}` by hand: checks the exact key
 * form (fields in fastjson's alphabetical order) and turns each key into its JSON text.
 */
function fastjsonQueueMap(body: Buffer): unknown {
  const text = body.toString("utf8");
  assert.match(text, /"offsetTable":\{(\{"brokerName":"[^"]*","queueId":\d+,"topic":"[^"]*"\}:\{[^{}]*\},?)*\}/, text.slice(0, 200));
  return JSON.parse(text.replace(/\{"brokerName":"[^"]*","queueId":\d+,"topic":"[^"]*"\}(?=:)/g, (k) => JSON.stringify(k)));
}

/** What every answer to a RocketMQ client must be: JSON, marked a response, its opaque, a numeric code, string extFields. */
function assertWellFormed(a: RawAnswer, opaqueWanted: number | undefined, what: string): unknown {
  assert.equal(a.serializeType, 0, `${what}: answered in serialize type ${a.serializeType}`);
  assert.equal(a.header.flag & 1, 1, `${what}: response flag`);
  if (opaqueWanted !== undefined) assert.equal(a.header.opaque, opaqueWanted, `${what}: opaque`);
  assert.equal(typeof a.header.code, "number", `${what}: code`);
  if (a.header.remark !== undefined && a.header.remark !== null) assert.equal(typeof a.header.remark, "string", `${what}: remark`);
  for (const [k, v] of Object.entries(a.header.extFields ?? {})) assert.equal(typeof v, "string", `${what}: extFields.${k} is ${typeof v}`);
  return a.body.length > 0 ? a.body : undefined;
}

describe("JSON headers: every request code the broker serves, as a RocketMQ client sends it", () => {
  test("each is answered well-formed, in JSON, with ACL fields tolerated", async () => {
    await using c = await startCluster({ topics: { [T]: 4 }, producerGroup: false });
    const rmq = await JsonRemoting.connect(c.broker.addr);
    try {
      // A message to point the offset-based requests at.
      const first = await rmq.request(RequestCode.SEND_MESSAGE_V2, { ...ACL, a: "JsonP", b: T, c: "TBW102", d: "4", e: "1", f: "0", g: String(Date.now()), h: "0", i: props({ TAGS: "A", KEYS: "k1" }), j: "0", k: "false" }, utf8("first"));
      assert.equal(first.header.code, ResponseCode.SUCCESS, first.header.remark);
      const msgId = String(first.header.extFields!.msgId);
      const stored = { msgId, offset: BigInt(`0x${msgId.slice(16)}`).toString() };
      const all = entries(stored);
      assert.deepEqual([...new Set(all.map((e) => e.code))].sort((x, y) => x - y), [...new Set(SERVED)].sort((x, y) => x - y), "an entry for every served code");
      for (const e of all) {
        const name = Object.entries(RequestCode).find(([, v]) => v === e.code)![0];
        const a = await rmq.request(e.code, { ...ACL, ...e.ext }, e.body);
        const raw = assertWellFormed(a, undefined, name);
        assert.ok((e.codes ?? [ResponseCode.SUCCESS]).includes(a.header.code), `${name}: code ${a.header.code} ${a.header.remark ?? ""}`);
        let body: unknown;
        if (raw !== undefined && !RECORD_BODIES.has(e.code) && !QUEUE_KEYED_BODIES.has(e.code)) {
          try {
            body = JSON.parse(a.body.toString("utf8"));
          } catch (err) {
            assert.fail(`${name}: body is not JSON (${(err as Error).message}): ${a.body.subarray(0, 40).toString("hex")}`);
          }
        }
        e.check?.(a, body);
      }
      assert.deepEqual(rmq.unsolicited.filter((u) => u.serializeType !== 0), [], "server requests in JSON too");
    } finally {
      rmq.close();
    }
  });

  test("RocketMQ's quirks: a 'oneway' offset update with flag 0 and a commit of -1 are answered; the real oneway bit gets no answer; unknown codes keep their opaque; a query by unique id", async () => {
    await using c = await startCluster({ topics: { [T]: 4 }, producerGroup: false });
    const rmq = await JsonRemoting.connect(c.broker.addr);
    try {
      const q = { topic: T, consumerGroup: G, queueId: "0" };
      const set = await rmq.request(RequestCode.UPDATE_CONSUMER_OFFSET, { ...q, commitOffset: 5 }); // a raw number, as ali-ons sends it
      assert.equal(set.header.code, ResponseCode.SUCCESS, set.header.remark);
      const minus = await rmq.request(RequestCode.UPDATE_CONSUMER_OFFSET, { ...q, commitOffset: "-1" });
      assertWellFormed(minus, undefined, "commit -1");
      assert.equal(minus.header.code, ResponseCode.SUCCESS, minus.header.remark);
      const read = await rmq.request(RequestCode.QUERY_CONSUMER_OFFSET, q);
      assert.equal(read.header.extFields?.offset, "5", "a commit of -1 does not overwrite a stored offset");

      // The oneway bit (flag 2): stored, never answered. The ping after it is answered first.
      rmq.send({ code: RequestCode.SEND_MESSAGE_V2, language: "JAVA", version: 395, opaque: 9_999, flag: 2, extFields: { a: "JsonP", b: T, c: "TBW102", d: "4", e: "0", f: "0", g: String(Date.now()), h: "0", i: "", j: "0", k: "false" } }, utf8("oneway"));
      const unknown = await rmq.request(54_321, {});
      assertWellFormed(unknown, undefined, "unknown code");
      assert.equal(unknown.header.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
      await waitFor(async () => (await rmq.request(RequestCode.GET_MAX_OFFSET, { topic: T, queueId: "0" })).header.extFields?.offset === "1", { what: "the oneway send stored" });
      assert.equal(rmq.unsolicited.filter((u) => u.header.opaque === 9_999).length, 0, "no answer to a oneway request");

      // queryMsgById with the unique id a Java client set (UNIQ_KEY), not a message that only has it as a key.
      const uniq = "0A000009" + "04D2" + "1234ABCD" + "0012D687" + "0001";
      const send = (p: Record<string, string>, body: string) => rmq.request(RequestCode.SEND_MESSAGE_V2, { a: "JsonP", b: T, c: "TBW102", d: "4", e: "1", f: "0", g: String(Date.now()), h: "0", i: props(p), j: "0", k: "false" }, utf8(body));
      assert.equal((await send({ UNIQ_KEY: uniq }, "by id")).header.code, ResponseCode.SUCCESS);
      assert.equal((await send({ KEYS: uniq }, "by key")).header.code, ResponseCode.SUCCESS);
      const q2 = { topic: T, key: uniq, maxNum: "32", beginTimestamp: "0", endTimestamp: String(Date.now() + 60_000) };
      const both = await waitFor(async () => {
        const a = await rmq.request(RequestCode.QUERY_MESSAGE, q2);
        return a.header.code === ResponseCode.SUCCESS && a.body.includes(Buffer.from("by key")) && a.body.includes(Buffer.from("by id")) ? a : undefined;
      }, { what: "both indexed" });
      assertWellFormed(both, undefined, "query by key");
      const byId = await rmq.request(RequestCode.QUERY_MESSAGE, { ...q2, _UNIQUE_KEY_QUERY: "true" });
      assert.equal(byId.header.code, ResponseCode.SUCCESS, byId.header.remark);
      assert.ok(byId.body.includes(Buffer.from("by id")) && !byId.body.includes(Buffer.from("by key")));
    } finally {
      rmq.close();
    }
  });

  test("RocketMQ's binary header (serialize type 1) is read and answered in kind, JSON bodies included", async () => {
    await using c = await startCluster({ topics: { [T]: 4 }, producerGroup: false });
    const [host, port] = c.broker.addr.split(":");
    const socket = net.connect(Number(port), host);
    const answers: RemotingCommand[] = [];
    const decoder = new FrameDecoder();
    socket.on("data", (d: Buffer) => decoder.push(new Uint8Array(d), (cmd) => answers.push(cmd)));
    try {
      const hb = { clientID: CLIENT, producerDataSet: [], consumerDataSet: [{ groupName: G, consumeType: "CONSUME_PASSIVELY", messageModel: "CLUSTERING", consumeFromWhere: "CONSUME_FROM_FIRST_OFFSET", subscriptionDataSet: [{ topic: T, subString: "*" }] }] };
      socket.write(encodeFrameBytes({ code: RequestCode.HEART_BEAT, language: 0, version: 409, opaque: 1, flag: 0, body: utf8(JSON.stringify(hb)) }, SerializeType.ROCKETMQ));
      socket.write(encodeFrameBytes({ code: RequestCode.GET_MAX_OFFSET, language: 0, version: 409, opaque: 2, flag: 0, extFields: { ...ACL, topic: T, queueId: "0" } }, SerializeType.ROCKETMQ));
      socket.write(encodeFrameBytes({ code: RequestCode.GET_CONSUMER_LIST_BY_GROUP, language: 0, version: 409, opaque: 3, flag: 0, extFields: { consumerGroup: G } }, SerializeType.ROCKETMQ));
      const responses = () => answers.filter((a) => (a.flag & 1) === 1);
      await waitFor(() => responses().length >= 3, { what: "three answers" });
      const byOpaque = new Map(responses().map((a) => [a.opaque, a]));
      for (const a of responses()) assert.equal(a.code, ResponseCode.SUCCESS, a.remark);
      // Answers and the broker's own requests (NOTIFY_CONSUMER_IDS_CHANGED on the join) alike.
      for (const a of answers) assert.equal(a.serializeType, SerializeType.ROCKETMQ, `code ${a.code} flag ${a.flag}`);
      assert.equal(byOpaque.get(2)!.extFields?.offset, "0");
      assert.deepEqual(JSON.parse(new TextDecoder().decode(byOpaque.get(3)!.body)), { consumerIdList: [CLIENT] });
    } finally {
      socket.destroy();
    }
  });

  test("transactions from a JSON client: a half message, the broker's CHECK_TRANSACTION_STATE in JSON, END_TRANSACTION commits it", async () => {
    await using c = await startCluster({ topics: { [T]: 4 }, producerGroup: false, brokers: [{ transactionTimeout: 10, transactionCheckInterval: 100 }] });
    const rmq = await JsonRemoting.connect(c.broker.addr);
    try {
      const hb = await rmq.request(RequestCode.HEART_BEAT, {}, utf8(JSON.stringify({ clientID: CLIENT, producerDataSet: [{ groupName: "TxP" }], consumerDataSet: [] })));
      assert.equal(hb.header.code, ResponseCode.SUCCESS, hb.header.remark);
      const uniq = "0A0000090001000000010012D6870001";
      const half = await rmq.request(RequestCode.SEND_MESSAGE_V2, { a: "TxP", b: T, c: "TBW102", d: "4", e: "2", f: "4", g: String(Date.now()), h: "0", i: props({ TRAN_MSG: "true", PGROUP: "TxP", UNIQ_KEY: uniq }), j: "0", k: "false" }, utf8("half"));
      assert.equal(half.header.code, ResponseCode.SUCCESS, half.header.remark);
      const maxOffset = async () => (await rmq.request(RequestCode.GET_MAX_OFFSET, { topic: T, queueId: "2" })).header.extFields?.offset;
      assert.equal(await maxOffset(), "0", "a half message is not visible");
      // The broker asks this producer (a server request: in JSON, never answered by the client).
      const check = await waitFor(() => rmq.unsolicited.find((u) => u.header.code === RequestCode.CHECK_TRANSACTION_STATE), { timeoutMs: 10_000, what: "a CHECK_TRANSACTION_STATE" });
      assert.equal(check.serializeType, 0);
      assert.equal(check.header.flag & 1, 0, "a request, not a response");
      const ext = check.header.extFields as Record<string, string>;
      assert.equal(ext.msgId, uniq);
      assert.ok(check.body.includes(Buffer.from("half")), "the half message rides in the body");
      // Java answers with a oneway END_TRANSACTION.
      rmq.send({ code: RequestCode.END_TRANSACTION, language: "JAVA", version: 395, opaque: 777, flag: 2, extFields: { producerGroup: "TxP", tranStateTableOffset: ext.tranStateTableOffset, commitLogOffset: ext.commitLogOffset, commitOrRollback: "8", fromTransactionCheck: "true", msgId: uniq, transactionId: ext.transactionId } });
      await waitFor(async () => await maxOffset() === "1", { what: "the committed message visible" });
    } finally {
      rmq.close();
    }
  });

  test("the NameServer answers a RocketMQ client in JSON, in RocketMQ's shapes (TopicRouteData, ClusterInfo, TopicList)", async () => {
    await using c = await startCluster({ topics: { [T]: 4 }, producerGroup: false });
    const ns = await JsonRemoting.connect(c.namesrvAddr);
    try {
      const route = await ns.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { ...ACL, topic: T });
      const r = JSON.parse(assertWellFormed(route, undefined, "route") ? route.body.toString() : "null");
      assert.equal(route.header.code, ResponseCode.SUCCESS);
      assert.deepEqual(r.brokerDatas, [{ cluster: c.broker.config.brokerClusterName, brokerName: "broker-a", brokerAddrs: { 0: c.broker.addr } }]);
      assert.deepEqual(r.queueDatas.map((q: Record<string, unknown>) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm, q.topicSysFlag]), [["broker-a", 4, 4, 6, 0]]);
      const missing = await ns.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: "NoSuchTopic" });
      assertWellFormed(missing, undefined, "missing route");
      assert.equal(missing.header.code, ResponseCode.TOPIC_NOT_EXIST);
      const info = await ns.request(RequestCode.GET_BROKER_CLUSTER_INFO, {});
      assertWellFormed(info, undefined, "cluster info");
      const ci = JSON.parse(info.body.toString());
      assert.deepEqual(ci.clusterAddrTable, { [c.broker.config.brokerClusterName]: ["broker-a"] });
      assert.equal(ci.brokerAddrTable["broker-a"].brokerAddrs["0"], c.broker.addr);
      const list = await ns.request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, {});
      assertWellFormed(list, undefined, "topic list");
      assert.ok(JSON.parse(list.body.toString()).topicList.includes(T));
      // mqadmin wipeWritePerm / addWritePerm: the counts come back as header fields.
      const wipe = await ns.request(RequestCode.WIPE_WRITE_PERM_OF_BROKER, { ...ACL, brokerName: "broker-a" });
      assertWellFormed(wipe, undefined, "wipe");
      assert.equal(wipe.header.code, ResponseCode.SUCCESS);
      assert.ok(Number(wipe.header.extFields!.wipeTopicCount) >= 1, JSON.stringify(wipe.header.extFields));
      const wiped = JSON.parse((await ns.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: T })).body.toString());
      assert.equal(wiped.queueDatas[0].perm, 4);
      const add = await ns.request(RequestCode.ADD_WRITE_PERM_OF_BROKER, { ...ACL, brokerName: "broker-a" });
      assertWellFormed(add, undefined, "add");
      assert.equal(add.header.extFields!.addTopicCount, wipe.header.extFields!.wipeTopicCount);
    } finally {
      ns.close();
    }
  });
});
