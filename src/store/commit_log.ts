import type { FileSystem, StoreFile } from "../platform/file_system.ts";
import { invariant } from "../util/assert.ts";
import {
  BLANK_MAGIC,
  BLANK_MIN_BYTES,
  checkRecord,
  type Crc32,
  type PreparedRecord,
  writeBlank,
  writeRecord,
} from "../common/message_record.ts";
import { offsetName, parseOffsetName } from "./file_names.ts";

interface Segment {
  start: number;
  path: string;
  file: StoreFile | undefined;
}

/**
 * One append-only log for all topics, in fixed-size segment files named by their start offset.
 * Appends are encoded into a write buffer and go to the file as one positioned write per batch
 * (`writeOut`); a record never spans segments: the rest of a full segment gets a blank marker.
 */
export class CommitLog {
  readonly #dir: string;
  readonly #fs: FileSystem;
  readonly segmentBytes: number;
  readonly #crc32: Crc32;
  readonly #maxOpenSegments: number;
  #segments: Segment[] = [];
  readonly #buf: Uint8Array;
  readonly #bufView: DataView;
  #bufStart = 0;
  #bufLen = 0;
  /** Offset where the next record goes (buffered records included). */
  #writePos = 0;
  /** Everything below this has been handed to the file. */
  #written = 0;
  /** Everything below this is durable. */
  #flushed = 0;

  constructor(opts: { dir: string; fs: FileSystem; segmentBytes: number; bufferBytes: number; crc32: Crc32; maxOpenSegments?: number }) {
    this.#dir = opts.dir;
    this.#fs = opts.fs;
    this.segmentBytes = opts.segmentBytes;
    this.#crc32 = opts.crc32;
    this.#buf = new Uint8Array(opts.bufferBytes);
    this.#bufView = new DataView(this.#buf.buffer);
    this.#maxOpenSegments = opts.maxOpenSegments ?? 16;
    this.#fs.mkdirp(this.#dir);
    for (const name of this.#fs.list(this.#dir)) {
      const start = parseOffsetName(name);
      if (start !== undefined) this.#segments.push({ start, path: `${this.#dir}/${name}`, file: undefined });
    }
    this.#segments.sort((a, b) => a.start - b.start);
  }

  /** Lowest offset still stored. */
  get minOffset(): number {
    return this.#segments[0]?.start ?? this.#writePos;
  }

  get writePosition(): number {
    return this.#writePos;
  }

  get writtenOffset(): number {
    return this.#written;
  }

