import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { TransactionProducer } from "../../src/client/transaction_producer.ts";
import type { LocalTransactionState, TransactionListener } from "../../src/client/producer.ts";
import { Producer } from "../../src/client/producer.ts";
import type { MessageExt } from "../../src/client/message.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { parseOffsetMsgId } from "../../src/common/message_id.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";
import { SysFlag } from "../../src/common/message.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";

const text = (m: MessageExt) => new TextDecoder().decode(m.body);
const FAST_CHECKS: Partial<BrokerConfig> = { transactionTimeout: 200, transactionCheckInterval: 100, transactionCheckMax: 3 };

/** Reads everything a topic holds so far (a fresh group from the first offset each time). */
async function readAll(namesrvAddr: string, topic: string): Promise<string[]> {
  const c = new PullConsumer({ namesrvAddr, group: `read-${Math.random().toString(36).slice(2)}`, consumeFromWhere: "first", brokerSuspendMaxTimeMs: 0 });
  await c.subscribe(topic);
  const out: string[] = [];
  for (;;) {
    const got = await c.poll(200, 256);
    if (got.length === 0) break;
    out.push(...got.map(text));
  }
  await c.shutdown();
  return out.sort();
}

function listener(execute: (body: string) => LocalTransactionState | Promise<LocalTransactionState>, check: (body: string) => LocalTransactionState): TransactionListener & { checks: string[] } {
  const checks: string[] = [];
  return {
    checks,
    executeLocalTransaction: (m) => execute(typeof m.body === "string" ? m.body : new TextDecoder().decode(m.body)),
    checkLocalTransaction: (m) => {
      checks.push(text(m));
      return check(text(m));
    },
  };
}

