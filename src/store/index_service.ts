import { readInt64, writeInt64 } from "../util/bytes.ts";
import type { FileSystem, StoreFile } from "../platform/file_system.ts";
import { indexKeyHash } from "../common/index_key.ts";
import { offsetName, parseOffsetName } from "./file_names.ts";
import { succeeded } from "../util/attempt.ts";

/**
 * Key → CommitLog offset lookup (RocketMQ's IndexFile, §2.3). Each file: a 40-byte header, a
 * table of hash slots (int32: newest entry of the slot), and 20-byte entries (key hash, offset,
 * seconds since the file's first entry, previous entry of the slot). Entry 0 is unused so that
 * 0 means "none". The active file's slot table lives in memory (slots × 4 bytes, a fixed size),
 * kept in its on-disk byte order so a dirty page reaches the file as one plain write; entries
 * are written once per dispatch batch.
 */
const HEADER_BYTES = 40;
const ENTRY_BYTES = 20;
/** Slots to a 4 KiB page of the slot table: the unit tracked dirty. */
const SLOTS_PER_PAGE = 1024;
/**
 * Slot-table bytes written per event-loop turn by a flush. At 10,000 keys/s every page of a
 * 1,000,000-slot table is dirty each second; writing all 4 MB in one turn stalled the broker
 * (sends and pulls waited) for ~10 ms, so the flush yields between slices of this size.
 */
const FLUSH_SLICE_BYTES = 256 * 1024;

const yieldTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

interface IndexFileState {
  seq: number;
  path: string;
  file: StoreFile;
  beginTimestamp: number;
  endTimestamp: number;
  beginPhyOffset: number;
  /** Dispatch position this file has indexed up to (durable once flushed). */
  endPhyOffset: number;
  count: number;
}

export class IndexService {
  readonly #dir: string;
  readonly #fs: FileSystem;
  readonly #slots: number;
  readonly #maxEntries: number;
  #sealed: IndexFileState[] = [];
  #active: IndexFileState | undefined;
  /** Big-endian int32 per slot, as on disk. */
  #slotBytes: Uint8Array;
  #slotView: DataView;
  #dirtyPages = new Set<number>();
  #staged: Uint8Array;
  #stagedView: DataView;
  #stagedCount = 0;
  #stagedFrom = 0;

  constructor(opts: { dir: string; fs: FileSystem; slots: number; maxEntries: number }) {
    this.#dir = opts.dir;
    this.#fs = opts.fs;
    this.#slots = opts.slots;
    this.#maxEntries = opts.maxEntries;
    this.#slotBytes = new Uint8Array(this.#slots * 4);
    this.#slotView = new DataView(this.#slotBytes.buffer);
    this.#staged = new Uint8Array(ENTRY_BYTES * 256);
    this.#stagedView = new DataView(this.#staged.buffer);
    this.#fs.mkdirp(this.#dir);
  }

