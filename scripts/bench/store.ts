/**
 * Store benchmark: 1 KiB messages appended to a MessageStore on this machine's disk (/tmp), one
 * JSON line per case:
 *   {"bench":"store","case":"async-1"|"async-256"|"sync-1"|"sync-256","appendsPerSec":…,"mbPerSec":…}
 *   {"bench":"store","case":"read","readsPerSec":…}          (through the ConsumeQueue, 32 per read)
 *   {"bench":"store","case":"recovery","secPerGiB":…}        (crash with nothing checkpointed: full rescan)
 * Each message carries a tag and a unique key, so dispatch builds ConsumeQueue units and index
 * entries as a broker's would. Usage: bun scripts/bench/store.ts [--secs 5] [--recovery-mib 1024]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DefaultMessageStore } from "../../src/store/default_message_store.ts";
import type { FlushDiskType } from "../../src/store/store_config.ts";

const { values } = parseArgs({
  options: {
    secs: { type: "string", default: "5" },
    "recovery-mib": { type: "string", default: "1024" },
    size: { type: "string", default: "1024" },
    cases: { type: "string", default: "async-1,async-256,sync-1,sync-256,read,recovery" },
  },
});
const SECS = Number(values.secs);
const SIZE = Number(values.size);
const QUEUES = 8;
const body = new Uint8Array(SIZE).fill(120);
const cases = values.cases!.split(",");

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), "bolide-bench-store-"));
}

let seq = 0;
const request = () => {
  const n = seq++;
  return { topic: "BenchTopic", queueId: n % QUEUES, body, properties: { TAGS: "bench", UNIQ_KEY: `U${n}` } };
};

async function appendCase(flush: FlushDiskType, inflight: number): Promise<{ dir: string; count: number }> {
  const dir = freshDir();
  const store = DefaultMessageStore.open({ storePathRootDir: dir, flushDiskType: flush, ...(process.env.NOFLUSH ? { flushIntervalCommitLogMs: 3_600_000, flushConsumeQueueIntervalMs: 3_600_000 } : {}) });
  // Warm up: the first touch of fresh pages is slow on this VM (ANCHORS.md note 1).
  await Promise.all(Array.from({ length: 2000 }, () => store.putMessage(request())));
  let count = 0;
  const end = performance.now() + SECS * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (performance.now() < end) {
      const r = await store.putMessage(request());
      if (r.status !== "PUT_OK") throw new Error(`append answered ${r.status}`);
      count++;
    }
  }));
  const secs = (performance.now() - start) / 1000;
  console.log(JSON.stringify({
    bench: "store",
    case: `${flush === "SYNC_FLUSH" ? "sync" : "async"}-${inflight}`,
    appendsPerSec: Math.round(count / secs),
    mbPerSec: Math.round((count * SIZE) / 1e6 / secs * 10) / 10,
  }));
  await store.close();
  return { dir, count };
}

async function readCase(dir: string): Promise<void> {
  const store = DefaultMessageStore.open({ storePathRootDir: dir });
  let reads = 0;
  const start = performance.now();
  const end = start + SECS * 1000;
  const offsets = new Array(QUEUES).fill(0);
  outer: while (performance.now() < end) {
    for (let q = 0; q < QUEUES; q++) {
      const r = store.getMessage("BenchTopic", q, offsets[q], 32);
      if (r.status !== "FOUND") {
        if (offsets.every((o, i) => o >= store.maxOffset("BenchTopic", i))) break outer;
        continue;
      }
      reads += r.messages.length;
      offsets[q] = r.nextBeginOffset;
    }
  }
  const secs = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ bench: "store", case: "read", readsPerSec: Math.round(reads / secs), messages: reads }));
  await store.close();
}

async function recoveryCase(): Promise<void> {
  const dir = freshDir();
  const bytes = Number(values["recovery-mib"]) * 1024 * 1024;
  // Nothing is flushed or checkpointed, so recovery rescans, checks and re-dispatches every record.
  const opts = { storePathRootDir: dir, flushIntervalCommitLogMs: 3_600_000, flushConsumeQueueIntervalMs: 3_600_000 };
  const store = DefaultMessageStore.open(opts);
  while (store.commitLogMaxOffset < bytes) await Promise.all(Array.from({ length: 256 }, () => store.putMessage(request())));
  const logBytes = store.commitLogMaxOffset;
  store.kill();
  const start = performance.now();
  const again = DefaultMessageStore.open(opts);
  const secs = (performance.now() - start) / 1000;
  const recovered = again.commitLogMaxOffset;
  await again.close();
  rmSync(dir, { recursive: true, force: true });
  if (recovered !== logBytes) throw new Error(`recovered ${recovered} of ${logBytes} bytes`);
  console.log(JSON.stringify({ bench: "store", case: "recovery", secPerGiB: Math.round(secs / (logBytes / 2 ** 30) * 1000) / 1000, secs: Math.round(secs * 1000) / 1000, bytes: logBytes }));
}

let readDir: string | undefined;
for (const c of cases) {
  if (c === "read" || c === "recovery") continue;
  const [mode, n] = c.split("-");
  const { dir } = await appendCase(mode === "sync" ? "SYNC_FLUSH" : "ASYNC_FLUSH", Number(n));
  if (c === "async-256" && cases.includes("read")) readDir = dir;
  else rmSync(dir, { recursive: true, force: true });
}
if (readDir) {
  await readCase(readDir);
  rmSync(readDir, { recursive: true, force: true });
}
if (cases.includes("recovery")) await recoveryCase();
