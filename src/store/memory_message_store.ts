import { InvalidParameterError, MessageIllegalError, ServiceNotAvailableError, SystemBusyError } from "../common/errors.ts";
import { Limits, MiB } from "../common/limits.ts";
import { MAX_PROPERTIES_BYTES, MessageProperty, SysFlag, transactionType } from "../common/message.ts";
import {
  checkRecord,
  decodeRecord,
  Offsets as RecordOffsets,
  prepareRecord,
  storedPropertiesBytes,
  type StoredMessage,
  writeRecord,
} from "../common/message_record.ts";
import { crc32Range } from "../platform/crc32.ts";
import { readInt64 } from "../util/bytes.ts";
import { invariant } from "../util/assert.ts";
import type { CqUnit } from "./consume_queue.ts";
import {
  type ArrivalListener,
  type GetResult,
  type GetStatus,
  indexKeys,
  type MessageStore,
  type PutMessageRequest,
  type PutResult,
  tagsCode,
} from "./message_store.ts";

export interface MemoryStoreOptions {
  /** Record bytes held at most; past this, appends fail with SYSTEM_BUSY (default 256 MiB). */
  maxBytes?: number;
  maxMessageSize?: number;
  /** Records older than this are dropped by cleanExpiredFiles (default 72 h, as on disk). */
  fileReservedTimeHours?: number;
  storeHost?: string;
}

interface Unit extends CqUnit {
  storeTimestamp: number;
}

interface Queue {
  topic: string;
  queueId: number;
  /** Logical offset of units[0]. */
  min: number;
  units: Unit[];
}

/**
 * A MessageStore in memory, for tests of what runs above the store (delay levels, timers,
 * transactions, the broker's processors) without a disk. Records have RocketMQ's layout, written
 * by the same code as on disk, at the physical offsets a log would give them, so everything that
 * reads raw records works unchanged. Bounded by `maxBytes`; nothing survives the process.
 */