  get flushedOffset(): number {
    return this.#flushed;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Sets the end of valid data after recovery: later bytes become zeros, later segments go. */
  setEnd(end: number): void {
    for (const s of this.#segments.filter((s) => s.start > end)) {
      this.#closeSegment(s);
      this.#fs.remove(s.path);
    }
    this.#segments = this.#segments.filter((s) => s.start <= end);
    const last = this.#segments.at(-1);
    if (last && end - last.start < this.segmentBytes) {
      const file = this.#file(last);
      // Shrink, then grow again: the tail reads as zeros without writing them.
      file.truncate(end - last.start);
      file.truncate(this.segmentBytes);
    }
    this.#writePos = this.#written = this.#flushed = this.#bufStart = end;
    this.#bufLen = 0;
  }

  /**
   * Scans records from `from` onwards, calling `onRecord` for each valid one, and returns the
   * offset of the first byte that is not a valid record: the end of the log. A record is read
   * whole into a chunk (chunks are larger than the largest record) before it is checked.
   */
  scan(from: number, onRecord: (buf: Uint8Array, at: number, offset: number, size: number) => void, chunkBytes = 8 << 20): number {
    if (this.#segments.length === 0) return from;
    let segIndex = this.#segments.findIndex((s) => from >= s.start && from < s.start + this.segmentBytes);
    if (segIndex < 0) return Math.max(from, this.minOffset);
    const chunk = new Uint8Array(chunkBytes);
    const view = new DataView(chunk.buffer);
    let inSeg = from - this.#segments[segIndex].start;
    for (;;) {
      const seg = this.#segments[segIndex];
      const file = this.#file(seg);
      let base = 0;
      let loaded = 0;
      const load = () => {
        base = inSeg;
        loaded = file.read(chunk.subarray(0, Math.min(chunk.byteLength, this.segmentBytes - inSeg)), inSeg);
      };
      while (inSeg < this.segmentBytes) {
        if (inSeg + 8 > base + loaded) load();
        if (inSeg + 8 > base + loaded) return seg.start + inSeg; // the file is shorter than its size
        const size = view.getInt32(inSeg - base);
        if (size > 8 && inSeg + size > base + loaded && base + loaded < this.segmentBytes) load();
        const check = checkRecord(chunk, inSeg - base, loaded, this.#crc32);
        if (check.kind === "record") {
          onRecord(chunk, inSeg - base, seg.start + inSeg, check.size);
          inSeg += check.size;
        } else if (check.kind === "blank" && inSeg + check.size === this.segmentBytes) {
          inSeg = this.segmentBytes;
        } else {
          return seg.start + inSeg; // zeros (never written), or the first torn or garbled record
        }
      }
      const next = this.#segments[segIndex + 1];
      if (!next || next.start !== seg.start + this.segmentBytes) return seg.start + this.segmentBytes;
      segIndex++;
      inSeg = 0;
    }
  }

  /**
   * Encodes `r` at the write position, rolling to a new segment first if it does not fit.
   * Returns its physical offset. The bytes reach the file at the next `writeOut`.
   */
  append(r: PreparedRecord, queueOffset: number, storeTimestamp: number, storeHost: string | undefined): number {
    invariant(r.size + BLANK_MIN_BYTES <= this.segmentBytes, "record larger than a segment");
    let seg = this.#segments.at(-1);
    if (!seg || this.#writePos - seg.start + r.size + BLANK_MIN_BYTES > this.segmentBytes) {
      if (seg) this.#sealSegment(seg);
      seg = this.#newSegment(seg ? seg.start + this.segmentBytes : this.#writePos);
    }
    if (this.#bufLen + r.size > this.#buf.byteLength) this.writeOut();
    const phys = this.#writePos;
    writeRecord(this.#buf, this.#bufView, this.#bufLen, r, queueOffset, phys, storeTimestamp, storeHost, this.#crc32);
    this.#bufLen += r.size;
    this.#writePos += r.size;
    return phys;
  }

  /** Hands buffered records to the file: one positioned write. */
  writeOut(): void {
    if (this.#bufLen === 0) return;
    const seg = this.#segments.at(-1)!;
    invariant(this.#bufStart >= seg.start && this.#bufStart + this.#bufLen <= seg.start + this.segmentBytes, "write buffer spans segments");
    this.#file(seg).write(this.#buf.subarray(0, this.#bufLen), this.#bufStart - seg.start);
    this.#written = this.#bufStart + this.#bufLen;
    this.#bufStart = this.#written;
    this.#bufLen = 0;
  }

  /**
   * Drops the buffered records that could not be handed to the file (a write failed: the disk is
   * full), so the next append goes where they were and nothing refused reaches the file later.
   * What the failed write may have put in the file past the write position is zeroed where the
   * disk allows, so a recovery does not find refused records there. Returns the bytes dropped.
   */
  discardUnwritten(): number {
    const dropped = this.#bufLen;
    if (dropped === 0) return 0;
    const seg = this.#segments.at(-1)!;
    try {
      this.#file(seg).write(new Uint8Array(dropped), this.#bufStart - seg.start);
    } catch {
      // still no space: the bytes stay as the failed write left them (a partial record fails its check)
    }
    this.#writePos = this.#bufStart;
    this.#bufLen = 0;
    return dropped;
  }

  /** fdatasync of the segment holding `offset` (after setEnd shrank it, so the cut is durable). */
  async syncSegmentAt(offset: number): Promise<void> {
    const seg = this.#segmentOf(offset) ?? this.#segments.at(-1);
    if (seg) await this.#file(seg).sync();
    this.#fs.syncDir(this.#dir);
  }

  /** fdatasync of every segment holding unflushed bytes; returns the offset now durable. */
  async sync(): Promise<number> {
    const target = this.#written;
    if (target <= this.#flushed) return this.#flushed;
    const dirty = this.#segments.filter((s) => s.start + this.segmentBytes > this.#flushed && s.start < target);
    for (const s of dirty) await this.#file(s).sync();
    this.#flushed = Math.max(this.#flushed, target);
    return this.#flushed;
  }

  /**
   * Replication (master side): whole records from `from`, at most `maxBytes` of them (one record
   * even if it is larger), never past the written end or across a segment. A segment's blank
   * filler is sent as its 8-byte marker, and `next` is then the next segment's start. Undefined
   * when nothing is written at `from` yet; RangeError when `from` is no longer stored.
   */
  readChunk(from: number, maxBytes: number): { bytes: Uint8Array; next: number } | undefined {
    if (from >= this.#written) return undefined;
    const seg = this.#segmentOf(from);
    if (!seg) throw new RangeError(`CommitLog offset ${from} is not stored (min ${this.minOffset})`);
    const segEnd = seg.start + this.segmentBytes;
    const limit = Math.min(this.#written, segEnd);
    if (from >= limit) return undefined;
    const buf = this.read(from, Math.min(maxBytes, limit - from));
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let p = 0;
    while (p + BLANK_MIN_BYTES <= buf.byteLength) {
      if (dv.getInt32(p + 4) === BLANK_MAGIC) return { bytes: buf.subarray(0, p + BLANK_MIN_BYTES), next: segEnd };
      const size = dv.getInt32(p);
      invariant(size > 0, "record size in written data");
      if (p + size > buf.byteLength) break;
      p += size;
    }
    if (p > 0) return { bytes: buf.subarray(0, p), next: from + p };
    const size = this.recordSize(from); // one record larger than maxBytes: send it whole
    return { bytes: this.read(from, size), next: from + size };
  }

  /**
   * Replication (slave side): writes bytes copied from the master's log at `offset`, which must
   * be this log's end (or, on an empty log, a segment start). `sealed`: the bytes end with the
   * segment's blank marker, so the next bytes start the next segment.
   */
  appendRaw(offset: number, bytes: Uint8Array, sealed: boolean): void {
    this.writeOut();
    let seg = this.#segments.at(-1);
    if (!seg || offset === seg.start + this.segmentBytes) {
      invariant(offset % this.segmentBytes === 0, "a new segment starts at a multiple of the segment size");
      seg = this.#newSegment(offset);
    }
    invariant(offset === this.#writePos, "replicated bytes start at the end of the log");
    invariant(offset + bytes.byteLength <= seg.start + this.segmentBytes, "replicated bytes stay within a segment");
    this.#file(seg).write(bytes, offset - seg.start);
    this.#writePos = this.#written = this.#bufStart = sealed ? seg.start + this.segmentBytes : offset + bytes.byteLength;
  }

  /** Reads `length` bytes at `offset` (which must be below writtenOffset), within one segment. */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    invariant(offset + length <= this.#written, "read beyond written data");
    const seg = this.#segmentOf(offset);
    if (!seg) throw new RangeError(`CommitLog offset ${offset} is not stored (min ${this.minOffset})`);
    const buf = into ?? new Uint8Array(length);
    const n = this.#file(seg).read(buf.subarray(0, length), offset - seg.start);
    invariant(n === length, "short read inside written data");
    return buf.subarray(0, length);
  }

  /** The size field of the record at `offset`. */
  recordSize(offset: number): number {
    const head = this.read(offset, 4);
    return new DataView(head.buffer, head.byteOffset, 4).getInt32(0);
  }

  /** Segments (other than the active one) last modified before `beforeMs`, oldest first. */
  expiredSegments(beforeMs: number, max: number): number[] {
    const out: number[] = [];
    for (const s of this.#segments.slice(0, -1)) {
      if (out.length >= max) break;
      if (this.#fs.mtimeMs(s.path) < beforeMs) out.push(s.start);
      else break; // keep the log contiguous: stop at the first one still in retention
    }
    return out;
  }

  /** Deletes the oldest segment if it starts at `start`; returns the new minimum offset. */
  deleteSegment(start: number): number {
    const s = this.#segments[0];
    if (!s || s.start !== start || this.#segments.length === 1) return this.minOffset;
    this.#closeSegment(s);
    this.#fs.remove(s.path);
    this.#segments.shift();
    return this.minOffset;
  }

  close(): void {
    for (const s of this.#segments) this.#closeSegment(s);
  }

  #segmentOf(offset: number): Segment | undefined {
    // Segments are contiguous and equal-sized: compute the index instead of searching.
    const first = this.#segments[0];
    if (!first || offset < first.start) return undefined;
    return this.#segments[Math.floor((offset - first.start) / this.segmentBytes)];
  }

  #file(seg: Segment): StoreFile {
    if (!seg.file) {
      seg.file = this.#fs.open(seg.path);
      const open = this.#segments.filter((s) => s.file);
      if (open.length > this.#maxOpenSegments) {
        const victim = open.find((s) => s !== seg && s !== this.#segments.at(-1));
        if (victim) this.#closeSegment(victim);
      }
    }
    return seg.file;
  }

  #closeSegment(seg: Segment): void {
    if (seg.file) {
      try {
        seg.file.close();
      } catch { /* already closed */ }
      seg.file = undefined;
    }
  }

  #sealSegment(seg: Segment): void {
    const used = this.#writePos - seg.start;
    const gap = this.segmentBytes - used;
    if (gap >= BLANK_MIN_BYTES) {
      if (this.#bufLen + BLANK_MIN_BYTES > this.#buf.byteLength) this.writeOut();
      writeBlank(this.#buf, this.#bufLen, gap);
      this.#bufLen += BLANK_MIN_BYTES;
    }
    this.writeOut();
    this.#writePos = this.#written = seg.start + this.segmentBytes;
    this.#bufStart = this.#writePos;
  }

  #newSegment(start: number): Segment {
    const path = `${this.#dir}/${offsetName(start)}`;
    const file = this.#fs.open(path, { create: true });
    // Preallocate to full size (sparse): recovery tells data from never-written space by zeros.
    file.truncate(this.segmentBytes);
    const seg: Segment = { start, path, file };
    this.#segments.push(seg);
    this.#fs.syncDir(this.#dir);
    this.#writePos = this.#written = this.#bufStart = start;
    this.#bufLen = 0;
    return seg;
  }
}
