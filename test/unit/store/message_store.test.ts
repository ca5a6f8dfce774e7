import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { rejectionOf, waitFor } from "../../harness/wait.ts";
import { DefaultMessageStore } from "../../../src/store/default_message_store.ts";
import type { PutMessageRequest } from "../../../src/store/message_store.ts";
import type { StoreConfig } from "../../../src/store/store_config.ts";
import { decodeRecord, recordProperty } from "../../../src/common/message_record.ts";
import { ResponseCode } from "../../../src/common/response_code.ts";
import { InvalidParameterError, MessageIllegalError } from "../../../src/common/errors.ts";
import { javaStringHash } from "../../../src/util/java_hash.ts";
import { nodeFileSystem, type StoreFile } from "../../../src/platform/file_system.ts";
import { utf8 } from "../../../src/util/bytes.ts";

const small = (dir: string, extra: Partial<StoreConfig> = {}) => ({
  storePathRootDir: dir,
  commitLogSegmentBytes: 128 * 1024,
  maxMessageSize: 32 * 1024,
  consumeQueueUnitsPerFile: 50,
  indexHashSlots: 101,
  indexMaxEntries: 400,
  ...extra,
});

const msg = (i: number, queueId = i % 3, size = 100 + (i * 37) % 900): PutMessageRequest => ({
  topic: i % 5 === 0 ? "Other" : "T",
  queueId,
  body: utf8(`m${i}:`.padEnd(size, String.fromCharCode(97 + (i % 26)))),
  properties: { TAGS: `tag${i % 4}`, KEYS: `key${i} group${i % 7}`, UNIQ_KEY: `U${i}` },
  bornTimestamp: 1_700_000_000_000 + i,
});

function readAll(store: DefaultMessageStore, topic: string, queueId: number): string[] {
  const out: string[] = [];
  let offset = store.minOffset(topic, queueId);
  for (;;) {
    const r = store.getMessage(topic, queueId, offset, 32);
    if (r.status !== "FOUND") break;
    for (const raw of r.messages) out.push(new TextDecoder().decode(decodeRecord(raw).body).split(":")[0]);
    offset = r.nextBeginOffset;
  }
  return out;
}

function expected(n: number, topic: string, queueId: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = msg(i);
    if (m.topic === topic && m.queueId === queueId) out.push(`m${i}`);
  }
  return out;
}

