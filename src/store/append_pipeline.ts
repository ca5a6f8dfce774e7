import { InvalidParameterError, MessageIllegalError, ServiceNotAvailableError } from "../common/errors.ts";
import { indexKeyHash, topicSeed } from "../common/index_key.ts";
import { Limits } from "../common/limits.ts";
import type { Logger } from "../common/log.ts";
import { MAX_PROPERTIES_BYTES, MessageProperty, SysFlag, transactionType } from "../common/message.ts";
import { dispatchKeyHashes, prepareRecord, storedPropertiesBytes } from "../common/message_record.ts";
import { invariant } from "../util/assert.ts";
import { utf8 } from "../util/bytes.ts";
import { deferred, type Deferred } from "../util/deferred.ts";
import type { CommitLog } from "./commit_log.ts";
import type { ConsumeQueue } from "./consume_queue.ts";
import type { IndexService } from "./index_service.ts";
import { indexKeys, type PutMessageRequest, type PutResult, type PutStatus, tagsCode } from "./message_store.ts";
import type { StoreConfig } from "./store_config.ts";

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

/** What the append pipeline needs of the store. */
export interface AppendHost {
  readonly config: StoreConfig;
  readonly commitLog: CommitLog;
  readonly index: IndexService | undefined;
  queue(topic: string, queueId: number): ConsumeQueue;
  /** Tells listeners which queues grew and where the log now ends. */
  announce(touched: Iterable<ConsumeQueue>): void;
  awaitSync(end: number): Promise<PutStatus>;
  /** A CommitLog write failed (a full disk, most likely): the store looks at the disk at once. */
  writeFailed(err: unknown): void;
}

/**
 * The store's append path (RocketMQ's CommitLog.putMessage and ReputMessageService in one):
 * appends of one event-loop turn are encoded into the CommitLog's write buffer, written with one
 * positioned write, dispatched to their ConsumeQueues and the index, and acknowledged together
 * (after one group fdatasync under SYNC_FLUSH). Queue offsets are handed out at append time.
 */
export class AppendPipeline {
  /** CommitLog offset up to which records are in their ConsumeQueues and the index. */
  dispatched = 0;
  /** Store time never goes backwards, so a binary search by time over a queue stays valid. */
  lastStoreTimestamp = 0;
  #pending: Pending[] = [];
  #batchScheduled = false;
  #inFlight = 0;

  constructor(private readonly host: AppendHost, private readonly log: Logger) {
    if (host.config.flushDiskType === "SYNC_FLUSH") this.#earlyBatchBytes = Limits.syncFlushBatchBytes;
  }

  /** Appends accepted and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether appends are pending or unacknowledged (replication and truncation wait for none). */
  get busy(): boolean {
    return this.#pending.length > 0 || this.#inFlight > 0;
  }

  /** Completes the batch scheduled for the end of this turn now (close). */
  completeScheduled(): void {
    if (this.#batchScheduled) this.#completeBatch();
  }

  /**
   * Records that `touched` queues have staged units (`count` records' worth). Staged units and
   * index entries are visible to readers already (a read writes its queue's staged units first,
   * a flush writes them all), so they reach their files in bulk: once enough are staged, or on
   * the stage timer. A crash loses nothing: recovery rebuilds them.
   */
  stage(touched: Iterable<ConsumeQueue>, count: number): void {
    for (const q of touched) this.#stagedQueues.add(q);
    this.#stagedDispatchBytes += count * 40;
    if (this.#stagedDispatchBytes >= Limits.dispatchStageBytes) this.writeStagedDispatch();
  }

  /** Encodes and appends one message to the log's write buffer; resolves when its batch is written (and synced). */
  put(req: PutMessageRequest): Promise<PutResult> {
    if (!(req.body instanceof Uint8Array)) throw new MessageIllegalError("Message body must be bytes");
    if (req.body.byteLength === 0) throw new MessageIllegalError("Message body is empty");
    if (req.body.byteLength > this.host.config.maxMessageSize) {
      throw new MessageIllegalError(`Message body is ${req.body.byteLength} bytes; at most ${this.host.config.maxMessageSize} allowed`);
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
    const queue = this.host.queue(req.topic, req.queueId);
    // Prepared and rolled-back transaction records take queue offset 0 and no ConsumeQueue unit.
    const queueOffset = toQueue ? queue.maxOffset + this.#stagedFor(queue) : 0;
    // Store time never goes backwards, so a binary search by time over a queue stays valid.
    const now = Math.max(Date.now(), this.lastStoreTimestamp);
    this.lastStoreTimestamp = now;
    const phys = this.host.commitLog.append(prepared, queueOffset, now, this.host.config.storeHost);
    invariant(phys + prepared.size === this.host.commitLog.writePosition, "an append did not end where the log now ends");
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
      this.host.commitLog.writeOut();
    } catch (err) {
      this.#inFlight -= batch.length;
      // The refused records leave the buffer: written later, they would be stored (and found by
      // a recovery) although their senders were told they failed.
      this.host.commitLog.discardUnwritten();
      this.host.writeFailed(err);
      const e = new ServiceNotAvailableError(`CommitLog write failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.done.reject(e);
      return;
    }
    const touched = new Set<ConsumeQueue>();
    let end = this.dispatched;
    for (const p of batch) {
      const r = p.result;
      if (p.dispatchToQueue) {
        const q = this.host.queue(p.topic, p.queueId);
        q.put(r.queueOffset, r.physicalOffset, r.size, tagsCode(p.tags));
        touched.add(q);
      }
      if (this.host.index && p.keyHashes.length > 0) this.#index(p.keyHashes, r);
      end = Math.max(end, r.physicalOffset + r.size);
    }
    this.stage(touched, batch.length);
    this.dispatched = end;
    this.host.index?.markDispatched(end);
    this.host.announce(touched);
    if (this.host.config.flushDiskType === "SYNC_FLUSH") {
      this.host.awaitSync(end).then((status) => {
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
  #indexFailures = 0;

  /** Index entries of a stored record; a failure (a full disk while the index rolls) costs only lookups by key. */
  #index(hashes: number[], r: PutResult): void {
    try {
      for (const h of hashes) this.host.index!.addHash(h, r.physicalOffset, r.storeTimestamp);
    } catch (err) {
      if (this.#indexFailures++ % 10_000 === 0) this.log.error(`index entries not written (${this.#indexFailures} so far; lookups by key miss them): ${(err as Error).message}`);
    }
  }

  /**
   * Writes the staged ConsumeQueue units and index entries. A write that fails (a full disk)
   * keeps them staged for the next try: they are durable in the CommitLog already, readers get
   * units from memory meanwhile, and a failure here must not fail appends that were acknowledged.
   */
  writeStagedDispatch(): void {
    for (const q of this.#stagedQueues) if (q.tryWriteStaged()) this.#stagedQueues.delete(q);
    this.host.index?.tryWriteStaged();
    this.#stagedDispatchBytes = 0;
  }
}
