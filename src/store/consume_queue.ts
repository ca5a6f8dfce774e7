import type { FileSystem } from "../platform/file_system.ts";
import { offsetName, parseOffsetName } from "./file_names.ts";
import type { HandleCache } from "./handle_cache.ts";
import { Limits } from "../common/limits.ts";
import { succeeded } from "../util/attempt.ts";

/** One ConsumeQueue unit: commitlog offset int64, size int32, tag hash int64 (RocketMQ §2.2). */
export const CQ_UNIT_BYTES = 20;
/** Staged units of one queue are written once they fill this much. */
const MAX_STAGED_BYTES = Limits.consumeQueueStageBytes;

export interface CqUnit {
  physicalOffset: number;
  size: number;
  tagsCode: number;
}

/**
 * The index of one topic queue: unit N (its logical offset) points at the Nth message of the
 * queue in the CommitLog. Files hold `unitsPerFile` units and are named by their start byte
 * offset. Units are staged and written once per dispatch batch.
 */
export class ConsumeQueue {
  readonly topic: string;
  readonly queueId: number;
  readonly #dir: string;
  readonly #fs: FileSystem;
  readonly #handles: HandleCache;
  readonly #unitsPerFile: number;
  /** Start logical offsets of the files, ascending. */
  #files: number[] = [];
  #maxOffset = 0;
  #minOffset = 0;
  #staged: Uint8Array;
  #stagedView: DataView;
  #stagedFrom = 0;
  #stagedCount = 0;
  #dirty = new Set<number>();

  constructor(opts: { root: string; topic: string; queueId: number; fs: FileSystem; handles: HandleCache; unitsPerFile: number }) {
    this.topic = opts.topic;
    this.queueId = opts.queueId;
    this.#dir = `${opts.root}/${opts.topic}/${opts.queueId}`;
    this.#fs = opts.fs;
    this.#handles = opts.handles;
    this.#unitsPerFile = opts.unitsPerFile;
    this.#staged = new Uint8Array(CQ_UNIT_BYTES * 64);
    this.#stagedView = new DataView(this.#staged.buffer);
    for (const name of this.#fs.list(this.#dir)) {
      const byteOffset = parseOffsetName(name);
      if (byteOffset !== undefined && byteOffset % (CQ_UNIT_BYTES * this.#unitsPerFile) === 0) {
        this.#files.push(byteOffset / CQ_UNIT_BYTES);
      }
    }
    this.#files.sort((a, b) => a - b);
    this.#loadBounds();
  }

  get maxOffset(): number {
    return this.#stagedCount > 0 ? Math.max(this.#maxOffset, this.#stagedFrom + this.#stagedCount) : this.#maxOffset;
  }

  get minOffset(): number {
    return this.#minOffset;
  }

  /** The units found on disk when opened: the last file's whole units, after the first file's start. */
  #loadBounds(): void {
    const last = this.#files.at(-1);
    if (last === undefined) return;
    const size = this.#handles.get(this.#path(last)).size();
    const whole = Math.floor(size / CQ_UNIT_BYTES);
    if (size % CQ_UNIT_BYTES !== 0) this.#handles.get(this.#path(last)).truncate(whole * CQ_UNIT_BYTES); // torn unit
    this.#maxOffset = last + whole;
    this.#minOffset = this.#files[0];
  }