describe("MessageStore", () => {
  test("appends and reads back across segment rolls, before and after a clean restart", async () => {
    using dir = tempDir();
    const N = 600;
    let store = DefaultMessageStore.open(small(dir.path));
    const results = await Promise.all(Array.from({ length: N }, (_, i) => store.putMessage(msg(i))));
    assert.ok(store.commitLogMaxOffset > 3 * 128 * 1024, "several segments were filled");
    for (const r of results) assert.equal(r.status, "PUT_OK");
    const check = () => {
      for (const [topic, q] of [["T", 0], ["T", 1], ["T", 2], ["Other", 0], ["Other", 1], ["Other", 2]] as const) {
        assert.deepEqual(readAll(store, topic, q), expected(N, topic, q), `${topic}/${q}`);
      }
      const m = decodeRecord(store.readRecord(results[123].physicalOffset)!);
      assert.equal(m.topic, "T");
      assert.equal(m.queueOffset, results[123].queueOffset);
      assert.equal(m.physicalOffset, results[123].physicalOffset);
      assert.equal(m.bornTimestamp, 1_700_000_000_123);
      assert.deepEqual(m.properties, { TAGS: "tag3", KEYS: "key123 group4", UNIQ_KEY: "U123" });
      assert.deepEqual(store.queryMessage("T", "key123", 5).map((x) => x.properties.UNIQ_KEY), ["U123"]);
      assert.deepEqual(store.queryMessage("T", "U124", 5).map((x) => x.queueOffset), [results[124].queueOffset]);
      const group = store.queryMessage("T", "group3", 1000).map((x) => x.properties.UNIQ_KEY).sort();
      const want = Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 === 3 && msg(i).topic === "T").map((i) => `U${i}`).sort();
      assert.deepEqual(group, want);
      assert.equal(store.queryMessage("T", "group3", 10).length, 10, "maxNum caps the answer");
    };
    check();
    // An offset that is not the start of a record (as a forged message id would give) serves nothing.
    for (const bad of [results[5].physicalOffset + 1, results[5].physicalOffset + 13, -1, 2 ** 60, 0.5]) {
      assert.equal(store.readRecord(bad), undefined, `offset ${bad}`);
    }
    await store.close();
    store = DefaultMessageStore.open(small(dir.path));
    check();
    // Appends continue at the right offsets after the restart.
    const next = await store.putMessage(msg(N));
    assert.equal(next.queueOffset, expected(N, msg(N).topic, msg(N).queueId).length);
    assert.equal(next.physicalOffset, results.reduce((end, r) => Math.max(end, r.physicalOffset + r.size), 0));
    await store.close();
  });

  test("ConsumeQueue units carry Java's String.hashCode of the tag", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    assert.equal(javaStringHash("abc"), 96354);
    assert.equal(javaStringHash("TagA"), 2598919);
    assert.equal(javaStringHash("a much longer tag, with 中文 too"), hashLikeJava("a much longer tag, with 中文 too"));
    await store.putMessage({ topic: "T", queueId: 0, body: utf8("x"), properties: { TAGS: "TagA" } });
    await store.putMessage({ topic: "T", queueId: 0, body: utf8("y") });
    const r = store.getMessage("T", 0, 0, 10);
    assert.deepEqual(r.units.map((u) => u.tagsCode), [2598919, 0]);
    await store.close();
  });

  test("properties given as the encoded string (as sends carry them) are dispatched the same", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    const props = "a\u0001b\u0002TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001U9\u0002";
    await store.putMessage({ topic: "T", queueId: 0, body: utf8("x"), properties: props });
    await store.putMessage({ topic: "T", queueId: 0, body: utf8("y"), properties: "TAGS\u0001TagB" });
    assert.deepEqual(store.getMessage("T", 0, 0, 10).units.map((u) => u.tagsCode), [javaStringHash("TagA"), javaStringHash("TagB")]);
    for (const key of ["k1", "k2", "U9"]) assert.equal(store.queryMessage("T", key, 5).length, 1, key);
    assert.deepEqual(store.queryMessage("T", "k1", 5)[0].properties, { a: "b", TAGS: "TagA", KEYS: "k1 k2", UNIQ_KEY: "U9" });
    // One property read in place agrees with the full decode, for every name and a missing one.
    const raw = store.getMessage("T", 0, 0, 1).messages[0];
    for (const [k, v] of Object.entries(decodeRecord(raw).properties)) assert.equal(recordProperty(raw, k), v, k);
    assert.equal(recordProperty(raw, "TAG"), undefined, "a prefix of a name is not the name");
    assert.equal(recordProperty(raw, "missing"), undefined);
    await store.close();
  });

  test("properties given as UTF-8 bytes (as clients send them) are indexed by every key, non-ASCII ones too", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    const props = utf8("TAGS\u0001TagA\u0002KEYS\u0001order-1 ключ  x\u0002UNIQ_KEY\u0001ABCDEF\u0002");
    await store.putMessage({ topic: "T", queueId: 1, body: utf8("payload"), properties: props });
    for (const key of ["order-1", "ключ", "x", "ABCDEF"]) {
      const found = store.queryMessage("T", key, 5);
      assert.equal(found.length, 1, key);
      assert.equal(new TextDecoder().decode(found[0].body), "payload");
    }
    assert.equal(store.queryMessage("T", "order", 5).length, 0);
    assert.equal(store.getMessage("T", 1, 0, 1).units[0].tagsCode, javaStringHash("TagA"));
    await store.close();
  });

  test("finds offsets by store time and reports queue bounds", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    const first = await store.putMessage(msg(1, 0));
    const times: number[] = [first.storeTimestamp];
    for (let i = 0; i < 20; i++) times.push((await store.putMessage(msg(1, 0))).storeTimestamp);
    assert.equal(store.offsetForTimestamp("T", 0, 0), 0);
    assert.equal(store.offsetForTimestamp("T", 0, times[10]), times.indexOf(times[10]));
    assert.equal(store.offsetForTimestamp("T", 0, times.at(-1)! + 1), 21);
    assert.equal(store.earliestMessageTime("T", 0), first.storeTimestamp);
    assert.equal(store.minOffset("T", 0), 0);
    assert.equal(store.maxOffset("T", 0), 21);
    assert.equal(store.getMessage("T", 0, 21, 1).status, "OFFSET_OVERFLOW_ONE");
    assert.equal(store.getMessage("T", 0, 50, 1).status, "OFFSET_OVERFLOW_BADLY");
    assert.equal(store.getMessage("T", 9, 0, 1).status, "NO_MESSAGE_IN_QUEUE");
    const capped = store.getMessage("T", 0, 0, 100, 300);
    assert.equal(capped.messages.length, 1, "the byte cap stops after the first message that fills it");
    await store.close();
  });

  test("bad input gets a specific error and stores nothing", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    const cases: [PutMessageRequest, number, RegExp][] = [
      [{ topic: "T", queueId: 0, body: new Uint8Array(0) }, ResponseCode.MESSAGE_ILLEGAL, /empty/],
      [{ topic: "T", queueId: 0, body: new Uint8Array(32 * 1024 + 1) }, ResponseCode.MESSAGE_ILLEGAL, /at most 32768/],
      [{ topic: "T", queueId: -1, body: utf8("x") }, ResponseCode.INVALID_PARAMETER, /queueId -1/],
      [{ topic: "T", queueId: 0, body: utf8("x"), properties: { big: "v".repeat(40_000) } }, ResponseCode.MESSAGE_ILLEGAL, /properties/],
      [{ topic: "T", queueId: 0, body: utf8("x"), properties: { "bad\u0001key": "v" } }, ResponseCode.INVALID_PARAMETER, /separator/],
    ];
    for (const [req, code, why] of cases) {
      const err = await rejectionOf(store.putMessage(req)) as Error & { code: number };
      assert.equal(err.code, code, err.message);
      assert.match(err.message, why);
    }
    assert.equal(store.commitLogMaxOffset, 0);
    assert.equal(store.maxOffset("T", 0), 0);
    await store.close();
  });

  test("tells arrival listeners which queue grew, once the message is readable", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    const seen: string[] = [];
    store.onMessageArrived((topic, queueId, maxOffset) => {
      assert.equal(store.getMessage(topic, queueId, maxOffset - 1, 1).status, "FOUND");
      seen.push(`${topic}/${queueId}@${maxOffset}`);
    });
    await store.putMessage(msg(1, 2));
    await store.putMessages([msg(1, 0), msg(1, 0)]);
    assert.deepEqual(seen, ["T/2@1", "T/0@2"]);
    await store.close();
  });

  test("a second opener of the same store is refused, naming the holder", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(small(dir.path));
    assert.throws(() => DefaultMessageStore.open(small(dir.path)), (e: Error & { code?: number }) =>
      e.code === ResponseCode.SERVICE_NOT_AVAILABLE && new RegExp(`locked by process ${process.pid}`).test(e.message));
    // Another process is refused too, and told which process holds the store.
    const script = `import { DefaultMessageStore } from ${JSON.stringify(new URL("../../../src/store/default_message_store.ts", import.meta.url).pathname)};
      try { DefaultMessageStore.open({ storePathRootDir: ${JSON.stringify(dir.path)}, commitLogSegmentBytes: 128 * 1024, maxMessageSize: 32 * 1024 }); console.log("opened"); }
      catch (e) { console.log(e.message); }`;
    const { spawnSync } = await import("node:child_process");
    const args = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? ["eval", script] : ["-e", script];
    const child = spawnSync(process.execPath, args, { encoding: "utf8" });
    assert.match(child.stdout, new RegExp(`locked by process ${process.pid}`), child.stderr);
    await store.close();
    const again = DefaultMessageStore.open(small(dir.path));
    await again.close();
  });

  test("refuses appends while the disk is above the full ratio, keeps what is stored, and resumes", async () => {
    using dir = tempDir();
    let usage = 0.5;
    const store = DefaultMessageStore.open(small(dir.path, { diskUsage: () => usage }));
    await store.putMessage(msg(1, 0));
    usage = 0.93;
    store.checkDisk();
    const err = await rejectionOf(store.putMessage(msg(2, 0))) as Error & { code: number };
    assert.equal(err.code, ResponseCode.SERVICE_NOT_AVAILABLE);
    assert.match(err.message, /Disk full: usage 93\.0% .* above 90%/);
    assert.deepEqual(readAll(store, "T", 0), ["m1"]);
    usage = 0.6;
    // No retention round needed: a refused append looks at the disk again (at most once a second).
    const r = await waitFor(() => store.putMessage(msg(3, 0)), { what: "appends accepted again", timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(r.queueOffset, 1);
    await store.close();
  });

  test("deletes expired segments at deleteWhen or above the space ratio, trimming queues and index", async () => {
    using dir = tempDir();
    let usage = 0.5;
    const store = DefaultMessageStore.open(small(dir.path, { diskUsage: () => usage, deleteWhen: "99" }));
    for (let i = 0; i < 600; i++) await store.putMessage(msg(i, 0));
    await store.flush();
    const now = Date.now() + 73 * 3600_000; // every segment but the active one has expired
    assert.equal(store.cleanExpiredFiles(now), 0, "neither the hour nor the disk asks for it");
    usage = 0.8;
    store.checkDisk();
    const deleted = store.cleanExpiredFiles(now);
    assert.ok(deleted >= 3, `deleted ${deleted}`);
    const min = store.minOffset("T", 0);
    assert.ok(min > 0);
    const got = store.getMessage("T", 0, min, 1);
    assert.equal(got.status, "FOUND");
    assert.ok(got.units[0].physicalOffset >= store.commitLogMinOffset);
    assert.equal(store.getMessage("T", 0, 0, 1).status, "OFFSET_TOO_SMALL");
    assert.equal(store.queryMessage("T", "U0", 1).length, 0, "the index no longer serves deleted records");
    assert.equal(store.queryMessage("T", "U599", 1).length, 1);
    await store.close();
  });

  test("SYNC_FLUSH answers FLUSH_DISK_TIMEOUT when the disk does not sync in time, and keeps the record", async () => {
    using dir = tempDir();
    const hang = new Promise<void>(() => {});
    const slowFs = {
      ...nodeFileSystem,
      open(path: string, opts?: { create?: boolean }): StoreFile {
        const f = nodeFileSystem.open(path, opts);
        return path.includes("commitlog") ? Object.assign(Object.create(Object.getPrototypeOf(f)), f, { sync: () => hang, write: f.write.bind(f), read: f.read.bind(f), size: f.size.bind(f), truncate: f.truncate.bind(f), close: f.close.bind(f) }) : f;
      },
    };
    const store = DefaultMessageStore.open(small(dir.path, { flushDiskType: "SYNC_FLUSH", syncFlushTimeoutMs: 100, fs: slowFs }));
    const r = await store.putMessage(msg(1, 0));
    assert.equal(r.status, "FLUSH_DISK_TIMEOUT");
    assert.deepEqual(readAll(store, "T", 0), ["m1"]);
    store.kill();
  });
});

