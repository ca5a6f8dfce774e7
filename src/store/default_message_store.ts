import { MessageIllegalError, ServiceNotAvailableError, SystemBusyError, InvalidParameterError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import {
  MAX_PROPERTIES_BYTES,
  MessageProperty,
  SysFlag,
  transactionType,
} from "../common/message.ts";
import {
  BLANK_MIN_BYTES,
  checkRecord,
  MAGIC_V1,
  MAGIC_V2,
  Offsets as RecordOffsets,
  decodeRecord,
  dispatchInfo,
  dispatchKeyHashes,
  prepareRecord,
  recordStoreTimestamp,
  storedPropertiesBytes,
  type StoredMessage,
} from "../common/message_record.ts";
import { crc32, crc32Range } from "../platform/crc32.ts";
import { type FileLock, LockHeldError } from "../platform/file_system.ts";
import { invariant } from "../util/assert.ts";
import { deferred, type Deferred } from "../util/deferred.ts";
import { indexKeyHash, topicSeed } from "../common/index_key.ts";
import { readInt64, utf8 } from "../util/bytes.ts";
import { Checkpoint } from "./checkpoint.ts";
import { CommitLog } from "./commit_log.ts";
import { ConsumeQueue, CQ_UNIT_BYTES, decodeUnit } from "./consume_queue.ts";
import { HandleCache } from "./handle_cache.ts";
import { IndexService } from "./index_service.ts";
import { type StoreConfig, storeConfig } from "./store_config.ts";
import {
  type ArrivalListener,
  type GetResult,
  type GetStatus,
  indexKeys,
  type MessageStore,
  type PutMessageRequest,
  type PutResult,
  type PutStatus,
  tagsCode,
} from "./message_store.ts";

const EMPTY = new Uint8Array(0);

interface Pending {
  topic: string;
  queueId: number;
  result: PutResult;
  tags: string | undefined;
  /** Index key hashes (topic#key) of its KEYS values and unique id. */
  keyHashes: number[];
  dispatchToQueue: boolean;
  done: Deferred<PutResult>;
}

interface SyncWaiter {
  end: number;
  deadline: number;
  resolve(status: PutStatus): void;
}

/**
 * The broker's storage engine on disk (RocketMQ's DefaultMessageStore): one CommitLog, a
 * ConsumeQueue per topic queue, an IndexFile for keys, flush services, crash recovery and
 * retention. See docs/store.md.
 */
export class DefaultMessageStore implements MessageStore {
  readonly config: StoreConfig;
  readonly #log: Logger;
  readonly #fs: StoreConfig["fs"];
  readonly #root: string;
  readonly #lock: FileLock;
  readonly #handles: HandleCache;
  readonly #commitLog: CommitLog;
  readonly #queues = new Map<string, ConsumeQueue>();
  readonly #index: IndexService | undefined;
  readonly #checkpoint: Checkpoint;
  readonly #listeners: ArrivalListener[] = [];
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  #pending: Pending[] = [];
  #batchScheduled = false;
  #inFlight = 0;
  #dispatched = 0;
  #consumeQueueFlushed = 0;
  #syncWaiters: SyncWaiter[] = [];
  #syncRunning = false;
  #asyncFlushRunning = false;
  #lastThoroughFlush = Date.now();
  #queueFlushRunning = false;
  #checkpointChain: Promise<void> = Promise.resolve();
  #diskFull = false;
  #diskUsage = 0;
  #closed = false;
  #lastStoreTimestamp = 0;

  /** Opens (and if needed recovers) the store at `config.storePathRootDir`. */
  static open(partial: Partial<StoreConfig> & { storePathRootDir: string }, log: Logger = silentLogger): DefaultMessageStore {
    return new DefaultMessageStore(storeConfig(partial), log);
  }

  setStoreHost(addr: string): void {
    this.config.storeHost = addr;
  }

  private constructor(config: StoreConfig, log: Logger) {
    this.config = config;
    this.#log = log;
    if (config.flushDiskType === "SYNC_FLUSH") this.#earlyBatchBytes = Limits.syncFlushBatchBytes;
    this.#fs = config.fs;
    this.#root = config.storePathRootDir;
    this.#fs.mkdirp(this.#root);
    try {
      this.#lock = this.#fs.lock(`${this.#root}/lock`);
    } catch (err) {
      if (err instanceof LockHeldError) throw new ServiceNotAvailableError(err.message, { cause: err });
      throw err;
    }
    try {
      const abortPath = `${this.#root}/abort`;
      const crashed = this.#fs.exists(abortPath);
      this.#handles = new HandleCache(this.#fs, Limits.maxOpenConsumeQueueFiles);
      this.#checkpoint = new Checkpoint(`${this.#root}/checkpoint`, this.#fs, crc32);
      this.#commitLog = new CommitLog({
        dir: `${this.#root}/commitlog`,
        fs: this.#fs,
        segmentBytes: config.commitLogSegmentBytes,
        bufferBytes: Limits.commitLogWriteBufferBytes,
        crc32: crc32Range,
        maxOpenSegments: Limits.maxOpenCommitLogSegments,
      });
      this.#loadConsumeQueues();
      if (config.messageIndexEnable) {
        this.#index = new IndexService({ dir: `${this.#root}/index`, fs: this.#fs, slots: config.indexHashSlots, maxEntries: config.indexMaxEntries });
      }
      this.#recover(crashed);
      // The abort marker says "running": found at the next start, it means this run crashed.
      this.#fs.writeTextAtomic(abortPath, String(Date.now()));
      this.checkDisk();
      this.#startServices();
    } catch (err) {
      this.#lock.release();
      throw err;
    }
  }

  // ---- recovery ------------------------------------------------------------------------------

  #loadConsumeQueues(): void {
    const root = `${this.#root}/consumequeue`;
    for (const topic of this.#fs.list(root)) {
      for (const qid of this.#fs.list(`${root}/${topic}`)) {
        if (!/^\d+$/.test(qid)) continue;
        this.#queue(topic, Number(qid));
      }
    }
  }

  #recover(crashed: boolean): void {
    const started = Date.now();
    const cp = this.#checkpoint.data;
    // Without index files, every record re-dispatched is indexed again.
    const indexDurable = this.#index ? (this.#index.load(crashed) ?? -1) : Infinity;
    // After a clean stop everything up to the flushed end is consistent. After a crash, rescan
    // from the last point every derived structure had made durable, and rebuild past it.
    let from = crashed
      ? Math.min(cp.consumeQueueFlushed, cp.commitLogFlushed, Math.max(0, indexDurable))
      : cp.commitLogFlushed;
    from = Math.max(from, this.#commitLog.minOffset);
    let records = 0;
    const end = this.#commitLog.scan(from, (buf, at, offset, size) => {
      records++;
      this.#redispatch(buf, at, offset, size, offset >= indexDurable);
    }, Limits.recoveryChunkBytes);
    this.#commitLog.setEnd(end);
    for (const q of this.#queues.values()) q.truncateAfter(end);
    this.#dispatched = end;
    this.#consumeQueueFlushed = Math.min(cp.consumeQueueFlushed, end);
    this.#index?.markDispatched(end);
    if (crashed) {
      this.#log.warn(
        `recovered after a crash: scanned ${records} records from offset ${from}, log ends at ${end} (${Date.now() - started} ms)`,
      );
    }
  }

  /** Dispatches a record already in the CommitLog (recovery, replication); returns the queue it went to. */
  #redispatch(buf: Uint8Array, at: number, offset: number, size: number, index: boolean): ConsumeQueue | undefined {
    if (this.#scanView?.buffer !== buf.buffer || this.#scanView.byteOffset !== buf.byteOffset) this.#scanView = new DataView(buf.buffer, buf.byteOffset);
    const m = dispatchInfo(buf, at, this.#scanView);
    const tx = transactionType(m.sysFlag);
    let q: ConsumeQueue | undefined;
    if (tx !== SysFlag.TRANSACTION_PREPARED_TYPE && tx !== SysFlag.TRANSACTION_ROLLBACK_TYPE) {
      q = this.#queue(m.topic, m.queueId);
      q.put(m.queueOffset, offset, size, tagsCode(m.tags));
    }
    if (index && this.#index) for (const h of m.keyHashes) this.#index.addHash(h, offset, m.storeTimestamp);
    if (m.storeTimestamp > this.#lastStoreTimestamp) this.#lastStoreTimestamp = m.storeTimestamp;
    return q;
  }

  #scanView: DataView | undefined;

  // ---- appending -----------------------------------------------------------------------------

  /** Appends one message; resolves once it is written (ASYNC_FLUSH) or durable (SYNC_FLUSH). */
  putMessage(req: PutMessageRequest): Promise<PutResult> {
    try {
      return this.#put(req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends several messages in one write; each gets its own result. */
  putMessages(reqs: PutMessageRequest[]): Promise<PutResult[]> {
    try {
      this.#checkWritable(reqs.length);
      return Promise.all(reqs.map((r) => this.#put(r)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #checkWritable(n: number): void {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    if (this.#diskFull) {
      throw new ServiceNotAvailableError(
        `Disk full: usage ${(this.#diskUsage * 100).toFixed(1)}% of ${this.#root} is above ${(this.config.diskFullRatio * 100).toFixed(0)}%; writes resume when space is freed`,
      );
    }
    if (this.#inFlight + n > this.config.maxPendingAppends) {
      throw new SystemBusyError(`Store busy: ${this.#inFlight} appends in progress (maximum ${this.config.maxPendingAppends})`);
    }
  }

  #put(req: PutMessageRequest): Promise<PutResult> {
    this.#checkWritable(1);
    if (!(req.body instanceof Uint8Array)) throw new MessageIllegalError("Message body must be bytes");
    if (req.body.byteLength === 0) throw new MessageIllegalError("Message body is empty");
    if (req.body.byteLength > this.config.maxMessageSize) {
      throw new MessageIllegalError(`Message body is ${req.body.byteLength} bytes; at most ${this.config.maxMessageSize} allowed`);
    }
    if (!Number.isInteger(req.queueId) || req.queueId < 0 || req.queueId > Limits.maxQueueId) {
      throw new InvalidParameterError(`queueId ${req.queueId} is out of range 0..${Limits.maxQueueId}`);
    }
    const prepared = prepareRecord({
      topic: req.topic,
      queueId: req.queueId,
      body: req.body,
      flag: req.flag,
      properties: req.properties,
      sysFlag: req.sysFlag,
      bornTimestamp: req.bornTimestamp,
      bornHost: req.bornHost,
      reconsumeTimes: req.reconsumeTimes,
      preparedTransactionOffset: req.preparedTransactionOffset,
    });
    if (storedPropertiesBytes(prepared) > MAX_PROPERTIES_BYTES) {
      throw new MessageIllegalError(`Message properties are ${prepared.propsLength} bytes; at most ${MAX_PROPERTIES_BYTES - 20} allowed`);
    }
    if (prepared.topicBytes.byteLength > Limits.maxSystemTopicNameLength) throw new MessageIllegalError("Topic name too long");

    const tx = transactionType(req.sysFlag ?? 0);
    const toQueue = tx !== SysFlag.TRANSACTION_PREPARED_TYPE && tx !== SysFlag.TRANSACTION_ROLLBACK_TYPE;
    const queue = this.#queue(req.topic, req.queueId);
    // Prepared and rolled-back transaction records take queue offset 0 and no ConsumeQueue unit.
    const queueOffset = toQueue ? queue.maxOffset + this.#stagedFor(queue) : 0;
    // Store time never goes backwards, so a binary search by time over a queue stays valid.
    const now = Math.max(Date.now(), this.#lastStoreTimestamp);
    this.#lastStoreTimestamp = now;
    const phys = this.#commitLog.append(prepared, queueOffset, now, this.config.storeHost);
    invariant(phys + prepared.size === this.#commitLog.writePosition, "an append did not end where the log now ends");
    const done = deferred<PutResult>();
    const raw = req.properties;
    let tags: string | undefined;
    let keyHashes: number[];
    if (raw === undefined || raw instanceof Uint8Array || typeof raw === "string") {
      // Encoded properties (bytes, as a client's send carries them): read without building strings.
      const bytes = typeof raw === "string" ? utf8(raw) : raw ?? EMPTY;
      const d = dispatchKeyHashes(bytes, 0, bytes.byteLength, topicSeed(req.topic));
      tags = d.tags;
      keyHashes = d.hashes;
    } else {
      tags = raw[MessageProperty.TAGS];
      keyHashes = indexKeys(raw).map((k) => indexKeyHash(req.topic, k));
    }
    this.#pending.push({
      topic: req.topic,
      queueId: req.queueId,
      result: { status: "PUT_OK", physicalOffset: phys, size: prepared.size, queueOffset, storeTimestamp: now },
      tags,
      keyHashes,
      dispatchToQueue: toQueue,
      done,
    });
    if (toQueue) this.#reserved.set(queue, (this.#reserved.get(queue) ?? 0) + 1);
    this.#inFlight++;
    // Under SYNC_FLUSH a batch goes out early, so its fdatasync runs while later appends are
    // still being encoded: the disk and the CPU work at the same time.
    this.#pendingBytes += prepared.size;
    if (this.#pendingBytes >= this.#earlyBatchBytes) {
      this.#completeBatch(true);
      return done.promise;
    }
    if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      queueMicrotask(this.#completeBatch);
    }
    return done.promise;
  }

  /** Queue offsets handed out in the current batch but not yet dispatched. */
  readonly #reserved = new Map<ConsumeQueue, number>();
  #stagedFor(q: ConsumeQueue): number {
    return this.#reserved.get(q) ?? 0;
  }

  /** Writes the batch, dispatches it, then acknowledges (after a group fdatasync under SYNC_FLUSH). */
  #pendingBytes = 0;
  /** Bytes after which a batch is written (and, under SYNC_FLUSH, its sync started) without waiting for the turn to end. */
  #earlyBatchBytes = Limits.commitLogWriteBufferBytes / 4;

  /** Queues with staged units, written in bulk (see #writeStagedDispatch). `early`: a batch cut at
   * #earlyBatchBytes before the turn ended; the turn's own completion still runs. */
  readonly #stagedQueues = new Set<ConsumeQueue>();

  readonly #completeBatch = (early = false): void => {
    if (!early) this.#batchScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#reserved.clear();
    if (batch.length === 0) return;
    try {
      this.#commitLog.writeOut();
    } catch (err) {
      this.#inFlight -= batch.length;
      const e = new ServiceNotAvailableError(`CommitLog write failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.done.reject(e);
      return;
    }
    const touched = new Set<ConsumeQueue>();
    let end = this.#dispatched;
    for (const p of batch) {
      const r = p.result;
      if (p.dispatchToQueue) {
        const q = this.#queue(p.topic, p.queueId);
        q.put(r.queueOffset, r.physicalOffset, r.size, tagsCode(p.tags));
        touched.add(q);
      }
      if (this.#index) for (const h of p.keyHashes) this.#index.addHash(h, r.physicalOffset, r.storeTimestamp);
      end = Math.max(end, r.physicalOffset + r.size);
    }
    for (const q of touched) this.#stagedQueues.add(q);
    // Staged units and index entries are visible to readers already (a read writes its queue's
    // staged units first, a flush writes them all), so they reach their files in bulk: once
    // enough are staged, or on the stage timer. A crash loses nothing: recovery rebuilds them.
    this.#stagedDispatchBytes += batch.length * 40;
    if (this.#stagedDispatchBytes >= Limits.dispatchStageBytes) this.#writeStagedDispatch();
    this.#dispatched = end;
    this.#index?.markDispatched(end);
    this.#advanced(this.#commitLog.writtenOffset);
    for (const q of touched) {
      for (const l of this.#listeners) {
        try {
          l(q.topic, q.queueId, q.maxOffset);
        } catch (err) {
          this.#log.error(`arrival listener failed: ${(err as Error).message}`);
        }
      }
    }
    if (this.config.flushDiskType === "SYNC_FLUSH") {
      this.#awaitSync(end).then((status) => {
        this.#inFlight -= batch.length;
        for (const p of batch) {
          p.result.status = status;
          p.done.resolve(p.result);
        }
      });
    } else {
      this.#inFlight -= batch.length;
      for (const p of batch) p.done.resolve(p.result);
    }
  };

  #stagedDispatchBytes = 0;

  #writeStagedDispatch(): void {
    for (const q of this.#stagedQueues) q.writeStaged();
    this.#stagedQueues.clear();
    this.#index?.writeStaged();
    this.#stagedDispatchBytes = 0;
  }

  // ---- flushing ------------------------------------------------------------------------------

  /** Resolves once a sync covers `end` (PUT_OK) or after syncFlushTimeout (FLUSH_DISK_TIMEOUT; the data is kept). */
  #awaitSync(end: number): Promise<PutStatus> {
    if (this.#commitLog.flushedOffset >= end) return Promise.resolve("PUT_OK");
    return new Promise((resolve) => {
      this.#syncWaiters.push({ end, deadline: Date.now() + this.config.syncFlushTimeoutMs, resolve });
      void this.#groupCommit();
    });
  }

  /** One fdatasync covers every append written before it: all waiters it covers are answered together. */
  async #groupCommit(): Promise<void> {
    if (this.#syncRunning) return;
    this.#syncRunning = true;
    try {
      while (this.#syncWaiters.length > 0 && !this.#closed) {
        let flushed: number;
        try {
          flushed = await this.#commitLog.sync();
        } catch (err) {
          this.#log.error(`CommitLog fdatasync failed: ${(err as Error).message}`);
          this.#expireSyncWaiters(Infinity);
          break;
        }
        const still: SyncWaiter[] = [];
        for (const w of this.#syncWaiters) (w.end <= flushed ? w.resolve("PUT_OK") : still.push(w));
        this.#syncWaiters = still;
        this.#expireSyncWaiters(Date.now());
      }
    } finally {
      this.#syncRunning = false;
    }
  }

  #expireSyncWaiters(now: number): void {
    const still: SyncWaiter[] = [];
    for (const w of this.#syncWaiters) (w.deadline <= now ? w.resolve("FLUSH_DISK_TIMEOUT") : still.push(w));
    this.#syncWaiters = still;
  }

  async #asyncFlush(force: boolean): Promise<void> {
    if (this.#asyncFlushRunning) return;
    const dirty = this.#commitLog.writtenOffset - this.#commitLog.flushedOffset;
    const thorough = Date.now() - this.#lastThoroughFlush >= this.config.flushCommitLogThoroughIntervalMs;
    if (dirty <= 0 || (!force && !thorough && dirty < this.config.flushCommitLogLeastPages * 4096)) return;
    this.#asyncFlushRunning = true;
    try {
      await this.#commitLog.sync();
      if (thorough) this.#lastThoroughFlush = Date.now();
      await this.#saveCheckpoint();
    } catch (err) {
      this.#log.error(`CommitLog flush failed: ${(err as Error).message}`);
    } finally {
      this.#asyncFlushRunning = false;
    }
  }

  /** Makes ConsumeQueues and the index durable up to the current dispatch point, then records it. */
  async #flushQueues(): Promise<void> {
    if (this.#queueFlushRunning) return;
    this.#queueFlushRunning = true;
    try {
      const point = this.#dispatched;
      this.#writeStagedDispatch();
      for (const q of this.#queues.values()) await q.sync();
      await this.#index?.flush();
      this.#consumeQueueFlushed = point;
      await this.#saveCheckpoint();
    } catch (err) {
      this.#log.error(`ConsumeQueue flush failed: ${(err as Error).message}`);
    } finally {
      this.#queueFlushRunning = false;
    }
  }

  #saveCheckpoint(): Promise<void> {
    this.#checkpointChain = this.#checkpointChain.then(() =>
      this.#checkpoint.save({
        commitLogFlushed: this.#commitLog.flushedOffset,
        consumeQueueFlushed: this.#consumeQueueFlushed,
        physicMsgTimestamp: this.#lastStoreTimestamp,
        logicsMsgTimestamp: this.#lastStoreTimestamp,
      })
    ).catch((err) => this.#log.error(`checkpoint write failed: ${(err as Error).message}`));
    return this.#checkpointChain;
  }

  /** Flushes everything now (CommitLog, ConsumeQueues, index, checkpoint). */
  async flush(): Promise<void> {
    await this.#commitLog.sync();
    await this.#flushQueues();
  }

  #startServices(): void {
    const c = this.config;
    if (c.flushDiskType === "ASYNC_FLUSH") {
      this.#timers.push(setInterval(() => void this.#asyncFlush(false), c.flushIntervalCommitLogMs));
    } else {
      this.#timers.push(setInterval(() => this.#expireSyncWaiters(Date.now()), Math.max(10, Math.min(100, c.syncFlushTimeoutMs / 5))));
    }
    this.#timers.push(setInterval(() => void this.#flushQueues(), c.flushConsumeQueueIntervalMs));
    this.#timers.push(setInterval(() => this.#writeStagedDispatch(), Limits.dispatchStageIntervalMs));
    this.#timers.push(setInterval(() => {
      // A timer's exception would escape to the process: a vanished directory or a failing
      // statfs is logged, and the next round tries again.
      try {
        this.checkDisk();
        this.cleanExpiredFiles();
      } catch (err) {
        this.#log.error(`disk check or retention failed: ${(err as Error).message}`);
      }
    }, c.cleanResourceIntervalMs));
  }

  // ---- reading -------------------------------------------------------------------------------

  /** Up to `maxMsgs` raw records of a queue from logical `offset` (and at most `maxBytes`). */
  getMessage(topic: string, queueId: number, offset: number, maxMsgs: number, maxBytes = Limits.maxPullBytes): GetResult {
    const q = this.#queues.get(queueKey(topic, queueId));
    const minOffset = q?.minOffset ?? 0;
    const maxOffset = q?.maxOffset ?? 0;
    const result = (status: GetStatus, nextBeginOffset: number): GetResult =>
      ({ status, messages: [], units: [], nextBeginOffset, minOffset, maxOffset });
    if (!q || maxOffset === 0) return result("NO_MESSAGE_IN_QUEUE", 0);
    if (offset < minOffset) return result("OFFSET_TOO_SMALL", minOffset);
    if (offset === maxOffset) return result("OFFSET_OVERFLOW_ONE", offset);
    if (offset > maxOffset) return result("OFFSET_OVERFLOW_BADLY", maxOffset);
    const out = result("FOUND", offset);
    const logMin = this.#commitLog.minOffset;
    let next = offset;
    let bytes = 0;
    while (out.units.length < maxMsgs && next < maxOffset) {
      const unitsBuf = q.read(next, Math.min(maxMsgs - out.units.length, 1024));
      if (unitsBuf.byteLength === 0) break;
      let stop = false;
      for (let i = 0; i < unitsBuf.byteLength; i += CQ_UNIT_BYTES) {
        const u = decodeUnit(unitsBuf, i);
        if (u.physicalOffset < logMin) {
          next++; // its record was deleted by retention
          continue;
        }
        if (out.units.length > 0 && bytes + u.size > maxBytes) {
          stop = true;
          break;
        }
        out.units.push(u);
        bytes += u.size;
        next++;
      }
      if (stop) break;
    }
    // The records land side by side in one buffer: a pull answer whose filter keeps them all
    // sends it as its body, with no per-record buffers and no concatenation.
    const body = new Uint8Array(bytes);
    const view = new DataView(body.buffer);
    let at = 0;
    for (let i = 0; i < out.units.length; i++) {
      const u = out.units[i];
      out.messages.push(this.#commitLog.read(u.physicalOffset, u.size, body.subarray(at, at + u.size)));
      // Read back: the record a ConsumeQueue unit points at is that unit's own, whole.
      invariant(
        view.getInt32(at + RecordOffsets.TOTAL_SIZE) === u.size && (view.getInt32(at + RecordOffsets.MAGIC) === MAGIC_V1 || view.getInt32(at + RecordOffsets.MAGIC) === MAGIC_V2),
        `ConsumeQueue ${topic}:${queueId} points at ${u.physicalOffset}, where no ${u.size}-byte record starts`,
      );
      at += u.size;
    }
    out.body = body;
    out.nextBeginOffset = next;
    if (out.messages.length === 0) out.status = "OFFSET_FOUND_NULL";
    return out;
  }

  /**
   * The raw record at a physical offset, or undefined if no whole, valid record starts there.
   * Offsets may come from users (a message id), so the record is checked before it is served.
   */
  readRecord(physicalOffset: number): Uint8Array | undefined {
    const log = this.#commitLog;
    if (!Number.isSafeInteger(physicalOffset) || physicalOffset < log.minOffset || physicalOffset + 8 > log.writtenOffset) return undefined;
    const segmentLeft = log.segmentBytes - ((physicalOffset - log.minOffset) % log.segmentBytes);
    const size = log.recordSize(physicalOffset);
    if (size < 8 || size > segmentLeft || physicalOffset + size > log.writtenOffset) return undefined;
    const raw = log.read(physicalOffset, size);
    return checkRecord(raw, 0, raw.byteLength, crc32Range).kind === "record" ? raw : undefined;
  }

  lookMessageByOffset(physicalOffset: number): StoredMessage | undefined {
    const raw = this.readRecord(physicalOffset);
    return raw ? decodeRecord(raw) : undefined;
  }

  maxOffset(topic: string, queueId: number): number {
    return this.#queues.get(queueKey(topic, queueId))?.maxOffset ?? 0;
  }

  minOffset(topic: string, queueId: number): number {
    return this.#queues.get(queueKey(topic, queueId))?.minOffset ?? 0;
  }

  /** The first logical offset whose store time is ≥ `timestamp` (maxOffset if none). */
  offsetForTimestamp(topic: string, queueId: number, timestamp: number): number {
    const q = this.#queues.get(queueKey(topic, queueId));
    if (!q) return 0;
    let lo = q.minOffset;
    let hi = q.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = q.unit(mid);
      const t = u ? this.#storeTime(u.physicalOffset) : Infinity;
      if (t < timestamp) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  earliestMessageTime(topic: string, queueId: number): number | undefined {
    const q = this.#queues.get(queueKey(topic, queueId));
    const u = q?.unit(q.minOffset);
    return u ? this.#storeTime(u.physicalOffset) : undefined;
  }

  #storeTime(physicalOffset: number): number {
    if (physicalOffset < this.#commitLog.minOffset) return -Infinity;
    return recordStoreTimestamp(this.#commitLog.read(physicalOffset, 64));
  }

  /** Messages of `topic` whose KEYS or unique id is `key`, newest first, at most `maxNum`. */
  queryMessage(topic: string, key: string, maxNum: number, begin = 0, end = Number.MAX_SAFE_INTEGER): StoredMessage[] {
    if (!this.#index) return [];
    const out: StoredMessage[] = [];
    const seen = new Set<number>();
    // Ask for more than maxNum: hash collisions and duplicates are dropped below.
    for (const offset of this.#index.query(topic, key, Math.min(maxNum * 4 + 16, 10_000), begin, end)) {
      if (out.length >= maxNum) break;
      if (seen.has(offset)) continue;
      seen.add(offset);
      const m = this.lookMessageByOffset(offset);
      // The index keeps whole seconds: the record's own store time decides the range.
      if (m && m.topic === topic && m.storeTimestamp >= begin && m.storeTimestamp <= end && indexKeys(m.properties).includes(key)) out.push(m);
    }
    return out;
  }

  onMessageArrived(listener: ArrivalListener): void {
    this.#listeners.push(listener);
  }

  /** Called with the CommitLog's new written end after every batch of appends (replication waits on it). */
  onCommitLogAdvanced(listener: (end: number) => void): void {
    this.#advanceListeners.push(listener);
  }

  readonly #advanceListeners: ((end: number) => void)[] = [];

  #advanced(end: number): void {
    for (const l of this.#advanceListeners) {
      try {
        l(end);
      } catch (err) {
        this.#log.error(`CommitLog listener failed: ${(err as Error).message}`);
      }
    }
  }

  // ---- replication ---------------------------------------------------------------------------

  /** Master side: whole records from CommitLog offset `from` (see CommitLog.readChunk). */
  readReplica(from: number, maxBytes: number): { bytes: Uint8Array; next: number } | undefined {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    return this.#commitLog.readChunk(from, maxBytes);
  }

  /**
   * Slave side: appends bytes copied from the master's CommitLog at `offset` (this log's end),
   * after checking every record's CRCs, and dispatches them as a local append would be: queue
   * units, index entries, arrival listeners. Resolves with the new end once written (ASYNC_FLUSH)
   * or durable (SYNC_FLUSH). Garbled bytes are refused whole: nothing is written.
   */
  async appendReplicated(offset: number, bytes: Uint8Array): Promise<number> {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    if (this.#pending.length > 0 || this.#inFlight > 0) throw new InvalidParameterError("A store taking local appends cannot take replicated bytes");
    if (offset !== this.#commitLog.writePosition && !(this.#commitLog.segmentCount === 0 && offset % this.#commitLog.segmentBytes === 0)) {
      throw new InvalidParameterError(`Replicated bytes start at ${offset}, but this CommitLog ends at ${this.#commitLog.writePosition}`);
    }
    const records: { at: number; size: number }[] = [];
    let sealed = false;
    for (let p = 0; p < bytes.byteLength;) {
      const c = checkRecord(bytes, p, bytes.byteLength, crc32Range);
      if (c.kind === "blank" && p + BLANK_MIN_BYTES === bytes.byteLength) {
        sealed = true;
        break;
      }
      if (c.kind !== "record") throw new MessageIllegalError(`Replicated bytes at ${offset + p} are not a valid record: ${c.kind === "invalid" ? c.reason : "misplaced blank marker"}`);
      // A record carries its own CommitLog offset: bytes for another place are not these.
      const claimed = readInt64(new DataView(bytes.buffer, bytes.byteOffset + p, c.size), RecordOffsets.PHYSICAL_OFFSET);
      if (claimed !== offset + p) throw new MessageIllegalError(`Replicated record at ${offset + p} says it belongs at ${claimed}`);
      records.push({ at: p, size: c.size });
      p += c.size;
    }
    this.#commitLog.appendRaw(offset, bytes, sealed);
    const touched = new Set<ConsumeQueue>();
    for (const r of records) {
      const q = this.#redispatch(bytes, r.at, offset + r.at, r.size, true);
      if (q) touched.add(q);
    }
    const end = this.#commitLog.writePosition;
    for (const q of touched) this.#stagedQueues.add(q);
    this.#stagedDispatchBytes += records.length * 40;
    if (this.#stagedDispatchBytes >= Limits.dispatchStageBytes) this.#writeStagedDispatch();
    this.#dispatched = end;
    this.#index?.markDispatched(end);
    for (const q of touched) for (const l of this.#listeners) l(q.topic, q.queueId, q.maxOffset);
    this.#advanced(end);
    if (this.config.flushDiskType === "SYNC_FLUSH" && (await this.#awaitSync(end)) !== "PUT_OK") {
      throw new ServiceNotAvailableError(`Replicated bytes up to ${end} were written but not synced within ${this.config.syncFlushTimeoutMs} ms`);
    }
    return end;
  }

  /**
   * Replication: drops every record at or past `offset`, a record boundary (a former master's
   * writes that the new master never had). ConsumeQueues and the checkpoint follow at once; index
   * entries past it stay, and queries skip them since they check the record they point at.
   */
  async truncateTo(offset: number): Promise<void> {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    if (this.#pending.length > 0 || this.#inFlight > 0) throw new InvalidParameterError("A store taking local appends cannot be truncated");
    if (offset >= this.#commitLog.writePosition) return;
    if (offset < this.#commitLog.minOffset) throw new RangeError(`Cannot truncate to ${offset}: the log starts at ${this.#commitLog.minOffset}`);
    this.#log.warn(`truncating the CommitLog from ${this.#commitLog.writePosition} to ${offset}`);
    this.#writeStagedDispatch();
    this.#commitLog.setEnd(offset);
    await this.#commitLog.syncSegmentAt(offset);
    for (const q of this.#queues.values()) q.truncateAfter(offset);
    this.#dispatched = offset;
    this.#consumeQueueFlushed = Math.min(this.#consumeQueueFlushed, offset);
    await this.#flushQueues();
    this.#advanced(offset);
  }

  // ---- retention and disk space --------------------------------------------------------------

  /** Re-reads disk usage; refuses appends above diskFullRatio and accepts them again below it. */
  checkDisk(): number {
    const usage = this.config.diskUsage ? this.config.diskUsage() : this.#fs.diskUsage(this.#root).usedRatio;
    const full = usage > this.config.diskFullRatio;
    if (full !== this.#diskFull) {
      const pct = (usage * 100).toFixed(1);
      if (full) this.#log.error(`disk usage ${pct}% is above ${this.config.diskFullRatio * 100}%: refusing appends`);
      else this.#log.warn(`disk usage ${pct}% is back below ${this.config.diskFullRatio * 100}%: accepting appends`);
    }
    this.#diskFull = full;
    this.#diskUsage = usage;
    return usage;
  }

  /**
   * Deletes CommitLog segments older than fileReservedTime when the hour is in deleteWhen, the
   * disk is above diskMaxUsedSpaceRatio, or `force` is set; then trims ConsumeQueues and the
   * index below the new minimum. Returns how many segments were deleted.
   */
  cleanExpiredFiles(now = Date.now(), force = false): number {
    const hours = this.config.deleteWhen.split(";").map((h) => Number(h));
    const timeToDelete = hours.includes(new Date(now).getHours());
    const spaceToDelete = this.#diskUsage > this.config.diskMaxUsedSpaceRatio;
    if (!timeToDelete && !spaceToDelete && !force) return 0;
    const before = now - this.config.fileReservedTimeHours * 3600_000;
    let deleted = 0;
    for (const start of this.#commitLog.expiredSegments(before, this.config.deleteFileBatchMax)) {
      this.#commitLog.deleteSegment(start);
      deleted++;
    }
    if (deleted > 0) {
      const logMin = this.#commitLog.minOffset;
      for (const q of this.#queues.values()) q.deleteBelow(logMin);
      this.#index?.deleteBelow(logMin);
      this.#log.info(`deleted ${deleted} expired CommitLog segments; minimum offset now ${logMin}`);
    }
    return deleted;
  }

  // ---- state and shutdown --------------------------------------------------------------------

  get commitLogMinOffset(): number {
    return this.#commitLog.minOffset;
  }

  get commitLogMaxOffset(): number {
    return this.#commitLog.writePosition;
  }

  get commitLogFlushedOffset(): number {
    return this.#commitLog.flushedOffset;
  }

  get dispatchedOffset(): number {
    return this.#dispatched;
  }

  get isDiskFull(): boolean {
    return this.#diskFull;
  }

  topicQueues(): { topic: string; queueId: number; minOffset: number; maxOffset: number }[] {
    return [...this.#queues.values()].map((q) => ({ topic: q.topic, queueId: q.queueId, minOffset: q.minOffset, maxOffset: q.maxOffset }));
  }

  /** Stops taking appends, waits for those in progress, flushes everything and removes the abort marker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Let the batch in progress finish and its acknowledgements go out first.
    if (this.#batchScheduled) this.#completeBatch();
    while (this.#syncWaiters.length > 0) await this.#groupCommit();
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#commitLog.sync();
    for (const q of this.#queues.values()) await q.sync();
    await this.#index?.flush();
    this.#consumeQueueFlushed = this.#dispatched;
    await this.#saveCheckpoint();
    this.#fs.remove(`${this.#root}/abort`);
    this.#release();
  }

  /** For tests: stop as a killed process would, flushing nothing (the abort marker stays). */
  kill(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#release();
  }

  #release(): void {
    this.#commitLog.close();
    this.#index?.close();
    this.#handles.closeAll();
    this.#checkpoint.close();
    this.#lock.release();
  }

  /** Queues by topic, then id: no key string is built on the append path. */
  readonly #byTopic = new Map<string, ConsumeQueue[]>();

  #queue(topic: string, queueId: number): ConsumeQueue {
    let list = this.#byTopic.get(topic);
    if (!list) this.#byTopic.set(topic, list = []);
    let q = list[queueId];
    if (!q) {
      q = new ConsumeQueue({
        root: `${this.#root}/consumequeue`,
        topic,
        queueId,
        fs: this.#fs,
        handles: this.#handles,
        unitsPerFile: this.config.consumeQueueUnitsPerFile,
      });
      this.#queues.set(queueKey(topic, queueId), q);
      list[queueId] = q;
    }
    return q;
  }
}

const queueKey = (topic: string, queueId: number): string => `${topic}\u0000${queueId}`;