export class MemoryMessageStore implements MessageStore {
  readonly #maxBytes: number;
  readonly #maxMessageSize: number;
  #reservedMs: number;
  #storeHost: string;
  /** Records in log order, and their physical offsets (a binary search finds one). */
  #records: Uint8Array[] = [];
  #offsets: number[] = [];
  #min = 0;
  #end = 0;
  #bytes = 0;
  readonly #queues = new Map<string, Queue>();
  /** "topic#key" → physical offsets, oldest first. */
  readonly #index = new Map<string, number[]>();
  readonly #listeners: ArrivalListener[] = [];
  readonly #advanceListeners: ((end: number) => void)[] = [];
  #lastStoreTimestamp = 0;
  #closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.#maxBytes = opts.maxBytes ?? 256 * MiB;
    this.#maxMessageSize = opts.maxMessageSize ?? Limits.maxMessageSize;
    this.#reservedMs = (opts.fileReservedTimeHours ?? 72) * 3600_000;
    this.#storeHost = opts.storeHost ?? "127.0.0.1:0";
  }

  setStoreHost(addr: string): void {
    this.#storeHost = addr;
  }

  putMessage(req: PutMessageRequest): Promise<PutResult> {
    try {
      const r = this.#put(req);
      this.#announce([r]);
      return Promise.resolve(r.result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  putMessages(reqs: PutMessageRequest[]): Promise<PutResult[]> {
    try {
      const done = reqs.map((r) => this.#put(r));
      this.#announce(done);
      return Promise.resolve(done.map((d) => d.result));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #put(req: PutMessageRequest): { result: PutResult; queue: Queue | undefined } {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    if (!(req.body instanceof Uint8Array)) throw new MessageIllegalError("Message body must be bytes");
    if (req.body.byteLength === 0) throw new MessageIllegalError("Message body is empty");
    if (req.body.byteLength > this.#maxMessageSize) {
      throw new MessageIllegalError(`Message body is ${req.body.byteLength} bytes; at most ${this.#maxMessageSize} allowed`);
    }
    if (!Number.isInteger(req.queueId) || req.queueId < 0 || req.queueId > Limits.maxQueueId) {
      throw new InvalidParameterError(`queueId ${req.queueId} is out of range 0..${Limits.maxQueueId}`);
    }
    const prepared = prepareRecord({ ...req, properties: req.properties });
    if (storedPropertiesBytes(prepared) > MAX_PROPERTIES_BYTES) {
      throw new MessageIllegalError(`Message properties are ${prepared.propsLength} bytes; at most ${MAX_PROPERTIES_BYTES - 20} allowed`);
    }
    if (prepared.topicBytes.byteLength > Limits.maxSystemTopicNameLength) throw new MessageIllegalError("Topic name too long");
    if (this.#bytes + prepared.size > this.#maxBytes) throw new SystemBusyError(`Memory store full: ${this.#bytes} of ${this.#maxBytes} bytes held`);
    const tx = transactionType(req.sysFlag ?? 0);
    const toQueue = tx !== SysFlag.TRANSACTION_PREPARED_TYPE && tx !== SysFlag.TRANSACTION_ROLLBACK_TYPE;
    const queue = toQueue ? this.#queue(req.topic, req.queueId) : undefined;
    const queueOffset = queue ? queue.min + queue.units.length : 0;
    const now = Math.max(Date.now(), this.#lastStoreTimestamp);
    this.#lastStoreTimestamp = now;
    const raw = new Uint8Array(prepared.size);
    const phys = this.#end;
    writeRecord(raw, new DataView(raw.buffer), 0, prepared, queueOffset, phys, now, this.#storeHost, crc32Range);
    // Read back what was written, as the disk store's CommitLog checks its segments.
    invariant(checkRecord(raw, 0, raw.byteLength, crc32Range).kind === "record", "a record written in memory does not read back");
    this.#append(raw, phys);
    const m = decodeRecord(raw);
    queue?.units.push({ physicalOffset: phys, size: raw.byteLength, tagsCode: tagsCode(m.properties[MessageProperty.TAGS]), storeTimestamp: now });
    this.#indexRecord(m);
    return { result: { status: "PUT_OK", physicalOffset: phys, size: raw.byteLength, queueOffset, storeTimestamp: now }, queue };
  }

  #append(raw: Uint8Array, phys: number): void {
    this.#records.push(raw);
    this.#offsets.push(phys);
    this.#end = phys + raw.byteLength;
    this.#bytes += raw.byteLength;
  }

  #indexRecord(m: StoredMessage): void {
    for (const k of indexKeys(m.properties)) {
      const key = `${m.topic}#${k}`;
      let list = this.#index.get(key);
      if (!list) this.#index.set(key, list = []);
      list.push(m.physicalOffset);
    }
  }

  #announce(done: { queue: Queue | undefined }[]): void {
    const touched = new Set<Queue>();
    for (const d of done) if (d.queue) touched.add(d.queue);
    for (const q of touched) for (const l of this.#listeners) l(q.topic, q.queueId, q.min + q.units.length);
    for (const l of this.#advanceListeners) l(this.#end);
  }

  getMessage(topic: string, queueId: number, offset: number, maxMsgs: number, maxBytes = Limits.maxPullBytes): GetResult {
    const q = this.#queues.get(`${topic}\u0000${queueId}`);
    const minOffset = q?.min ?? 0;
    const maxOffset = q ? q.min + q.units.length : 0;
    const result = (status: GetStatus, nextBeginOffset: number): GetResult => ({ status, messages: [], units: [], nextBeginOffset, minOffset, maxOffset });
    if (!q || maxOffset === 0) return result("NO_MESSAGE_IN_QUEUE", 0);
    if (offset < minOffset) return result("OFFSET_TOO_SMALL", minOffset);
    if (offset === maxOffset) return result("OFFSET_OVERFLOW_ONE", offset);
    if (offset > maxOffset) return result("OFFSET_OVERFLOW_BADLY", maxOffset);
    const out = result("FOUND", offset);
    let bytes = 0;
    let next = offset;
    while (out.units.length < maxMsgs && next < maxOffset) {
      const u = q.units[next - q.min];
      if (out.units.length > 0 && bytes + u.size > maxBytes) break;
      out.units.push({ physicalOffset: u.physicalOffset, size: u.size, tagsCode: u.tagsCode });
      out.messages.push(this.#recordAt(u.physicalOffset)!);
      bytes += u.size;
      next++;
    }
    const body = new Uint8Array(bytes);
    let at = 0;
    for (const m of out.messages) {
      body.set(m, at);
      at += m.byteLength;
    }
    out.body = body;
    out.nextBeginOffset = next;
    if (out.messages.length === 0) out.status = "OFFSET_FOUND_NULL";
    return out;
  }

  readRecord(physicalOffset: number): Uint8Array | undefined {
    return this.#recordAt(physicalOffset);
  }

  lookMessageByOffset(physicalOffset: number): StoredMessage | undefined {
    const raw = this.#recordAt(physicalOffset);
    return raw ? decodeRecord(raw) : undefined;
  }

  maxOffset(topic: string, queueId: number): number {
    const q = this.#queues.get(`${topic}\u0000${queueId}`);
    return q ? q.min + q.units.length : 0;
  }

  minOffset(topic: string, queueId: number): number {
    return this.#queues.get(`${topic}\u0000${queueId}`)?.min ?? 0;
  }

  offsetForTimestamp(topic: string, queueId: number, timestamp: number): number {
    const q = this.#queues.get(`${topic}\u0000${queueId}`);
    if (!q) return 0;
    let lo = 0;
    let hi = q.units.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (q.units[mid].storeTimestamp < timestamp) lo = mid + 1;
      else hi = mid;
    }
    return q.min + lo;
  }

  earliestMessageTime(topic: string, queueId: number): number | undefined {
    return this.#queues.get(`${topic}\u0000${queueId}`)?.units[0]?.storeTimestamp;
  }

  queryMessage(topic: string, key: string, maxNum: number, begin = 0, end = Number.MAX_SAFE_INTEGER): StoredMessage[] {
    const out: StoredMessage[] = [];
    const offsets = this.#index.get(`${topic}#${key}`) ?? [];
    for (let i = offsets.length - 1; i >= 0 && out.length < maxNum; i--) {
      const m = this.lookMessageByOffset(offsets[i]);
      if (m && m.storeTimestamp >= begin && m.storeTimestamp <= end) out.push(m);
    }
    return out;
  }

  onMessageArrived(listener: ArrivalListener): void {
    this.#listeners.push(listener);
  }

  onCommitLogAdvanced(listener: (end: number) => void): void {
    this.#advanceListeners.push(listener);
  }

  readReplica(from: number, maxBytes: number): { bytes: Uint8Array; next: number } | undefined {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    let i = this.#indexOf(from);
    if (i < 0) return undefined;
    const parts: Uint8Array[] = [];
    let bytes = 0;
    for (; i < this.#records.length; i++) {
      const r = this.#records[i];
      if (parts.length > 0 && bytes + r.byteLength > maxBytes) break;
      parts.push(r);
      bytes += r.byteLength;
    }
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return { bytes: out, next: from + bytes };
  }

  appendReplicated(offset: number, bytes: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new ServiceNotAvailableError("The message store is shut down"));
    if (offset !== this.#end) return Promise.reject(new InvalidParameterError(`Replicated bytes start at ${offset}, but this log ends at ${this.#end}`));
    const records: { at: number; size: number }[] = [];
    for (let p = 0; p < bytes.byteLength;) {
      const c = checkRecord(bytes, p, bytes.byteLength, crc32Range);
      if (c.kind !== "record") {
        return Promise.reject(new MessageIllegalError(`Replicated bytes at ${offset + p} are not a valid record: ${c.kind === "invalid" ? c.reason : "blank marker"}`));
      }
      const claimed = readInt64(new DataView(bytes.buffer, bytes.byteOffset + p, c.size), RecordOffsets.PHYSICAL_OFFSET);
      if (claimed !== offset + p) return Promise.reject(new MessageIllegalError(`Replicated record at ${offset + p} says it belongs at ${claimed}`));
      records.push({ at: p, size: c.size });
      p += c.size;
    }
    const touched: { queue: Queue | undefined }[] = [];
    for (const r of records) {
      const raw = bytes.slice(r.at, r.at + r.size);
      const m = decodeRecord(raw);
      this.#append(raw, offset + r.at);
      const tx = transactionType(m.sysFlag);
      let queue: Queue | undefined;
      if (tx !== SysFlag.TRANSACTION_PREPARED_TYPE && tx !== SysFlag.TRANSACTION_ROLLBACK_TYPE) {
        queue = this.#queue(m.topic, m.queueId);
        queue.units.push({ physicalOffset: m.physicalOffset, size: r.size, tagsCode: tagsCode(m.properties[MessageProperty.TAGS]), storeTimestamp: m.storeTimestamp });
      }
      this.#indexRecord(m);
      this.#lastStoreTimestamp = Math.max(this.#lastStoreTimestamp, m.storeTimestamp);
      touched.push({ queue });
    }
    this.#announce(touched);
    return Promise.resolve(this.#end);
  }

  truncateTo(offset: number): Promise<void> {
    if (offset >= this.#end) return Promise.resolve();
    const i = this.#indexOf(offset);
    if (i < 0) return Promise.reject(new RangeError(`Cannot truncate to ${offset}: no record starts there`));
    for (const r of this.#records.slice(i)) this.#bytes -= r.byteLength;
    this.#records.length = i;
    this.#offsets.length = i;
    this.#end = offset;
    for (const q of this.#queues.values()) {
      while (q.units.length > 0 && q.units[q.units.length - 1].physicalOffset >= offset) q.units.pop();
    }
    for (const l of this.#advanceListeners) l(this.#end);
    return Promise.resolve();
  }

  setRetention(r: { fileReservedTimeHours: number }): void {
    this.#reservedMs = r.fileReservedTimeHours * 3600_000;
  }

  /** Drops a topic's queues and key index; its records stay until retention drops them. */
  deleteTopic(topic: string): number {
    let n = 0;
    for (const [key, q] of this.#queues) {
      if (q.topic !== topic) continue;
      this.#queues.delete(key);
      n++;
    }
    for (const key of [...this.#index.keys()]) if (key.startsWith(`${topic}#`)) this.#index.delete(key);
    return n;
  }

  checkDisk(): number {
    return this.#bytes / this.#maxBytes;
  }

  cleanExpiredFiles(now = Date.now(), force = false): number {
    const before = force ? Infinity : now - this.#reservedMs;
    let n = 0;
    // The newest record always stays: the log's end is where the next append goes.
    while (this.#records.length > 1 && decodeRecord(this.#records[0]).storeTimestamp < before) {
      this.#bytes -= this.#records[0].byteLength;
      this.#records.shift();
      this.#offsets.shift();
      n++;
    }
    if (n === 0) return 0;
    this.#min = this.#offsets[0];
    for (const q of this.#queues.values()) {
      while (q.units.length > 0 && q.units[0].physicalOffset < this.#min) {
        q.units.shift();
        q.min++;
      }
    }
    return n;
  }

  get commitLogMinOffset(): number {
    return this.#min;
  }

  get commitLogMaxOffset(): number {
    return this.#end;
  }

  get commitLogFlushedOffset(): number {
    return this.#end;
  }

  get dispatchedOffset(): number {
    return this.#end;
  }

  get isDiskFull(): boolean {
    return this.#bytes >= this.#maxBytes;
  }

  topicQueues(): { topic: string; queueId: number; minOffset: number; maxOffset: number }[] {
    return [...this.#queues.values()].map((q) => ({ topic: q.topic, queueId: q.queueId, minOffset: q.min, maxOffset: q.min + q.units.length }));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  kill(): void {
    this.#closed = true;
  }

  #queue(topic: string, queueId: number): Queue {
    const key = `${topic}\u0000${queueId}`;
    let q = this.#queues.get(key);
    if (!q) this.#queues.set(key, q = { topic, queueId, min: 0, units: [] });
    return q;
  }

  /** Index in #records of the record starting at `offset`, or -1. */
  #indexOf(offset: number): number {
    let lo = 0;
    let hi = this.#offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const o = this.#offsets[mid];
      if (o === offset) return mid;
      if (o < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #recordAt(offset: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(offset)) return undefined;
    const i = this.#indexOf(offset);
    return i < 0 ? undefined : this.#records[i];
  }
}
