import { InvalidParameterError, ServiceNotAvailableError, SystemBusyError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { SysFlag, transactionType } from "../common/message.ts";
import { checkRecord, decodeRecord, dispatchInfo, recordStoreTimestamp, type StoredMessage } from "../common/message_record.ts";
import { crc32, crc32Range } from "../platform/crc32.ts";
import { type FileLock, LockHeldError } from "../platform/file_system.ts";
import { Checkpoint } from "./checkpoint.ts";
import { CommitLog } from "./commit_log.ts";
import { ConsumeQueue } from "./consume_queue.ts";
import { DeletedTopics } from "./deleted_topics.ts";
import { readQueue } from "./queue_reader.ts";
import { AppendPipeline } from "./append_pipeline.ts";
import { FlushService } from "./flush_service.ts";
import { recoverLog } from "./recovery.ts";
import { checkReplicaChunk } from "./replica_log.ts";
import { deleteExpiredSegments, retentionDue } from "./retention.ts";
import { HandleCache } from "./handle_cache.ts";
import { IndexService } from "./index_service.ts";
import { type StoreConfig, storeConfig } from "./store_config.ts";
import {
  type ArrivalListener,
  type GetResult,
  indexKeys,
  type MessageStore,
  type PutMessageRequest,
  type PutResult,
  tagsCode,
} from "./message_store.ts";

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
  #deleted!: DeletedTopics;
  readonly #index: IndexService | undefined;
  readonly #checkpoint: Checkpoint;
  readonly #flusher: FlushService;
  readonly #appender: AppendPipeline;
  readonly #listeners: ArrivalListener[] = [];
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  #diskFull = false;
  #diskUsage = 0;
  #diskCheckedAt = 0;
  #closed = false;

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
      this.#deleted = new DeletedTopics(this.#fs, this.#root);
      this.#loadConsumeQueues();
      if (config.messageIndexEnable) {
        this.#index = new IndexService({ dir: `${this.#root}/index`, fs: this.#fs, slots: config.indexHashSlots, maxEntries: config.indexMaxEntries });
      }
      this.#appender = this.#appendPipeline();
      this.#flusher = this.#flushService();
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

  #appendPipeline(): AppendPipeline {
    return new AppendPipeline({
      config: this.config,
      commitLog: this.#commitLog,
      index: this.#index,
      queue: (topic, queueId) => this.#queue(topic, queueId),
      announce: (touched) => this.#announce(touched),
      awaitSync: (end) => this.#flusher.awaitSync(end),
      writeFailed: () => this.checkDisk(),
    }, this.#log);
  }

  /** Tells arrival listeners which queues grew, and the replication listeners where the log ends. */
  #announce(touched: Iterable<ConsumeQueue>): void {
    for (const q of touched) {
      for (const l of this.#listeners) {
        try {
          l(q.topic, q.queueId, q.maxOffset);
        } catch (err) {
          this.#log.error(`arrival listener failed: ${(err as Error).message}`);
        }
      }
    }
    this.#advanced(this.#commitLog.writtenOffset);
  }

  #flushService(): FlushService {
    const closed = () => this.#closed;
    return new FlushService({
      commitLog: this.#commitLog,
      index: this.#index,
      checkpoint: this.#checkpoint,
      get closed() {
        return closed();
      },
      position: this.#appender,
      queues: () => this.#queues.values(),
      writeStagedDispatch: () => this.#appender.writeStagedDispatch(),
    }, this.config, this.#log);
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
    const r = recoverLog({
      commitLog: this.#commitLog,
      index: this.#index,
      checkpoint: this.#checkpoint,
      queues: () => this.#queues.values(),
      redispatch: (buf, at, offset, size, index) => void this.#redispatch(buf, at, offset, size, index),
    }, crashed, this.#log);
    this.#appender.dispatched = r.end;
    this.#flusher.consumeQueueFlushed = r.consumeQueueFlushed;
  }

  /** Dispatches a record already in the CommitLog (recovery, replication); returns the queue it went to. */
  #redispatch(buf: Uint8Array, at: number, offset: number, size: number, index: boolean, replicated = false): ConsumeQueue | undefined {
    if (this.#scanView?.buffer !== buf.buffer || this.#scanView.byteOffset !== buf.byteOffset) this.#scanView = new DataView(buf.buffer, buf.byteOffset);
    const m = dispatchInfo(buf, at, this.#scanView);
    const tx = transactionType(m.sysFlag);
    let q: ConsumeQueue | undefined;
    if (this.#deleted.size > 0 && this.#deleted.hides(m.topic, offset)) return undefined; // its topic was deleted since
    if (tx !== SysFlag.TRANSACTION_PREPARED_TYPE && tx !== SysFlag.TRANSACTION_ROLLBACK_TYPE) {
      q = this.#queue(m.topic, m.queueId);
      if (replicated && m.queueOffset < q.maxOffset) {
        // The master's queue starts again below ours: it deleted the topic and made it anew
        // before this slave's metadata sync saw the deletion. Its old queues go here too.
        this.deleteTopic(m.topic, offset);
        q = this.#queue(m.topic, m.queueId);
      }
      q.put(m.queueOffset, offset, size, tagsCode(m.tags));
    }
    if (index && this.#index) for (const h of m.keyHashes) this.#index.addHash(h, offset, m.storeTimestamp);
    if (m.storeTimestamp > this.#appender.lastStoreTimestamp) this.#appender.lastStoreTimestamp = m.storeTimestamp;
    return q;
  }

  #scanView: DataView | undefined;

  // ---- appending -----------------------------------------------------------------------------

  /** Appends one message; resolves once it is written (ASYNC_FLUSH) or durable (SYNC_FLUSH). */
  putMessage(req: PutMessageRequest): Promise<PutResult> {
    try {
      this.#checkWritable(1);
      return this.#appender.put(req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends several messages in one write; each gets its own result. */
  putMessages(reqs: PutMessageRequest[]): Promise<PutResult[]> {
    try {
      this.#checkWritable(reqs.length);
      return Promise.all(reqs.map((r) => this.#appender.put(r)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #checkWritable(n: number): void {
    if (this.#closed) throw new ServiceNotAvailableError("The message store is shut down");
    // While full, an append looks again (at most once a second): writes resume within a second
    // of space coming back, not at the next retention round.
    if (this.#diskFull && Date.now() - this.#diskCheckedAt >= Limits.diskFullRecheckMs) this.checkDisk();
    if (this.#diskFull) {
      throw new ServiceNotAvailableError(
        `Disk full: usage ${(this.#diskUsage * 100).toFixed(1)}% of ${this.#root} is above ${(this.config.diskFullRatio * 100).toFixed(0)}%; writes resume when space is freed`,
      );
    }
    const inFlight = this.#appender.inFlight;
    if (inFlight + n > this.config.maxPendingAppends) {
      throw new SystemBusyError(`Store busy: ${inFlight} appends in progress (maximum ${this.config.maxPendingAppends})`);
    }
  }

  /** Flushes everything now (CommitLog, ConsumeQueues, index, checkpoint). */
  async flush(): Promise<void> {
    await this.#commitLog.sync();
    await this.#flusher.flushQueues();
  }

  #startServices(): void {
    const c = this.config;
    if (c.flushDiskType === "ASYNC_FLUSH") {
      this.#timers.push(setInterval(() => void this.#flusher.asyncFlush(false), c.flushIntervalCommitLogMs));
    } else {
      this.#timers.push(setInterval(() => this.#flusher.expireSyncWaiters(Date.now()), Math.max(10, Math.min(100, c.syncFlushTimeoutMs / 5))));
    }
    this.#timers.push(setInterval(() => void this.#flusher.flushQueues(), c.flushConsumeQueueIntervalMs));
    this.#timers.push(setInterval(() => this.#appender.writeStagedDispatch(), Limits.dispatchStageIntervalMs));
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
    return readQueue(this.#queues.get(queueKey(topic, queueId)), this.#commitLog, topic, queueId, offset, maxMsgs, maxBytes);
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
      if (m && m.topic === topic && !this.#deleted.hides(topic, offset) && m.storeTimestamp >= begin && m.storeTimestamp <= end && indexKeys(m.properties).includes(key)) out.push(m);
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
    if (this.#appender.busy) throw new InvalidParameterError("A store taking local appends cannot take replicated bytes");
    if (offset !== this.#commitLog.writePosition && !(this.#commitLog.segmentCount === 0 && offset % this.#commitLog.segmentBytes === 0)) {
      throw new InvalidParameterError(`Replicated bytes start at ${offset}, but this CommitLog ends at ${this.#commitLog.writePosition}`);
    }
    const { records, sealed } = checkReplicaChunk(bytes, offset);
    this.#commitLog.appendRaw(offset, bytes, sealed);
    const touched = new Set<ConsumeQueue>();
    for (const r of records) {
      const q = this.#redispatch(bytes, r.at, offset + r.at, r.size, true, true);
      if (q) touched.add(q);
    }
    const end = this.#commitLog.writePosition;
    this.#appender.stage(touched, records.length);
    this.#appender.dispatched = end;
    this.#index?.markDispatched(end);
    for (const q of touched) for (const l of this.#listeners) l(q.topic, q.queueId, q.maxOffset);
    this.#advanced(end);
    if (this.config.flushDiskType === "SYNC_FLUSH" && (await this.#flusher.awaitSync(end)) !== "PUT_OK") {
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
    if (this.#appender.busy) throw new InvalidParameterError("A store taking local appends cannot be truncated");
    if (offset >= this.#commitLog.writePosition) return;
    if (offset < this.#commitLog.minOffset) throw new RangeError(`Cannot truncate to ${offset}: the log starts at ${this.#commitLog.minOffset}`);
    this.#log.warn(`truncating the CommitLog from ${this.#commitLog.writePosition} to ${offset}`);
    this.#appender.writeStagedDispatch();
    this.#commitLog.setEnd(offset);
    await this.#commitLog.syncSegmentAt(offset);
    for (const q of this.#queues.values()) q.truncateAfter(offset);
    this.#appender.dispatched = offset;
    this.#flusher.consumeQueueFlushed = Math.min(this.#flusher.consumeQueueFlushed, offset);
    await this.#flusher.flushQueues();
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
    this.#diskCheckedAt = Date.now();
    return usage;
  }

  /**
   * Deletes CommitLog segments older than fileReservedTime when the hour is in deleteWhen, the
   * disk is above diskMaxUsedSpaceRatio, or `force` is set; then trims ConsumeQueues and the
   * index below the new minimum. Returns how many segments were deleted.
   */
  cleanExpiredFiles(now = Date.now(), force = false): number {
    if (!retentionDue(this.config, this.#diskUsage, now) && !force) return 0;
    const deleted = deleteExpiredSegments(this.#commitLog, this.config, now);
    if (deleted > 0) {
      const logMin = this.#commitLog.minOffset;
      for (const q of this.#queues.values()) q.deleteBelow(logMin);
      this.#index?.deleteBelow(logMin);
      this.#deleted.prune(logMin);
      this.#log.info(`deleted ${deleted} expired CommitLog segments; minimum offset now ${logMin}`);
    }
    return deleted;
  }

  setRetention(r: { fileReservedTimeHours: number; deleteWhen: string; diskMaxUsedSpaceRatio: number }): void {
    Object.assign(this.config, r);
  }

  /**
   * Deletes a topic's queues (RocketMQ's deleteTopics): their files go now; its records stay in
   * the CommitLog until retention deletes their segments, unreachable meanwhile (no queue points
   * at them, recovery and key queries skip them). A topic created again under the name starts
   * at offset 0. Returns how many queues went.
   */
  deleteTopic(topic: string, below = this.#commitLog.writtenOffset): number {
    const queues = [...this.#queues.values()].filter((q) => q.topic === topic);
    if (queues.length === 0) return 0;
    this.#appender.writeStagedDispatch();
    this.#deleted.add(topic, below); // first: a crash after it cannot bring them back
    for (const q of queues) {
      q.destroy();
      this.#queues.delete(queueKey(topic, q.queueId));
    }
    this.#byTopic.delete(topic);
    this.#fs.removeTree(`${this.#root}/consumequeue/${topic}`);
    this.#log.info(`deleted topic ${topic}: ${queues.length} queue(s)`);
    return queues.length;
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
    return this.#appender.dispatched;
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
    this.#appender.completeScheduled();
    await this.#flusher.drainSyncWaiters();
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    // A timed queue flush still running would write the checkpoint after the files are closed.
    await this.#flusher.flushQueues();
    await this.#commitLog.sync();
    for (const q of this.#queues.values()) await q.sync();
    await this.#index?.flush();
    this.#flusher.consumeQueueFlushed = this.#appender.dispatched;
    await this.#flusher.saveCheckpoint();
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
