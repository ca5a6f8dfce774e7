import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { startBroker, startNameServer } from "../harness/servers.ts";
import { Producer } from "../../src/client/producer.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeRecord } from "../../src/common/message_record.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";
import type { MessageStore } from "../../src/store/message_store.ts";

/** Fast controller-mode timings, so the same code paths run in a second. */
const CONTROLLED = (brokerId: number): Partial<BrokerConfig> => ({
  enableControllerMode: true,
  brokerId,
  brokerRole: "SYNC_MASTER",
  controllerHeartbeatInterval: 100,
  controllerLeaseMs: 600,
  haSendHeartbeatInterval: 200,
  haMetadataSyncInterval: 200,
  haHousekeepingInterval: 1000,
  slaveTimeout: 1000,
  registerNameServerPeriod: 500,
});

const isMaster = (b: BrokerController) => b.runtimeInfo().brokerRole.includes("elected");

/** Every body in every queue of `topic`, as the store serves them. */
function bodies(store: MessageStore, topic: string, queues: number): string[] {
  const out: string[] = [];
  for (let q = 0; q < queues; q++) {
    let offset = store.minOffset(topic, q);
    for (;;) {
      const r = store.getMessage(topic, q, offset, 256);
      if (r.status !== "FOUND") break;
      for (const raw of r.messages) out.push(new TextDecoder().decode(decodeRecord(raw).body));
      offset = r.nextBeginOffset;
    }
  }
  return out;
}

describe("automatic failover", () => {
  test("kill the SYNC_MASTER under load: the slave is elected, every acknowledged message is on it, and the old master rejoins as a slave", async () => {
    using dir = tempDir();
    await using ns = await startNameServer({ controller: { heartbeatTimeoutMs: 800 } });
    let b1 = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => isMaster(b1), { what: "broker 1 elected" });
    const admin = new RemotingClient();
    await admin.invoke(b1.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: "Orders", readQueueNums: 4, writeQueueNums: 4 }));
    await using b2 = await startBroker(ns.addr, join(dir.path, "b2"), CONTROLLED(2));
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg", sendTimeoutMs: 2000 });
    await waitFor(async () => (await producer.send({ topic: "Orders", body: "probe" })).status === "SEND_OK", { what: "broker 2 in sync" });
    await waitFor(() => ns.controller!.controller.view(b1.config.brokerName)!.syncStateSet.includes(2), { what: "broker 2 in the sync state set" });

    const acked: string[] = []; // SEND_OK: on both replicas
    const storedAlone: string[] = []; // after the kill: stored on the new master, no slave yet (SLAVE_NOT_AVAILABLE)
    let killedAt = 0;
    let firstAckAfterKill = 0;
    let failures = 0;
    for (let i = 0; acked.length + storedAlone.length < 600 || (killedAt > 0 && firstAckAfterKill === 0); i++) {
      assert.ok(killedAt === 0 || Date.now() - killedAt < 20_000, "no acknowledged send within 20 s of the kill");
      if (i === 300) {
        killedAt = Date.now();
        await b1.kill(); // as kill -9: no flush, no goodbye
      }
      const body = `m${i}`;
      try {
        const r = await producer.send({ topic: "Orders", body });
        if (killedAt > 0 && firstAckAfterKill === 0) firstAckAfterKill = Date.now();
        if (r.status === "SEND_OK") acked.push(body);
        else if (killedAt > 0) storedAlone.push(body);
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.ok(isMaster(b2), "broker 2 is the master");
    const recoveryMs = firstAckAfterKill - killedAt;
    const stored = bodies(b2.store, "Orders", 4);
    const have = new Set(stored);
    const lost = [...acked, ...storedAlone].filter((b) => !have.has(b));
    const duplicates = stored.length - have.size;
    console.log(`failover: first acknowledged send ${recoveryMs} ms after the kill; ${failures} sends failed meanwhile; ${lost.length} lost; ${duplicates} duplicates`);
    assert.deepEqual(lost, [], "acknowledged messages missing on the new master");
    assert.ok(storedAlone.length > 0, "the new master took sends while it had no slave (SLAVE_NOT_AVAILABLE)");
    assert.ok(recoveryMs < 5_000, `recovery took ${recoveryMs} ms`);

    // The old master comes back: it follows broker 2, cutting whatever it wrote that 2 never had.
    b1 = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => !isMaster(b1) && b1.store.commitLogMaxOffset === b2.store.commitLogMaxOffset, { what: "broker 1 caught up as a slave" });
    for (let off = b2.store.commitLogMinOffset; off < b2.store.commitLogMaxOffset;) {
      const c = b2.store.readReplica(off, 1 << 20)!;
      assert.deepEqual(b1.store.readReplica(off, 1 << 20), c, `chunk at ${off}`);
      off = c.next;
    }
    const r = await producer.send({ topic: "Orders", body: "after the rejoin" });
    assert.equal(r.status, "SEND_OK", "broker 2 has its slave back in sync");
    admin.close();
    await producer.shutdown();
    await b1.shutdown(1000);
  }, 60_000);
});
