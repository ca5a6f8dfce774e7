import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { type ReplicaHeartbeat, ReplicaController } from "../../../src/controller/replica_controller.ts";
import { InvalidParameterError } from "../../../src/common/errors.ts";
import { silentLogger } from "../../../src/common/log.ts";

function setup() {
  let t = 1_000_000;
  const c = new ReplicaController({ heartbeatTimeoutMs: 1000 }, silentLogger, () => t);
  const hb = (brokerId: number, maxOffset: number, epoch = 0, isMaster = false): ReplicaHeartbeat => ({
    clusterName: "c", brokerName: "g", brokerId, addr: `h:${brokerId}`, haAddr: `h:${brokerId + 100}`, epoch, maxOffset, isMaster,
  });
  return { c, hb, advance: (ms: number) => void (t += ms) };
}

describe("replica controller", () => {
  test("a new group waits a grace period, then elects its first replica; the master grows its sync state set", () => {
    const { c, hb, advance } = setup();
    assert.equal(c.heartbeat(hb(1, 0)).masterId, 0, "no election inside the grace period");
    advance(1001);
    const v = c.heartbeat(hb(1, 0));
    assert.deepEqual([v.masterId, v.epoch, v.masterAddr, v.masterHaAddr, v.syncStateSet], [1, 1, "h:1", "h:101", [1]]);
    assert.equal(c.heartbeat(hb(2, 0, 1)).masterId, 1, "a slave joining does not change the master");
    assert.deepEqual(c.alterSyncStateSet("g", 1, 1, [1, 2]).syncStateSet, [1, 2]);
    assert.throws(() => c.alterSyncStateSet("g", 2, 1, [2]), InvalidParameterError, "only the master may alter the set");
    assert.throws(() => c.alterSyncStateSet("g", 1, 0, [1]), InvalidParameterError, "nor a master of an old epoch");
    assert.throws(() => c.heartbeat(hb(0, 0)), InvalidParameterError, "brokerId 0 is not a replica id in controller mode");
  });

  test("a silent master is replaced by the most advanced live member of the sync state set, never by one outside it", () => {
    const { c, hb, advance } = setup();
    c.heartbeat(hb(1, 0));
    advance(1001);
    c.heartbeat(hb(1, 0));
    c.heartbeat(hb(2, 0, 1));
    c.heartbeat(hb(3, 0, 1));
    c.alterSyncStateSet("g", 1, 1, [1, 2]);
    advance(600);
    c.heartbeat(hb(2, 500, 1));
    c.heartbeat(hb(3, 900, 1)); // further along, but outside the set
    assert.deepEqual(c.scan(), [], "the master is not silent long enough yet");
    advance(500);
    assert.deepEqual(c.scan(), ["g"]);
    const v = c.view("g")!;
    assert.deepEqual([v.masterId, v.epoch, v.epochStartOffset, v.syncStateSet], [2, 2, 500, [2]]);
    // The new master dies too; 3 is alive but was never in sync: the group waits.
    advance(1500);
    c.heartbeat(hb(3, 900, 2));
    assert.deepEqual(c.scan(), []);
    assert.equal(c.view("g")!.masterId, 0, "no unclean election");
    c.heartbeat(hb(2, 500, 2)); // 2 comes back: as the only member of the set, it is master again
    assert.equal(c.scan().length, 0);
    assert.deepEqual([c.view("g")!.masterId, c.view("g")!.epoch], [2, 3]);
  });

  test("a restarted controller learns the master from its claim, and elects past every epoch a replica has seen", () => {
    const { c, hb, advance } = setup();
    c.heartbeat(hb(2, 100, 7));
    const v = c.heartbeat(hb(1, 100, 7, true));
    assert.deepEqual([v.masterId, v.epoch], [1, 7], "the master of epoch 7 is taken at its word");
    advance(1500);
    c.heartbeat(hb(2, 100, 7));
    c.alterSyncStateSet("g", 1, 7, [1, 2]);
    assert.deepEqual(c.scan(), ["g"]);
    assert.deepEqual([c.view("g")!.masterId, c.view("g")!.epoch], [2, 8]);
  });
});
