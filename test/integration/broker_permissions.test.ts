import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";
import { TIMER_TOPIC } from "../../src/broker/timer_message_service.ts";
import { TransactionProducer } from "../../src/client/transaction_producer.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";
import { encodeProperties, SysFlag } from "../../src/common/message.ts";
import { parseOffsetMsgId } from "../../src/common/message_id.ts";
import { decodeRecord, type StoredMessage } from "../../src/common/message_record.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { encodeBatch } from "../../src/protocol/message_batch.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (m: StoredMessage) => new TextDecoder().decode(m.body);

/** Everything queue `queueId` of `topic` holds on `broker`, read from its store. */
function stored(broker: BrokerController, topic: string, queueId = 0): StoredMessage[] {
  const r = broker.store.getMessage(topic, queueId, 0, 1_000);
  return r.status === "FOUND" ? r.messages.map((raw) => decodeRecord(raw)) : [];
}

/** Sets `topic`'s permission on `addr` (6 read-write, 4 read-only), one queue. */
async function setPerm(raw: RemotingClient, addr: string, topic: string, perm: number): Promise<void> {
  const r = await raw.invoke(addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 1, writeQueueNums: 1, perm }));
  assert.equal(r.code, ResponseCode.SUCCESS, r.remark);
}

const BROKER_ONLY = { REAL_TOPIC: "RO", REAL_QID: "0", TIMER_OUT_MS: String(Date.now() + 500), TRANSACTION_CHECK_TIMES: "99", DLQ_ORIGIN_TOPIC: "x" };

