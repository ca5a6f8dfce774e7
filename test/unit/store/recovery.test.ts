import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { Prng } from "../../harness/prng.ts";
import { DefaultMessageStore } from "../../../src/store/default_message_store.ts";
import type { MessageStore, PutResult } from "../../../src/store/message_store.ts";
import { decodeRecord } from "../../../src/common/message_record.ts";
import { FaultFileSystem } from "../../harness/fault_file_system.ts";
import { nodeFileSystem } from "../../../src/platform/file_system.ts";
import { offsetName } from "../../../src/store/file_names.ts";

const SEGMENT = 48 * 1024;
const config = (dir: string, extra = {}) => ({
  storePathRootDir: dir,
  commitLogSegmentBytes: SEGMENT,
  maxMessageSize: 2048,
  consumeQueueUnitsPerFile: 16,
  indexHashSlots: 31,
  indexMaxEntries: 64,
  // No timed flush during the test: what is durable is what the test made durable.
  flushIntervalCommitLogMs: 3_600_000,
  flushConsumeQueueIntervalMs: 3_600_000,
  ...extra,
});
const QUEUES = 3;

interface Written {
  result: PutResult;
  queueId: number;
  body: string;
}

function bodyOf(i: number, r: Prng): string {
  return `#${i}#`.padEnd(40 + r.int(1400), String.fromCharCode(65 + (i % 26)));
}

function served(store: MessageStore): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (let q = 0; q < QUEUES; q++) {
    const bodies: string[] = [];
    let offset = 0;
    for (;;) {
      const r = store.getMessage("T", q, offset, 64);
      if (r.status !== "FOUND") break;
      for (const raw of r.messages) bodies.push(new TextDecoder().decode(decodeRecord(raw).body));
      offset = r.nextBeginOffset;
    }
    out.set(q, bodies);
  }
  return out;
}

