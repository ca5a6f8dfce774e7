import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { IndexService } from "../../../src/store/index_service.ts";
import { FaultFileSystem } from "../../harness/fault_file_system.ts";
import { type FileSystem, nodeFileSystem } from "../../../src/platform/file_system.ts";

const T0 = 1_790_000_000_000;
const open = (dir: string, fs: FileSystem = nodeFileSystem, slots = 200_000) =>
  new IndexService({ dir: `${dir}/index`, fs, slots, maxEntries: 1_000_000 });
/** Syncs that take 10 ms, as a busy disk's do, so that entries surely arrive during them. */
const slowSyncs = (inner: FileSystem): FileSystem => ({
  ...inner,
  open(path, opts) {
    const f = inner.open(path, opts);
    return {
      path: f.path,
      write: (d, p) => f.write(d, p),
      read: (b, p) => f.read(b, p),
      sync: () => new Promise((r) => setTimeout(r, 10)).then(() => f.sync()),
      size: () => f.size(),
      truncate: (n) => f.truncate(n),
      close: () => f.close(),
    };
  },
});
// Offsets 100 apart, like records of a CommitLog.
const add = (idx: IndexService, i: number) => {
  idx.add("T", `key-${i}`, i * 100, T0 + i);
  idx.markDispatched((i + 1) * 100);
};

describe("IndexService", () => {
  test("a flush written over several turns while entries keep coming leaves every key findable after a clean reopen", async () => {
    using dir = tempDir();
    const idx = open(dir.path);
    for (let i = 0; i < 20_000; i++) add(idx, i);
    // 200,000 slots are 800 KB of slot pages, more than one slice: the flush yields, and entries
    // added meanwhile dirty pages it has already written.
    const flushing = idx.flush();
    let added = 20_000;
    while (added < 30_000) {
      await new Promise((r) => setTimeout(r, 0));
      for (let n = 0; n < 1_000; n++) add(idx, added++);
    }
    await flushing;
    await idx.flush(); // as close does: what the first flush missed
    idx.close();

    const again = open(dir.path);
    assert.equal(again.load(false), 30_000 * 100);
    for (let i = 0; i < 30_000; i += 7) {
      assert.deepEqual(again.query("T", `key-${i}`, 4, T0, T0 + 60_000), [i * 100], `key-${i}`);
    }
    again.close();
  });

  test("a flush's header never claims entries added after it began, so a power cut loses none unseen", async () => {
    using dir = tempDir();
    const fault = new FaultFileSystem(slowSyncs(nodeFileSystem));
    const idx = open(dir.path, fault);
    for (let i = 0; i < 5_000; i++) add(idx, i);
    // Entries keep arriving, a batch a turn, for as long as the flush runs (its slices and syncs).
    let done = false;
    const flushing = idx.flush().then(() => (done = true));
    let next = 5_000;
    while (!done) {
      await new Promise((r) => setTimeout(r, 0));
      for (let n = 0; n < 200; n++) add(idx, next++);
    }
    await flushing;
    assert.ok(next > 5_000, "entries arrived during the flush");
    fault.powerCut();

    const again = open(dir.path);
    // The store re-indexes from the durable point, so every entry below it must be on disk.
    const durable = again.load(true)!;
    assert.ok(durable >= 5_000 * 100 && durable < next * 100, `durable point ${durable}`);
    for (let i = 0; i * 100 < durable; i++) assert.deepEqual(again.query("T", `key-${i}`, 4, T0, T0 + 60_000), [i * 100], `key-${i}`);
    again.close();
  });

  test("close during a sliced flush ends it without writing to closed files, and a second flush waits for the first", async () => {
    using dir = tempDir();
    const idx = open(dir.path);
    for (let i = 0; i < 20_000; i++) add(idx, i);
    const first = idx.flush();
    const second = idx.flush();
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await first;
    assert.equal(secondDone, false, "flushes run one at a time");
    await second;
    for (let i = 20_000; i < 40_000; i++) add(idx, i);
    const third = idx.flush();
    idx.close();
    await third; // resolves: no write to a closed handle throws
  });
});