describe("internal topics, reserved properties and put-back permissions", () => {
  test("the broker drops a client's REAL_TOPIC, TIMER_OUT_MS, … on single and batch sends; the Producer refuses them", async () => {
    await using cluster = await startCluster({ topics: { W: 1 } });
    const { broker, producer } = cluster;
    const raw = new RemotingClient();
    cluster.track({ shutdown: () => Promise.resolve(raw.close()) });
    await setPerm(raw, broker.addr, "RO", 4);
    const props = encodeProperties({ ...BROKER_ONLY, KEEP: "kept" });
    const single = await raw.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "pg", topic: "W", queueId: 0, properties: props }, utf8("single")));
    assert.equal(single.code, ResponseCode.SUCCESS, single.remark);
    const batch = encodeBatch([{ flag: 0, body: utf8("batch-1"), properties: utf8(props) }, { flag: 0, body: utf8("batch-2"), properties: new Uint8Array() }]);
    const b = await raw.invoke(broker.addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { producerGroup: "pg", topic: "W", queueId: 0, batch: true }, batch));
    assert.equal(b.code, ResponseCode.SUCCESS, b.remark);
    // A timer asked for in the same send is parked by the broker, with the broker's REAL_TOPIC.
    const timed = await raw.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE, {
      producerGroup: "pg", topic: "W", queueId: 0, properties: encodeProperties({ ...BROKER_ONLY, TIMER_DELAY_MS: "100" }),
    }, utf8("timed")));
    assert.equal(timed.code, ResponseCode.SUCCESS, timed.remark);
    const inW = await waitFor(() => {
      const all = stored(broker, "W");
      return all.length === 4 && all;
    }, { what: "the three sent and the timed one in W" });
    assert.deepEqual(inW.map(text), ["single", "batch-1", "batch-2", "timed"]);
    for (const m of inW) {
      for (const name of Object.keys(BROKER_ONLY)) assert.equal(m.properties[name], undefined, `${text(m)}: ${name} dropped`);
    }
    assert.equal(inW[0].properties.KEEP, "kept", "a user property is kept");
    assert.equal(stored(broker, "RO").length, 0, "nothing reached the read-only topic");
    // The Producer says so before sending.
    for (const name of ["REAL_TOPIC", "REAL_QID", "TIMER_OUT_MS", "__HCRC32"]) {
      const err = await rejectionOf(producer.send({ topic: "W", body: "x", properties: { [name]: "RO" } }));
      assert.ok(err instanceof InvalidParameterError, `${name}: ${err.message}`);
      assert.match(err.message, new RegExp(`Property "${name}" is set by the broker only`));
    }
  });

  test("a delayed or timer message whose topic turned read-only while it waited is held, not written, until it is writable", async () => {
    await using cluster = await startCluster({ brokers: [{ messageDelayLevel: "4s", putBackRetryMillis: 200 }], topics: { W: 1 } });
    const { broker, producer } = cluster;
    const raw = new RemotingClient();
    cluster.track({ shutdown: () => Promise.resolve(raw.close()) });
    const sentAt = Date.now();
    await producer.send({ topic: "W", body: "by-level", delayTimeLevel: 1 });
    await producer.send({ topic: "W", body: "by-time", deliverAt: sentAt + 4_000 });
    await setPerm(raw, broker.addr, "W", 4);
    // The claim below needs the change to have landed before either was due.
    assert.ok(Date.now() < sentAt + 4_000, "the topic turned read-only before the messages were due");
    const timerBefore = broker.store.maxOffset(TIMER_TOPIC, 0);
    // Each due message was refused by W and parked again as a timer.
    await waitFor(() => {
      const again = new Set(stored(broker, TIMER_TOPIC).filter((m) => m.queueOffset >= timerBefore).map(text));
      return again.has("by-level") && again.has("by-time");
    }, { what: "both messages refused and parked again", timeoutMs: 20_000 });
    assert.equal(stored(broker, "W").length, 0, "nothing was written to the read-only topic");
    await setPerm(raw, broker.addr, "W", 6);
    const inW = await waitFor(() => {
      const all = stored(broker, "W");
      return all.length >= 2 && all;
    }, { what: "both delivered once W is writable" });
    assert.deepEqual(inW.map(text).sort(), ["by-level", "by-time"]);
    for (const m of inW) {
      assert.equal(m.properties.REAL_TOPIC, undefined);
      assert.equal(m.properties.TIMER_OUT_MS, undefined);
    }
    // Exactly once: nothing more arrives after a few more retry intervals' worth of timer traffic.
    const parked = broker.store.maxOffset(TIMER_TOPIC, 0);
    await producer.send({ topic: "W", body: "marker", delayMs: 300 });
    await waitFor(() => stored(broker, "W").length >= 3, { what: "the marker" });
    assert.deepEqual(stored(broker, "W").map(text).sort(), ["by-level", "by-time", "marker"]);
    assert.equal(broker.store.maxOffset(TIMER_TOPIC, 0), parked + 1, "no message was parked again after W became writable");
  });

  test("a commit to a topic turned read-only is refused and the half message stays; a send-back of a half message is refused", async () => {
    await using cluster = await startCluster({ brokers: [{ transactionTimeout: 60_000 }], topics: { W: 1 }, producerGroup: false });
    const { broker } = cluster;
    const raw = new RemotingClient();
    cluster.track({ shutdown: () => Promise.resolve(raw.close()) });
    const tp = cluster.track(new TransactionProducer({
      namesrvAddr: cluster.namesrvAddr,
      group: "tx",
      transactionListener: { executeLocalTransaction: () => "UNKNOWN", checkLocalTransaction: () => "UNKNOWN" },
    }));
    await tp.start();
    const r = await tp.sendMessageInTransaction({ topic: "W", body: "tx-1" });
    const { addr, offset } = parseOffsetMsgId(r.offsetMsgId);
    const commit = () => raw.invoke(addr, createRequest(RequestCode.END_TRANSACTION, { producerGroup: "tx", commitLogOffset: offset, commitOrRollback: SysFlag.TRANSACTION_COMMIT_TYPE, tranStateTableOffset: 0 }));
    await setPerm(raw, broker.addr, "W", 4);
    const refused = await commit();
    assert.equal(refused.code, ResponseCode.NO_PERMISSION, refused.remark);
    assert.match(refused.remark ?? "", /topic\[W\] sending is forbidden/);
    assert.equal(stored(broker, "W").length, 0);
    assert.equal(broker.runtimeInfo().transactionHalfBacklog, "1", "the half message is still undecided");
    // A half message was never delivered: it cannot be sent back to a retry topic either.
    const back = await raw.invoke(addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { group: "cg", offset, delayLevel: 0, originMsgId: "", originTopic: "W" }));
    assert.equal(back.code, ResponseCode.NO_PERMISSION, back.remark);
    assert.match(back.remark ?? "", /only the broker writes/);
    assert.equal(stored(broker, "%RETRY%cg").length + broker.store.maxOffset("SCHEDULE_TOPIC_XXXX", 2), 0, "nothing was retried");
    await setPerm(raw, broker.addr, "W", 6);
    const ok = await commit();
    assert.equal(ok.code, ResponseCode.SUCCESS, ok.remark);
    assert.deepEqual(stored(broker, "W").map(text), ["tx-1"]);
  });
});
