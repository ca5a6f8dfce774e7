import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { DefaultMessageStore } from "../../src/store/default_message_store.ts";
import { EpochFile } from "../../src/broker/epoch_file.ts";
import { HAMaster, HASlave } from "../../src/broker/ha_service.ts";
import { RemotingServer } from "../../src/remoting/remoting_server.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { nodeFileSystem } from "../../src/platform/file_system.ts";
import { decodeRecord } from "../../src/common/message_record.ts";
import { silentLogger } from "../../src/common/log.ts";

const put = (store: DefaultMessageStore, text: string) =>
  store.putMessage({ topic: "T", queueId: 0, body: new TextEncoder().encode(text), properties: { KEYS: text } });

function texts(store: DefaultMessageStore): string[] {
  const r = store.getMessage("T", 0, 0, 1000);
  return r.messages.map((raw) => new TextDecoder().decode(decodeRecord(raw).body));
}

describe("HA epochs", () => {
  test("a former master rejoining as a slave cuts its log where the new master's epoch began, then copies on", async () => {
    using dir = tempDir();
    const opts = { storePathRootDir: "", commitLogSegmentBytes: 1024 * 1024, maxMessageSize: 64 * 1024 };
    const a = DefaultMessageStore.open({ ...opts, storePathRootDir: `${dir.path}/a` });
    const b = DefaultMessageStore.open({ ...opts, storePathRootDir: `${dir.path}/b` });
    // Epoch 1: b was master, a its slave; both hold the first 100 messages.
    for (let i = 0; i < 100; i++) await put(b, `common-${i}`);
    for (let off = 0; off < b.commitLogMaxOffset;) {
      const c = b.readReplica(off, 64 * 1024)!;
      await a.appendReplicated(off, c.bytes);
      off = c.next;
    }
    const epochsB = new EpochFile(nodeFileSystem, `${dir.path}/b-epoch.json`);
    epochsB.append(1, 0);
    // b writes 20 more that never reach a, then dies; a is elected at epoch 2 and writes 30.
    for (let i = 0; i < 20; i++) await put(b, `lost-${i}`);
    const epochsA = new EpochFile(nodeFileSystem, `${dir.path}/a-epoch.json`);
    epochsA.append(1, 0);
    epochsA.append(2, a.commitLogMaxOffset);
    for (let i = 0; i < 30; i++) await put(a, `epoch2-${i}`);
    assert.ok(b.commitLogMaxOffset > epochsA.divergenceFor(1), "b holds writes past the divergence point");

    const master = new HAMaster(a, { inSyncReplicas: 2, slaveTimeoutMs: 1000, maxGapNotInSync: 1 << 30, housekeepingMs: 5000, transferBatchBytes: 8 * 1024 }, silentLogger, epochsA);
    const server = new RemotingServer({ port: 0 });
    server.registerProcessor(RequestCode.HA_PULL, (req, ctx) => master.pull(req, ctx.connection.remoteAddr));
    const { port } = await server.start();
    const slave = new HASlave(b, { brokerId: 2, masterHaAddr: () => `127.0.0.1:${port}`, holdMs: 100, timeoutMs: 1000, retryMs: 50, epochs: epochsB }, silentLogger);
    slave.start();
    await waitFor(() => b.commitLogMaxOffset === a.commitLogMaxOffset && texts(b).length === 130, { what: "b following a" });
    assert.deepEqual(texts(b), texts(a));
    assert.ok(!texts(b).some((t) => t.startsWith("lost-")), "b's unreplicated writes are gone");
    assert.deepEqual(epochsB.entries, epochsA.entries, "b took a's epochs");
    assert.equal(b.queryMessage("T", "lost-3", 4).length, 0, "the index no longer finds a cut message");
    // Nothing more to cut: later writes of a copy over as usual.
    await put(a, "later");
    await waitFor(() => b.commitLogMaxOffset === a.commitLogMaxOffset, { what: "b copying a's next write" });
    await slave.stop();
    master.stop();
    await server.stop(0);
    await a.close();
    await b.close();
  });

  test("in controller mode a SYNC send waits for every slave of the sync state set, not just for enough of them", async () => {
    using dir = tempDir();
    const opts = { commitLogSegmentBytes: 1024 * 1024, maxMessageSize: 64 * 1024 };
    const a = DefaultMessageStore.open({ ...opts, storePathRootDir: `${dir.path}/a` });
    const b = DefaultMessageStore.open({ ...opts, storePathRootDir: `${dir.path}/b` });
    const master = new HAMaster(a, { inSyncReplicas: 2, slaveTimeoutMs: 300, maxGapNotInSync: 1 << 30, housekeepingMs: 5000, transferBatchBytes: 64 * 1024 }, silentLogger);
    const server = new RemotingServer({ port: 0 });
    server.registerProcessor(RequestCode.HA_PULL, (req, ctx) => master.pull(req, ctx.connection.remoteAddr));
    const { port } = await server.start();
    const slave2 = new HASlave(b, { brokerId: 2, masterHaAddr: () => `127.0.0.1:${port}`, holdMs: 100, timeoutMs: 1000, retryMs: 50 }, silentLogger);
    slave2.start();
    // Slave 3 asked once, from offset 0, and then went quiet: in the set, holding nothing new.
    const { RemotingClient } = await import("../../src/remoting/remoting_client.ts");
    const { createRequest } = await import("../../src/protocol/remoting_command.ts");
    const quiet = new RemotingClient();
    await quiet.invoke(`127.0.0.1:${port}`, createRequest(RequestCode.HA_PULL, { offset: 0, brokerId: 3, holdMs: 0 }));
    const r = await put(a, "m");
    const end = r.physicalOffset + r.size;
    await waitFor(() => b.commitLogMaxOffset >= end, { what: "slave 2 holding the message" });
    assert.equal(await master.waitReplicated(end), "OK", "classic: one slave of two is enough for inSyncReplicas 2");
    assert.equal(await master.waitReplicated(end, [2]), "OK");
    assert.equal(await master.waitReplicated(end, [2, 3]), "FLUSH_SLAVE_TIMEOUT", "slave 3 of the set does not hold it");
    quiet.close();
    await slave2.stop();
    master.stop();
    await server.stop(0);
    await a.close();
    await b.close();
  });
});