  /**
   * Adds the unit for logical offset `offset`: normally the next one; during recovery it may
   * be one already on disk, rewritten in place. Consecutive units are staged and written together.
   */
  put(offset: number, physicalOffset: number, size: number, tagsCode: number): void {
    if (this.#stagedCount > 0 && offset !== this.#stagedFrom + this.#stagedCount) this.writeStaged();
    if ((this.#stagedCount + 1) * CQ_UNIT_BYTES > this.#staged.byteLength) {
      // On a full disk the units stay staged (the stage grows) until a write goes through; the
      // store refuses appends meanwhile, so it grows by what was in progress.
      if (this.#staged.byteLength < MAX_STAGED_BYTES || !this.tryWriteStaged()) this.#growStage();
    }
    if (this.#stagedCount === 0) this.#stagedFrom = offset;
    writeUnit(this.#stagedView, this.#stagedCount * CQ_UNIT_BYTES, physicalOffset, size, tagsCode);
    this.#stagedCount++;
  }

  /**
   * writeStaged for the append path: false when the write failed (ENOSPC), the units then kept
   * staged, served from memory and written at a later try. (Positioned writes: a retry after a
   * partial one writes the same bytes again.)
   */
  tryWriteStaged(): boolean {
    return succeeded(() => this.writeStaged());
  }

  /** Writes staged units: one write per file they fall in. */
  writeStaged(): void {
    if (this.#stagedCount === 0) return;
    let from = this.#stagedFrom;
    let done = 0;
    while (done < this.#stagedCount) {
      const fileStart = from - (from % this.#unitsPerFile);
      const n = Math.min(this.#stagedCount - done, fileStart + this.#unitsPerFile - from);
      this.#writeAt(from, this.#staged.subarray(done * CQ_UNIT_BYTES, (done + n) * CQ_UNIT_BYTES));
      done += n;
      from += n;
    }
    this.#maxOffset = Math.max(this.#maxOffset, this.#stagedFrom + this.#stagedCount);
    this.#stagedCount = 0;
  }

  #writeAt(offset: number, units: Uint8Array): void {
    const fileStart = offset - (offset % this.#unitsPerFile);
    if (!this.#files.includes(fileStart)) {
      this.#fs.mkdirp(this.#dir);
      this.#files.push(fileStart);
      this.#files.sort((a, b) => a - b);
      if (this.#files.length === 1) this.#minOffset = fileStart;
    }
    this.#handles.get(this.#path(fileStart), true).write(units, (offset - fileStart) * CQ_UNIT_BYTES);
    this.#dirty.add(fileStart);
  }

  /** Reads up to `count` units from `offset` (clamped to the stored range); stays within one file. */
  read(offset: number, count: number): Uint8Array {
    if (!this.tryWriteStaged() && offset >= this.#maxOffset && offset >= this.#stagedFrom) {
      const n = Math.min(count, this.#stagedFrom + this.#stagedCount - offset);
      return n > 0 ? this.#staged.slice((offset - this.#stagedFrom) * CQ_UNIT_BYTES, (offset - this.#stagedFrom + n) * CQ_UNIT_BYTES) : new Uint8Array(0);
    }
    if (offset < this.#minOffset || offset >= this.#maxOffset) return new Uint8Array(0);
    const fileStart = offset - (offset % this.#unitsPerFile);
    const n = Math.min(count, this.#maxOffset - offset, fileStart + this.#unitsPerFile - offset);
    const buf = new Uint8Array(n * CQ_UNIT_BYTES);
    const got = this.#handles.get(this.#path(fileStart)).read(buf, (offset - fileStart) * CQ_UNIT_BYTES);
    return buf.subarray(0, got - (got % CQ_UNIT_BYTES));
  }

  unit(offset: number): CqUnit | undefined {
    const b = this.read(offset, 1);
    return b.byteLength === CQ_UNIT_BYTES ? decodeUnit(b, 0) : undefined;
  }

  /** fdatasync of every file written since the last sync. */
  async sync(): Promise<void> {
    this.writeStaged();
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const start of dirty) {
      if (this.#files.includes(start)) await this.#handles.get(this.#path(start)).sync();
    }
  }

  /** Drops units at the tail that point at or past `logEnd` (lost with the CommitLog's tail), or are empty. */
  truncateAfter(logEnd: number): void {
    this.writeStaged();
    let max = this.#maxOffset;
    while (max > this.#minOffset) {
      const u = this.unit(max - 1);
      if (u && u.size > 0 && u.physicalOffset + u.size <= logEnd) break;
      max--;
    }
    if (max === this.#maxOffset) return;
    for (const start of [...this.#files].reverse()) {
      if (start >= max && start > (this.#files[0] ?? 0)) {
        this.#handles.forget(this.#path(start));
        this.#fs.remove(this.#path(start));
        this.#files = this.#files.filter((f) => f !== start);
      } else {
        this.#handles.get(this.#path(start)).truncate(Math.max(0, max - start) * CQ_UNIT_BYTES);
        break;
      }
    }
    this.#maxOffset = max;
    if (this.#minOffset > max) this.#minOffset = max;
  }

  /** After CommitLog segments below `logMin` are deleted: drops whole files below it, moves minOffset. */
  deleteBelow(logMin: number): void {
    this.writeStaged();
    while (this.#files.length > 1) {
      const start = this.#files[0];
      const lastUnit = this.unit(start + this.#unitsPerFile - 1);
      if (!lastUnit || lastUnit.physicalOffset >= logMin) break;
      this.#handles.forget(this.#path(start));
      this.#fs.remove(this.#path(start));
      this.#files.shift();
      this.#minOffset = this.#files[0];
    }
    // Within the first file, the first unit still pointing into the log (units ascend by offset).
    let lo = this.#minOffset;
    let hi = this.#maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = this.unit(mid);
      if (u && u.physicalOffset >= logMin) hi = mid;
      else lo = mid + 1;
    }
    this.#minOffset = lo;
  }

  /** Deletes the queue's files (its topic was deleted): nothing staged or dirty is written after. */
  destroy(): void {
    for (const start of this.#files) this.#handles.forget(this.#path(start));
    this.#files = [];
    this.#stagedCount = 0;
    this.#dirty.clear();
    this.#maxOffset = this.#minOffset = 0;
    this.#fs.removeTree(this.#dir);
  }

  #growStage(): void {
    const bigger = new Uint8Array(this.#staged.byteLength * 2);
    bigger.set(this.#staged);
    this.#staged = bigger;
    this.#stagedView = new DataView(bigger.buffer);
  }

  #path(fileStart: number): string {
    return `${this.#dir}/${offsetName(fileStart * CQ_UNIT_BYTES)}`;
  }
}

function writeUnit(dv: DataView, at: number, physicalOffset: number, size: number, tagsCode: number): void {
  dv.setUint32(at, Math.floor(physicalOffset / 0x100000000));
  dv.setUint32(at + 4, physicalOffset >>> 0);
  dv.setInt32(at + 8, size);
  dv.setInt32(at + 12, Math.floor(tagsCode / 0x100000000));
  dv.setUint32(at + 16, tagsCode >>> 0);
}

export function decodeUnit(buf: Uint8Array, at: number): CqUnit {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, CQ_UNIT_BYTES);
  return {
    physicalOffset: dv.getUint32(0) * 0x100000000 + dv.getUint32(4),
    size: dv.getInt32(8),
    tagsCode: dv.getInt32(12) * 0x100000000 + dv.getUint32(16),
  };
}