  #fileBytes(): number {
    return HEADER_BYTES + this.#slots * 4 + this.#maxEntries * ENTRY_BYTES;
  }

  /**
   * Opens the files. After a crash the active file's slot table is rebuilt from its durable
   * entries (the header's count), since slot pages written after the last flush may be lost.
   * Returns the dispatch position indexed durably, from which entries must be re-added.
   */
  load(crashed: boolean): number | undefined {
    const names = this.#fs.list(this.#dir).filter((n) => parseOffsetName(n) !== undefined);
    for (const name of names) {
      const path = `${this.#dir}/${name}`;
      const file = this.#fs.open(path);
      const h = new Uint8Array(HEADER_BYTES);
      file.read(h, 0);
      const dv = new DataView(h.buffer);
      const st: IndexFileState = {
        seq: parseOffsetName(name)!,
        path,
        file,
        beginTimestamp: readInt64(dv, 0),
        endTimestamp: readInt64(dv, 8),
        beginPhyOffset: readInt64(dv, 16),
        endPhyOffset: readInt64(dv, 24),
        count: Math.max(1, dv.getInt32(36)),
      };
      this.#sealed.push(st);
    }
    const last = this.#sealed.pop();
    if (!last) return undefined;
    this.#active = last;
    if (crashed) this.#rebuildSlots(last);
    else this.#readSlots(last);
    // Entries past the durable count are garbage or will be re-added.
    return last.endPhyOffset;
  }

  #rebuildSlots(st: IndexFileState): void {
    this.#slotBytes.fill(0);
    const chunk = new Uint8Array(ENTRY_BYTES * 4096);
    const dv = new DataView(chunk.buffer);
    for (let i = 1; i < st.count; i += 4096) {
      const n = Math.min(4096, st.count - i);
      st.file.read(chunk.subarray(0, n * ENTRY_BYTES), this.#entryPos(i));
      for (let j = 0; j < n; j++) this.#slotView.setInt32((dv.getInt32(j * ENTRY_BYTES) % this.#slots) * 4, i + j);
    }
    for (let p = 0; p * SLOTS_PER_PAGE < this.#slots; p++) this.#dirtyPages.add(p);
  }

  /** Adds `topic#key` → `physicalOffset`. */
  add(topic: string, key: string, physicalOffset: number, storeTimestamp: number): void {
    this.addHash(indexKeyHash(topic, key), physicalOffset, storeTimestamp);
  }

  /** Adds an entry whose key hash (see keyHash) the caller computed. */
  addHash(hash: number, physicalOffset: number, storeTimestamp: number): void {
    let st = this.#active;
    if (!st || st.count >= this.#maxEntries) st = this.#roll(physicalOffset, storeTimestamp);
    const slot = hash % this.#slots;
    const prev = this.#slotView.getInt32(slot * 4);
    const idx = st.count++;
    if (this.#stagedCount === 0) this.#stagedFrom = idx;
    if ((this.#stagedCount + 1) * ENTRY_BYTES > this.#staged.byteLength && this.#staged.byteLength >= 1024 * 1024) {
      // Bounded: a recovery re-indexing millions of records writes as it goes (on a full disk
      // the entries stay staged, and the stage grows, until a write goes through).
      if (this.tryWriteStaged()) this.#stagedFrom = idx;
    }
    if ((this.#stagedCount + 1) * ENTRY_BYTES > this.#staged.byteLength) {
      const bigger = new Uint8Array(this.#staged.byteLength * 2);
      bigger.set(this.#staged);
      this.#staged = bigger;
      this.#stagedView = new DataView(bigger.buffer);
    }
    const dv = this.#stagedView;
    const at = this.#stagedCount * ENTRY_BYTES;
    dv.setInt32(at, hash);
    dv.setUint32(at + 4, Math.floor(physicalOffset / 0x100000000));
    dv.setUint32(at + 8, physicalOffset >>> 0);
    dv.setInt32(at + 12, Math.max(0, Math.floor((storeTimestamp - st.beginTimestamp) / 1000)));
    dv.setInt32(at + 16, prev);
    this.#stagedCount++;
    this.#slotView.setInt32(slot * 4, idx);
    this.#dirtyPages.add(Math.floor(slot / SLOTS_PER_PAGE));
    if (storeTimestamp > st.endTimestamp) st.endTimestamp = storeTimestamp;
  }

  /** Records how far the dispatcher has indexed (the header's endPhyOffset at the next flush). */
  markDispatched(end: number): void {
    if (this.#active) this.#active.endPhyOffset = end;
  }

  /** writeStaged for the append path: false when the write failed (ENOSPC), the entries kept staged. */
  tryWriteStaged(): boolean {
    return succeeded(() => this.writeStaged());
  }

  writeStaged(): void {
    const st = this.#active;
    if (!st || this.#stagedCount === 0) return;
    st.file.write(this.#staged.subarray(0, this.#stagedCount * ENTRY_BYTES), this.#entryPos(this.#stagedFrom));
    this.#stagedCount = 0;
  }

  /**
   * Makes entries, slots and then the header durable, in that order (two syncs). The header
   * records the count and dispatch point as they were when the entries were written, so entries
   * added while the flush runs are never claimed durable; a slot page may point at such entries,
   * which is harmless: after a crash the slots are rebuilt from the durable entries.
   */
  flush(): Promise<void> {
    // One at a time: a flush that yields must not have a second (say, close's) finish first.
    const run = this.#flushChain.then(() => this.#flushOnce());
    this.#flushChain = run.catch(() => {});
    return run;
  }

  #flushChain: Promise<void> = Promise.resolve();
  #closed = false;

  async #flushOnce(): Promise<void> {
    const st = this.#active;
    if (!st || this.#closed) return;
    this.writeStaged();
    const durable = { count: st.count, endPhyOffset: st.endPhyOffset, endTimestamp: st.endTimestamp };
    const pages = [...this.#dirtyPages].sort((a, b) => a - b);
    this.#dirtyPages.clear();
    let i = 0;
    while (i < pages.length) {
      // Rolled meanwhile (the roll wrote and sealed this file whole), or closed.
      if (this.#active !== st || this.#closed) return;
      // One write per run of consecutive pages, at most a slice a turn.
      let written = 0;
      while (i < pages.length && written < FLUSH_SLICE_BYTES) {
        let j = i + 1;
        while (j < pages.length && pages[j] === pages[j - 1] + 1 && (j - i) * SLOTS_PER_PAGE * 4 < FLUSH_SLICE_BYTES) j++;
        written += this.#writeSlotPages(st, pages[i], pages[j - 1] + 1);
        i = j;
      }
      if (i < pages.length) await yieldTurn();
    }
    await st.file.sync();
    if (this.#active !== st || this.#closed) return;
    this.#writeHeader(st, durable);
    await st.file.sync();
  }

  /** Up to `maxNum` offsets whose key hash matches, newest first, within [begin, end] ms. */
  query(topic: string, key: string, maxNum: number, begin: number, end: number): number[] {
    this.writeStaged();
    const hash = indexKeyHash(topic, key);
    const slot = hash % this.#slots;
    const out: number[] = [];
    const files = [...this.#sealed, ...(this.#active ? [this.#active] : [])].reverse();
    const entry = new Uint8Array(ENTRY_BYTES);
    const dv = new DataView(entry.buffer);
    for (const st of files) {
      if (out.length >= maxNum) break;
      if (st.endTimestamp < begin || st.beginTimestamp > end) continue;
      let idx: number;
      if (st === this.#active) idx = this.#slotView.getInt32(slot * 4);
      else {
        const b = new Uint8Array(4);
        st.file.read(b, HEADER_BYTES + slot * 4);
        idx = new DataView(b.buffer).getInt32(0);
      }
      let guard = st.count;
      while (idx > 0 && idx < st.count && out.length < maxNum && guard-- > 0) {
        st.file.read(entry, this.#entryPos(idx));
        const t = st.beginTimestamp + dv.getInt32(12) * 1000;
        if (dv.getInt32(0) === hash && t >= begin - 1000 && t <= end) {
          out.push(dv.getUint32(4) * 0x100000000 + dv.getUint32(8));
        }
        const prev = dv.getInt32(16);
        if (prev >= idx) break; // chains only go back: anything else is damage
        idx = prev;
      }
    }
    return out;
  }

  /** Deletes sealed files whose entries all point below `logMin`. */
  deleteBelow(logMin: number): void {
    while (this.#sealed.length > 0 && this.#sealed[0].endPhyOffset <= logMin) {
      const st = this.#sealed.shift()!;
      st.file.close();
      this.#fs.remove(st.path);
    }
  }

  close(): void {
    this.#closed = true;
    for (const st of [...this.#sealed, ...(this.#active ? [this.#active] : [])]) {
      try {
        st.file.close();
      } catch { /* gone */ }
    }
  }

  get fileCount(): number {
    return this.#sealed.length + (this.#active ? 1 : 0);
  }

  #roll(physicalOffset: number, storeTimestamp: number): IndexFileState {
    const prev = this.#active;
    if (prev) {
      this.writeStaged();
      this.#writeSlotPages(prev, 0, Math.ceil(this.#slots / SLOTS_PER_PAGE));
      this.#writeHeader(prev);
      this.#sealed.push(prev);
      void prev.file.sync().catch(() => {});
    }
    const seq = prev ? prev.seq + 1 : 1;
    const path = `${this.#dir}/${offsetName(seq)}`;
    const file = this.#fs.open(path, { create: true });
    file.truncate(this.#fileBytes());
    const st: IndexFileState = {
      seq,
      path,
      file,
      beginTimestamp: storeTimestamp,
      endTimestamp: storeTimestamp,
      beginPhyOffset: physicalOffset,
      endPhyOffset: physicalOffset,
      count: 1,
    };
    this.#active = st;
    this.#slotBytes.fill(0);
    this.#dirtyPages.clear();
    this.#writeHeader(st);
    return st;
  }

  /** Writes slot pages [from, to) of the table; returns the bytes written. */
  #writeSlotPages(st: IndexFileState, from: number, to: number): number {
    const begin = from * SLOTS_PER_PAGE * 4;
    const end = Math.min(to * SLOTS_PER_PAGE, this.#slots) * 4;
    st.file.write(this.#slotBytes.subarray(begin, end), HEADER_BYTES + begin);
    return end - begin;
  }

  #readSlots(st: IndexFileState): void {
    st.file.read(this.#slotBytes, HEADER_BYTES);
  }

  #writeHeader(st: IndexFileState, durable: Pick<IndexFileState, "count" | "endPhyOffset" | "endTimestamp"> = st): void {
    const h = new Uint8Array(HEADER_BYTES);
    const dv = new DataView(h.buffer);
    writeInt64(dv, 0, st.beginTimestamp);
    writeInt64(dv, 8, durable.endTimestamp);
    writeInt64(dv, 16, st.beginPhyOffset);
    writeInt64(dv, 24, durable.endPhyOffset);
    dv.setInt32(32, this.#slots);
    dv.setInt32(36, durable.count);
    st.file.write(h, 0);
  }

  #entryPos(idx: number): number {
    return HEADER_BYTES + this.#slots * 4 + idx * ENTRY_BYTES;
  }
}



