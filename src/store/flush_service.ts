import type { Logger } from "../common/log.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { CommitLog } from "./commit_log.ts";
import type { ConsumeQueue } from "./consume_queue.ts";
import type { IndexService } from "./index_service.ts";
import type { PutStatus } from "./message_store.ts";
import type { StoreConfig } from "./store_config.ts";

interface SyncWaiter {
  end: number;
  deadline: number;
  resolve(status: PutStatus): void;
}

/** What flushing needs of the store. */
export interface FlushedParts {
  readonly commitLog: CommitLog;
  readonly index: IndexService | undefined;
  readonly checkpoint: Checkpoint;
  readonly closed: boolean;
  /** How far appends are dispatched into ConsumeQueues and the index, and the newest store time. */
  readonly position: { readonly dispatched: number; readonly lastStoreTimestamp: number };
  queues(): Iterable<ConsumeQueue>;
  /** Writes staged ConsumeQueue units and index entries to their files. */
  writeStagedDispatch(): void;
}

/**
 * The store's flush services (RocketMQ's GroupCommitService, FlushRealTimeService and
 * FlushConsumeQueueService): SYNC_FLUSH group commit, where one fdatasync answers every append
 * written before it; ASYNC_FLUSH's interval flush; the ConsumeQueue and index flush; and the
 * checkpoint that records how far each is durable.
 */
export class FlushService {
  /** CommitLog offset up to which ConsumeQueues and the index are durable. */
  consumeQueueFlushed = 0;
  #syncWaiters: SyncWaiter[] = [];
  #syncRunning = false;
  #asyncFlushRunning = false;
  #lastThoroughFlush = Date.now();
  #queueFlushRunning = false;
  #checkpointChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly parts: FlushedParts,
    private readonly config: StoreConfig,
    private readonly log: Logger,
  ) {}

  /** Waits (shutdown) until every append waiting for a sync has its answer. */
  async drainSyncWaiters(): Promise<void> {
    while (this.#syncWaiters.length > 0) await this.#groupCommit();
  }

  /** Resolves once a sync covers `end` (PUT_OK) or after syncFlushTimeout (FLUSH_DISK_TIMEOUT; the data is kept). */
  awaitSync(end: number): Promise<PutStatus> {
    if (this.parts.commitLog.flushedOffset >= end) return Promise.resolve("PUT_OK");
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
      while (this.#syncWaiters.length > 0 && !this.parts.closed) {
        let flushed: number;
        try {
          flushed = await this.parts.commitLog.sync();
        } catch (err) {
          this.log.error(`CommitLog fdatasync failed: ${(err as Error).message}`);
          this.expireSyncWaiters(Infinity);
          break;
        }
        const still: SyncWaiter[] = [];
        for (const w of this.#syncWaiters) (w.end <= flushed ? w.resolve("PUT_OK") : still.push(w));
        this.#syncWaiters = still;
        this.expireSyncWaiters(Date.now());
      }
    } finally {
      this.#syncRunning = false;
    }
  }

  expireSyncWaiters(now: number): void {
    const still: SyncWaiter[] = [];
    for (const w of this.#syncWaiters) (w.deadline <= now ? w.resolve("FLUSH_DISK_TIMEOUT") : still.push(w));
    this.#syncWaiters = still;
  }

  async asyncFlush(force: boolean): Promise<void> {
    if (this.#asyncFlushRunning) return;
    const dirty = this.parts.commitLog.writtenOffset - this.parts.commitLog.flushedOffset;
    const thorough = Date.now() - this.#lastThoroughFlush >= this.config.flushCommitLogThoroughIntervalMs;
    if (dirty <= 0 || (!force && !thorough && dirty < this.config.flushCommitLogLeastPages * 4096)) return;
    this.#asyncFlushRunning = true;
    try {
      await this.parts.commitLog.sync();
      if (thorough) this.#lastThoroughFlush = Date.now();
      await this.saveCheckpoint();
    } catch (err) {
      this.log.error(`CommitLog flush failed: ${(err as Error).message}`);
    } finally {
      this.#asyncFlushRunning = false;
    }
  }

  /** Makes ConsumeQueues and the index durable up to the current dispatch point, then records it. */
  flushQueues(): Promise<void> {
    if (this.#queueFlushRunning) return this.#queueFlush;
    this.#queueFlushRunning = true;
    this.#queueFlush = this.#flushQueuesOnce();
    return this.#queueFlush;
  }

  /** The queue flush in progress (resolved when none): a close waits for it before closing the files. */
  #queueFlush: Promise<void> = Promise.resolve();

  async #flushQueuesOnce(): Promise<void> {
    try {
      const point = this.parts.position.dispatched;
      this.parts.writeStagedDispatch();
      for (const q of this.parts.queues()) await q.sync();
      await this.parts.index?.flush();
      this.consumeQueueFlushed = point;
      await this.saveCheckpoint();
    } catch (err) {
      this.log.error(`ConsumeQueue flush failed: ${(err as Error).message}`);
    } finally {
      this.#queueFlushRunning = false;
    }
  }

  saveCheckpoint(): Promise<void> {
    this.#checkpointChain = this.#checkpointChain.then(() =>
      this.parts.checkpoint.save({
        commitLogFlushed: this.parts.commitLog.flushedOffset,
        consumeQueueFlushed: this.consumeQueueFlushed,
        physicMsgTimestamp: this.parts.position.lastStoreTimestamp,
        logicsMsgTimestamp: this.parts.position.lastStoreTimestamp,
      })
    ).catch((err) => this.log.error(`checkpoint write failed: ${(err as Error).message}`));
    return this.#checkpointChain;
  }
}