describe("transactional messages", () => {
  test("a half message is invisible until committed; a rollback discards it", async () => {
    // A long timeout: the local transaction below takes a while, and must not be checked meanwhile.
    await using cluster = await startCluster({ brokers: [{ dir: "b", ...FAST_CHECKS, transactionTimeout: 30_000 }], topics: { Orders: 2 }, producerGroup: false });
    const { ns, broker } = cluster;
    const plain = new Producer({ namesrvAddr: ns.addr, group: "plain" });
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    const l = listener(async (body) => {
      if (body === "commit-me") {
        // While the local transaction runs, the half message must not be visible.
        await plain.send({ topic: "Orders", body: "sentinel" });
        await gate;
        return "COMMIT";
      }
      return "ROLLBACK";
    }, () => "UNKNOWN");
    const tp = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-orders", transactionListener: l });
    await tp.start();
    const committing = tp.sendMessageInTransaction({ topic: "Orders", body: "commit-me", keys: "order-7" });
    await waitFor(async () => (await readAll(ns.addr, "Orders")).includes("sentinel"), { what: "the sentinel" });
    assert.deepEqual(await readAll(ns.addr, "Orders"), ["sentinel"], "the half message is invisible before the decision");
    release();
    const committed = await committing;
    assert.equal(committed.localTransactionState, "COMMIT");
    const rolled = await tp.sendMessageInTransaction({ topic: "Orders", body: "roll-me-back" });
    assert.equal(rolled.localTransactionState, "ROLLBACK");
    await waitFor(async () => (await readAll(ns.addr, "Orders")).includes("commit-me"), { what: "the committed message" });
    await plain.send({ topic: "Orders", body: "after" });
    await waitFor(async () => (await readAll(ns.addr, "Orders")).includes("after"), { what: "a later message" });
    assert.deepEqual(await readAll(ns.addr, "Orders"), ["after", "commit-me", "sentinel"]);
    // The committed message keeps its id and keys; nothing was checked back.
    const c = new PullConsumer({ namesrvAddr: ns.addr, group: "inspect", consumeFromWhere: "first", brokerSuspendMaxTimeMs: 0 });
    await c.subscribe("Orders");
    const all = await c.poll(300, 64);
    const m = all.find((x) => text(x) === "commit-me")!;
    assert.equal(m.msgId, committed.msgId);
    assert.deepEqual(m.keys, ["order-7"]);
    await c.shutdown();
    await waitFor(() => broker.runtimeInfo().transactionHalfBacklog === "0", { what: "the check point past both half messages" });
    assert.deepEqual(l.checks, []);
    await assert.rejects(tp.sendMessageInTransaction({ topic: "Orders", body: "x", delayMs: 100 }), InvalidParameterError);
    await tp.shutdown();
    await plain.shutdown();
  });

  test("an undecided half message is checked back: UNKNOWN, then COMMIT delivers it once", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", ...FAST_CHECKS }], topics: { Pay: 1 }, producerGroup: false });
    const { ns, broker } = cluster;
    let asked = 0;
    const l = listener(() => "UNKNOWN", () => (++asked === 1 ? "UNKNOWN" : "COMMIT"));
    const tp = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-pay", transactionListener: l });
    await tp.start();
    const r = await tp.sendMessageInTransaction({ topic: "Pay", body: "pay-1" });
    assert.equal(r.localTransactionState, "UNKNOWN");
    await waitFor(async () => (await readAll(ns.addr, "Pay")).includes("pay-1"), { what: "the message committed by a check-back" });
    assert.equal(asked, 2);
    assert.deepEqual(l.checks, ["pay-1", "pay-1"]);
    // No more check-backs once decided, and one copy only.
    await waitFor(() => broker.runtimeInfo().transactionHalfBacklog === "0", { what: "the check point past it" });
    assert.equal(asked, 2);
    assert.deepEqual(await readAll(ns.addr, "Pay"), ["pay-1"]);
    await tp.shutdown();
  });

  test("a producer that dies before deciding: a new producer of its group answers the check; with none, the message is parked", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "b", ...FAST_CHECKS, transactionCheckMax: 4 }], topics: { Ship: 1 }, producerGroup: false });
    const { ns } = cluster;
    // The first producer stores two half messages, then dies without deciding either.
    const dying = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-ship", transactionListener: listener(() => "UNKNOWN", () => "UNKNOWN") });
    await dying.start();
    await dying.sendMessageInTransaction({ topic: "Ship", body: "ship-1" });
    await dying.shutdown();
    const orphan = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-lost", transactionListener: listener(() => "UNKNOWN", () => "UNKNOWN") });
    await orphan.start();
    await orphan.sendMessageInTransaction({ topic: "Ship", body: "orphan" });
    await orphan.shutdown();
    // A new instance of tx-ship comes up and knows the answer.
    const heir = listener(() => "UNKNOWN", () => "COMMIT");
    const next = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-ship", transactionListener: heir });
    await next.start();
    await waitFor(async () => (await readAll(ns.addr, "Ship")).includes("ship-1"), { what: "ship-1 committed by the new producer" });
    assert.ok(heir.checks.includes("ship-1"));
    // Nobody of tx-lost answers: after transactionCheckMax checks it is parked, never delivered.
    await waitFor(async () => (await readAll(ns.addr, "TRANS_CHECK_MAX_TIME_TOPIC")).includes("orphan"), { what: "the orphan parked", timeoutMs: 15_000 });
    assert.deepEqual(await readAll(ns.addr, "Ship"), ["ship-1"]);
    await next.shutdown();
  });

  test("after a broker restart a decided message is neither resurrected nor repeated, and an undecided one is still checked", async () => {
    // Checks are slow before the restart, so the undecided one waits across it.
    await using cluster = await startCluster({ brokers: [{ ...FAST_CHECKS, transactionCheckInterval: 60_000 }], topics: { Ledger: 1 }, producerGroup: false });
    const { ns } = cluster;
    const decisions: Record<string, LocalTransactionState> = { "commit-1": "COMMIT", "rollback-1": "ROLLBACK", "undecided-1": "UNKNOWN" };
    const l = listener((body) => decisions[body], () => "COMMIT");
    const tp = new TransactionProducer({ namesrvAddr: ns.addr, group: "tx-ledger", transactionListener: l });
    await tp.start();
    const committed = await tp.sendMessageInTransaction({ topic: "Ledger", body: "commit-1" });
    await tp.sendMessageInTransaction({ topic: "Ledger", body: "rollback-1" });
    await tp.sendMessageInTransaction({ topic: "Ledger", body: "undecided-1" });
    await waitFor(async () => (await readAll(ns.addr, "Ledger")).includes("commit-1"), { what: "commit-1" });
    // A second, late commit of the same half message changes nothing.
    const { addr, offset } = parseOffsetMsgId(committed.offsetMsgId);
    const raw = new RemotingClient();
    await raw.invoke(addr, createRequest(RequestCode.END_TRANSACTION, { producerGroup: "tx-ledger", commitLogOffset: offset, commitOrRollback: SysFlag.TRANSACTION_COMMIT_TYPE, tranStateTableOffset: 0 }));
    raw.close();
    const broker = await cluster.restart(0, { extra: { transactionCheckInterval: FAST_CHECKS.transactionCheckInterval, listenPort: Number(addr.split(":")[1]) } });
    await tp.start(); // heartbeats the restarted broker at once
    await waitFor(async () => (await readAll(ns.addr, "Ledger")).includes("undecided-1"), { what: "the undecided one committed after the restart" });
    await waitFor(() => broker.runtimeInfo().transactionHalfBacklog === "0", { what: "the check point past everything" });
    assert.deepEqual(await readAll(ns.addr, "Ledger"), ["commit-1", "undecided-1"]);
    assert.deepEqual(l.checks, ["undecided-1"], "only the undecided one was checked");
    await tp.shutdown();
  });
});