describe("MessageStore recovery", () => {
  test("after its tail is cut or garbled at 1,000 random positions, serves exactly the records before the damage", async () => {
    using root = tempDir();
    const seed = Number(process.env.RECOVERY_SEED ?? Date.now() % 2 ** 31);
    const r = new Prng(seed);
    const template = join(root.path, "template");
    const store = DefaultMessageStore.open(config(template));
    const written: Written[] = [];
    for (let i = 0; i < 300; i++) {
      const queueId = r.int(QUEUES);
      const body = bodyOf(i, r);
      written.push({ result: await store.putMessage({ topic: "T", queueId, body: new TextEncoder().encode(body), properties: { KEYS: `k${i}` } }), queueId, body });
    }
    const logEnd = store.commitLogMaxOffset;
    assert.ok(logEnd > 4 * SEGMENT, "the records span several segments");
    store.kill(); // a crash: nothing flushed, the abort marker stays

    // Damage can hit a record or a segment's end marker; bytes of padding after a marker hold nothing.
    const items: { start: number; end: number; w?: Written }[] = written.map((w) => ({ start: w.result.physicalOffset, end: w.result.physicalOffset + w.result.size, w }));
    for (let i = 0; i + 1 < written.length; i++) {
      const end = items[i].end;
      if (Math.floor(end / SEGMENT) !== Math.floor(items[i + 1].start / SEGMENT)) items.push({ start: end, end: end + 8 });
    }
    items.sort((a, b) => a.start - b.start);

    const TRIALS = 1000;
    for (let t = 0; t < TRIALS; t++) {
      const dir = join(root.path, `trial${t}`);
      cpSync(template, dir, { recursive: true });
      const p = r.int(logEnd);
      const seg = Math.floor(p / SEGMENT) * SEGMENT;
      const file = join(dir, "commitlog", offsetName(seg));
      let damaged: [number, number];
      if (r.int(2) === 0) {
        truncateSync(file, p - seg);
        damaged = [p, seg + SEGMENT];
      } else {
        const bytes = readFileSync(file);
        const k = 1 + r.int(Math.min(8, seg + SEGMENT - p));
        for (let j = 0; j < k; j++) bytes[p - seg + j] ^= 1 + r.int(255);
        writeFileSync(file, bytes);
        damaged = [p, p + k];
      }
      const firstBad = items.find((it) => it.end > damaged[0] && it.start < damaged[1]);
      const cut = firstBad ? firstBad.start : logEnd;
      const survivors = written.filter((w) => w.result.physicalOffset < cut);

      const s = DefaultMessageStore.open(config(dir));
      try {
        const got = served(s);
        for (let q = 0; q < QUEUES; q++) {
          const want = survivors.filter((w) => w.queueId === q).map((w) => w.body);
          assert.deepEqual(got.get(q), want, `trial ${t} (seed ${seed}): damage [${damaged}] cut ${cut}, queue ${q}`);
        }
        // Nothing past the damage is served by id either, and appends continue where the log ends.
        const lost = written.find((w) => w.result.physicalOffset >= cut);
        if (lost) assert.equal(s.lookMessageByOffset(lost.result.physicalOffset), undefined, `trial ${t}: a lost record is not served`);
        const next = await s.putMessage({ topic: "T", queueId: 0, body: new TextEncoder().encode("after") });
        const fits = cut % SEGMENT + next.size + 8 <= SEGMENT;
        assert.equal(next.physicalOffset, fits ? cut : Math.floor(cut / SEGMENT) * SEGMENT + SEGMENT, `trial ${t}: append position`);
        assert.equal(next.queueOffset, survivors.filter((w) => w.queueId === 0).length, `trial ${t}: queue offset`);
      } finally {
        s.kill(); // no flushing needed: the trial's directory goes
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 240_000);

  test("SYNC_FLUSH: a power cut after acknowledgements loses no acknowledged record", async () => {
    using dir = tempDir();
    const faulty = new FaultFileSystem(nodeFileSystem);
    const store = DefaultMessageStore.open(config(dir.path, { flushDiskType: "SYNC_FLUSH", fs: faulty }));
    const acked: Written[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const batch = Array.from({ length: 40 }, (_, i) => {
        const n = wave * 40 + i;
        const body = `sync-${n}`.padEnd(200 + (n % 300), "s");
        return store.putMessage({ topic: "T", queueId: n % QUEUES, body: new TextEncoder().encode(body) })
          .then((result) => result.status === "PUT_OK" && acked.push({ result, queueId: n % QUEUES, body }));
      });
      await Promise.all(batch);
    }
    // More appends in flight when the power goes: they may or may not survive, but must not harm the rest.
    for (let i = 0; i < 10; i++) void store.putMessage({ topic: "T", queueId: 0, body: new TextEncoder().encode(`late-${i}`) }).catch(() => {});
    assert.equal(acked.length, 200);
    assert.ok(faulty.syncs > 0);
    faulty.powerCut({ tearNewestWrite: true });
    store.kill();

    const again = DefaultMessageStore.open(config(dir.path));
    const got = served(again);
    for (let q = 0; q < QUEUES; q++) {
      const want = acked.filter((w) => w.queueId === q).sort((a, b) => a.result.queueOffset - b.result.queueOffset).map((w) => w.body);
      assert.deepEqual(got.get(q)!.filter((b) => !b.startsWith("late-")), want, `queue ${q}`);
    }
    await again.close();
  });

  test("ASYNC_FLUSH: a power cut loses only the records newer than the last flush", async () => {
    using dir = tempDir();
    const faulty = new FaultFileSystem(nodeFileSystem);
    const store = DefaultMessageStore.open(config(dir.path, { fs: faulty }));
    const put = (n: number) => store.putMessage({ topic: "T", queueId: n % QUEUES, body: new TextEncoder().encode(`async-${n}`.padEnd(300, "a")) });
    for (let n = 0; n < 100; n++) await put(n);
    await store.flush();
    for (let n = 100; n < 150; n++) assert.equal((await put(n)).status, "PUT_OK");
    faulty.powerCut();
    store.kill();

    const again = DefaultMessageStore.open(config(dir.path));
    const got = [...served(again).values()].flat().map((b) => Number(b.split("-")[1].replace(/a+$/, "")));
    assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    // The store goes on from there.
    assert.equal((await again.putMessage({ topic: "T", queueId: 0, body: new Uint8Array([1]) })).queueOffset, 34);
    await again.close();
  });

  test("a CommitLog write that fails (ENOSPC) refuses its batch, and nothing refused is stored later or found by a recovery", async () => {
    using dir = tempDir();
    let full = false;
    // The disk fills mid-write: half the bytes land, then ENOSPC (as a real full disk does).
    const fs = {
      ...nodeFileSystem,
      open(path: string, opts?: { create?: boolean }) {
        const f = nodeFileSystem.open(path, opts);
        if (!path.includes("commitlog")) return f;
        return {
          get path() {
            return f.path;
          },
          write(data: Uint8Array, position: number) {
            if (!full) return f.write(data, position);
            f.write(data.subarray(0, data.byteLength >> 1), position);
            throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
          },
          read: (b: Uint8Array, p: number) => f.read(b, p),
          sync: () => f.sync(),
          size: () => f.size(),
          truncate: (n: number) => f.truncate(n),
          close: () => f.close(),
        };
      },
    };
    const store = DefaultMessageStore.open(config(dir.path, { fs }));
    const put = (b: string) => store.putMessage({ topic: "T", queueId: 0, body: new TextEncoder().encode(b.padEnd(200, ".")) });
    const before = [];
    for (const b of ["a", "b", "c"]) before.push(await put(b));
    full = true;
    const refused = await Promise.allSettled([put("x"), put("y")]);
    assert.deepEqual(refused.map((r) => r.status), ["rejected", "rejected"]);
    assert.match(String((refused[0] as PromiseRejectedResult).reason), /CommitLog write failed: ENOSPC/);
    full = false;
    const later = [await put("d"), await put("e")];
    assert.deepEqual(later.map((r) => r.queueOffset), [3, 4], "the queue goes on where the refused ones would have been");
    // In the CommitLog too: the refused records were dropped, not written after the disk recovered.
    assert.equal(later[0].physicalOffset, before[2].physicalOffset + before[2].size, "the next record follows the last stored one");
    const bodies = (s: MessageStore) => served(s).get(0)!.map((b) => b.replace(/\.+$/, ""));
    assert.deepEqual(bodies(store), ["a", "b", "c", "d", "e"]);
    store.kill(); // a crash with nothing checkpointed: the recovery rescans the whole CommitLog
    const again = DefaultMessageStore.open(config(dir.path));
    assert.deepEqual(bodies(again), ["a", "b", "c", "d", "e"], "no refused record was found by the recovery");
    await again.close();
  });

  test("a topic deleted before a crash stays deleted: recovery does not put its records back, and its files are gone", async () => {
    using dir = tempDir();
    const store = DefaultMessageStore.open(config(dir.path));
    const put = (topic: string, body: string) => store.putMessage({ topic, queueId: 0, body: new TextEncoder().encode(body), properties: { KEYS: body } });
    for (let i = 0; i < 5; i++) await put("Gone", `old${i}`);
    await put("Kept", "kept");
    assert.equal(store.deleteTopic("Gone"), 1);
    assert.equal(nodeFileSystem.exists(join(dir.path, "consumequeue", "Gone")), false, "its ConsumeQueue files are removed");
    await put("Gone", "new0");
    store.kill(); // a crash: nothing flushed, so recovery rescans every record, the old ones too
    const again = DefaultMessageStore.open(config(dir.path));
    try {
      const bodies = again.getMessage("Gone", 0, 0, 32).messages.map((r) => new TextDecoder().decode(decodeRecord(r).body));
      assert.deepEqual(bodies, ["new0"]);
      assert.equal(again.maxOffset("Kept", 0), 1);
      assert.deepEqual(again.queryMessage("Gone", "old1", 10), []);
      assert.equal(again.queryMessage("Gone", "new0", 10).length, 1);
    } finally {
      await again.close();
    }
  });
});