function hashLikeJava(s: string): number {
  let h = 0;
  for (const unit of Array.from({ length: s.length }, (_, i) => s.charCodeAt(i))) h = (h * 31 + unit) % 2 ** 32;
  return h >= 2 ** 31 ? h - 2 ** 32 : h;
}

describe("MessageStore replication", () => {
  /** Copies the master's log to the slave in chunks of at most `chunk` bytes; returns the copies made. */
  async function catchUp(master: MessageStore, slave: MessageStore, chunk: number): Promise<number> {
    let copies = 0;
    for (;;) {
      const c = master.readReplica(slave.commitLogMaxOffset, chunk);
      if (!c) return copies;
      assert.equal(await slave.appendReplicated(slave.commitLogMaxOffset, c.bytes), c.next);
      copies++;
    }
  }

  test("a topic the master deleted and made again before the slave heard: the slave drops its old queues at the first record of the new one", async () => {
    using dir = tempDir();
    const master = DefaultMessageStore.open(small(`${dir.path}/m`));
    let slave = DefaultMessageStore.open(small(`${dir.path}/s`));
    const put = (body: string) => master.putMessage({ topic: "T", queueId: 0, body: utf8(`${body}:`), properties: {} });
    for (let i = 0; i < 4; i++) await put(`old${i}`);
    await catchUp(master, slave, 64 * 1024);
    assert.deepEqual(readAll(slave, "T", 0), ["old0", "old1", "old2", "old3"]);
    master.deleteTopic("T");
    await put("new0");
    await catchUp(master, slave, 64 * 1024);
    assert.deepEqual(readAll(slave, "T", 0), ["new0"]);
    assert.deepEqual(readAll(master, "T", 0), ["new0"]);
    // And it stays so after a crash of the slave: recovery rescans the old records and skips them.
    slave.kill();
    slave = DefaultMessageStore.open(small(`${dir.path}/s`));
    assert.deepEqual(readAll(slave, "T", 0), ["new0"]);
    await slave.close();
    await master.close();
  });

  test("a slave fed the master's bytes holds the same log, queues and index, across segments and a restart", async () => {
    using dir = tempDir();
    const master = DefaultMessageStore.open(small(`${dir.path}/m`));
    let slave = DefaultMessageStore.open(small(`${dir.path}/s`));
    const arrived: string[] = [];
    slave.onMessageArrived((topic, queueId) => arrived.push(`${topic}/${queueId}`));
    const N = 600;
    await Promise.all(Array.from({ length: N / 2 }, (_, i) => master.putMessage(msg(i))));
    assert.ok((await catchUp(master, slave, 8 * 1024)) > 10);
    await Promise.all(Array.from({ length: N / 2 }, (_, i) => master.putMessage(msg(N / 2 + i))));
    await catchUp(master, slave, 32 * 1024);
    assert.ok(master.commitLogMaxOffset > 3 * 128 * 1024, "several segments, so blank markers were copied");
    assert.equal(slave.commitLogMaxOffset, master.commitLogMaxOffset);
    assert.ok(arrived.length > 0, "arrival listeners hear replicated messages (long polling on a slave)");
    const same = (s: MessageStore) => {
      for (const [topic, q] of [["T", 0], ["T", 1], ["T", 2], ["Other", 0], ["Other", 1], ["Other", 2]] as const) {
        assert.deepEqual(readAll(s, topic, q), expected(N, topic, q), `${topic}/${q}`);
      }
      assert.deepEqual(s.queryMessage("T", "key123", 5).map((x) => x.properties.UNIQ_KEY), ["U123"]);
      // Byte for byte: every record at the same offset with the same bytes.
      for (let off = 0; off < master.commitLogMaxOffset;) {
        const c = master.readReplica(off, 64 * 1024)!;
        assert.deepEqual(s.readReplica(off, 64 * 1024), c, `chunk at ${off}`);
        off = c.next;
      }
    };
    same(slave);
    await slave.close();
    slave = DefaultMessageStore.open(small(`${dir.path}/s`));
    same(slave);
    await master.putMessage(msg(N));
    await catchUp(master, slave, 32 * 1024);
    assert.equal(slave.commitLogMaxOffset, master.commitLogMaxOffset, "replication resumes after the restart");
    await slave.close();
    await master.close();
  });

  test("bytes that are garbled, misplaced or torn are refused whole and the slave keeps its log", async () => {
    using dir = tempDir();
    const master = DefaultMessageStore.open(small(`${dir.path}/m`));
    const slave = DefaultMessageStore.open(small(`${dir.path}/s`));
    for (let i = 0; i < 10; i++) await master.putMessage(msg(i));
    const first = master.readReplica(0, 600)!;
    await slave.appendReplicated(0, first.bytes);
    const rest = master.readReplica(first.next, 64 * 1024)!;
    const garbled = rest.bytes.slice();
    garbled[garbled.length - 5] ^= 0xff; // inside the last record's body: its CRC no longer matches
    await assert.rejects(slave.appendReplicated(first.next, garbled), MessageIllegalError);
    await assert.rejects(slave.appendReplicated(first.next + 1, rest.bytes), InvalidParameterError);
    await assert.rejects(slave.appendReplicated(first.next, rest.bytes.subarray(0, rest.bytes.length - 3)), MessageIllegalError);
    assert.equal(slave.commitLogMaxOffset, first.next, "nothing of a refused chunk was written");
    assert.equal(await slave.appendReplicated(first.next, rest.bytes), master.commitLogMaxOffset);
    await assert.rejects(master.appendReplicated(master.commitLogMaxOffset, rest.bytes), MessageIllegalError, "records that belong at other offsets");
    await slave.close();
    await master.close();
  });

  test("truncating drops the records at and past a boundary, queues follow, and it holds across a restart and a crash", async () => {
    using dir = tempDir();
    let store = DefaultMessageStore.open(small(dir.path));
    const results = [];
    for (let i = 0; i < 300; i++) results.push(await store.putMessage(msg(i)));
    const cut = results[200].physicalOffset;
    await store.truncateTo(cut);
    assert.equal(store.commitLogMaxOffset, cut);
    const check = (s: MessageStore) => {
      for (const [topic, q] of [["T", 0], ["T", 1], ["Other", 2]] as const) assert.deepEqual(readAll(s, topic, q), expected(200, topic, q), `${topic}/${q}`);
    };
    check(store);
    store.kill(); // a crash right after: the cut is durable
    store = DefaultMessageStore.open(small(dir.path));
    check(store);
    const again = await store.putMessage(msg(200));
    assert.equal(again.physicalOffset, cut, "appends continue at the cut");
    assert.equal(again.queueOffset, results[200].queueOffset, "queue offsets continue where the queue was cut");
    await store.close();
    store = DefaultMessageStore.open(small(dir.path));
    assert.equal(store.commitLogMaxOffset, again.physicalOffset + again.size);
    await assert.rejects(store.truncateTo(-1), RangeError);
    await store.close();
  });
});
