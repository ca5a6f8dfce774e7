import type { Logger } from "../common/log.ts";
import { MessageProperty, type Properties } from "../common/message.ts";
import { Offsets as RecordOffsets, recordProperty, type StoredMessage } from "../common/message_record.ts";
import type { FileSystem, StoreFile } from "../platform/file_system.ts";
import { check } from "../common/check.ts";
import { JsonConfigFile } from "./json_config_file.ts";
import type { MessageStore, PutMessageRequest } from "../store/message_store.ts";
import { offsetName, parseOffsetName } from "../store/file_names.ts";
import { readInt64, writeInt64 } from "../util/bytes.ts";
import { MinHeap } from "../util/min_heap.ts";
import { copyOfStored, toRealTopic } from "./real_topic.ts";
import { Limits } from "../common/limits.ts";

/** The internal topic timer messages wait in (RocketMQ 5's name), one queue. */
export const TIMER_TOPIC = "rmq_sys_wheel_timer";

/**
 * TimerLog unit, 48 bytes: magic i32 · state i32 · deliverMs i64 · commitLogOffset i64 ·
 * timer queue offset i64 · previous unit of the same second + 1 (0 = none) i64 · size i32 ·
 * reserved i32. A unit's state is rewritten in place when it is delivered or cancelled.
 */
const UNIT = 48;
const MAGIC = 0x7b01de71;
const PENDING = 0;
const DELIVERED = 1;
const CANCELLED = 2;

/** Units appended per read of the timer queue, and deliveries in progress at once. */
const ENQUEUE_BATCH = Limits.timerEnqueueBatch;
const MAX_DELIVERING = Limits.timerMaxDelivering;
/** A second's units move to the in-memory heap this long before the second starts. */
const LOAD_AHEAD_MS = Limits.timerLoadAheadMs;
const TICK_MS = 100;
const RETRY_AFTER_FAILURE_MS: number = Limits.timerRetryAfterFailureMs;

export interface TimerConfig {
  dir: string;
  /** TimerLog segment size; a segment is deleted once none of its units is pending. */
  segmentBytes: number;
  /** Longest delay accepted, ms. */
  maxDelayMs: number;
  /** TimerLog fdatasync interval, ms. */
  flushIntervalMs: number;
  /**
   * A timer further out than this is re-stored when this much time has passed (RocketMQ's
   * roll), so its stored copy never grows older than CommitLog retention. Must be well below
   * fileReservedTime.
   */
  rollIntervalMs: number;
}

interface Due {
  pos: number;
  deliverMs: number;
  physicalOffset: number;
}

interface Segment {
  start: number;
  file: StoreFile;
  pending: number;
}

/**
 * Arbitrary-delay timers (what RocketMQ 5's TimerMessageStore does), kept on disk so millions of
 * pending timers cost little memory. A timer message is stored in TIMER_TOPIC; this service reads
 * that queue in order and appends a 48-byte unit per message to the TimerLog, chaining units of
 * the same second (a map from second to its newest unit is the only per-second memory). A
 * second ahead of its time, the second's chain is read into a heap, and each message is put to
 * its real topic at its own millisecond. Delivered and cancelled units are marked in place, so a
 * restart re-reads only what is pending; a crash may deliver a message twice (at-least-once),
 * never lose one: the TimerLog is rebuilt from the timer queue past its last unit.
 */
export class TimerMessageService {
  readonly #segments: Segment[] = [];
  /** Second (deliverMs / 1000) → position + 1 of its newest pending unit not yet loaded. */
  readonly #slots = new Map<number, number>();
  /** Seconds below this are loaded: their new units go straight to the heap. */
  #loadedBelow = 0;
  readonly #heap = new MinHeap<Due>();
  readonly #cancelledInHeap = new Set<number>();
  #writePos = 0;
  /** Next timer-queue offset to turn into a unit. */
  #enqueueOffset = 0;
  #pendingCount = 0;
  #delivering = 0;
  #enqueueRunning = false;
  #enqueueAgain = false;
  #stopped = true;
  #dirty = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  #flushTimer: ReturnType<typeof setInterval> | undefined;
  #fireTimer: ReturnType<typeof setTimeout> | undefined;
  #fireAt = Infinity;
  readonly #checkpoint: JsonConfigFile<{ queueOffset: number }>;
  readonly #unit = new Uint8Array(UNIT);
  readonly #unitView = new DataView(this.#unit.buffer);

  constructor(
    private readonly store: MessageStore,
    private readonly fs: FileSystem,
    readonly config: TimerConfig,
    private readonly deliver: (req: PutMessageRequest) => Promise<unknown>,
    private readonly log: Logger,
  ) {
    if (config.segmentBytes % UNIT !== 0) throw new RangeError(`timer segment size must be a multiple of ${UNIT}`);
    this.#checkpoint = new JsonConfigFile(fs, `${config.dir}/enqueue.json`, check.object({ queueOffset: check.int(0) }));
  }

  /** Opens the TimerLog, rebuilds the pending set from it, and catches up with the timer queue. */
  start(now = Date.now()): void {
    // A broker promoted again after a demotion starts this anew: memory is rebuilt from disk.
    this.#slots.clear();
    this.#heap.clear();
    this.#cancelledInHeap.clear();
    this.#pendingCount = 0;
    this.#enqueueOffset = 0;
    this.#loadedBelow = 0;
    this.fs.mkdirp(this.config.dir);
    const names = this.fs.list(this.config.dir).map(parseOffsetName).filter((s): s is number => s !== undefined).sort((a, b) => a - b);
    for (const start of names) this.#segments.push({ start, file: this.fs.open(`${this.config.dir}/${offsetName(start)}`), pending: 0 });
    this.#writePos = this.#segments.length > 0 ? this.#segments[0].start : 0;
    this.#rebuild(now);
    // Units in the TimerLog are made durable before the checkpoint names their queue offsets,
    // so the checkpoint is never ahead of them; it can be behind, and then the log is.
    this.#enqueueOffset = Math.max(this.#enqueueOffset, this.#loadCheckpoint());
    this.#stopped = false;
    this.#tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#flushTimer = setInterval(() => void this.flush(), this.config.flushIntervalMs);
    this.arrived();
    this.#onTick();
  }

  /** Stops delivering; with `persist` (not a simulated crash) makes everything durable first. */
  async stop(persist = true): Promise<void> {
    if (this.#stopped) return; // never started (a slave), or stopped already
    this.#stopped = true;
    clearInterval(this.#tick);
    clearInterval(this.#flushTimer);
    clearTimeout(this.#fireTimer);
    this.#fireTimer = undefined;
    if (persist) {
      this.#dirty = true;
      await this.flush();
    }
    for (const s of this.#segments) s.file.close();
    this.#segments.length = 0;
  }

  /** Timers waiting, delivered-but-unmarked ones excluded. */
  get pending(): number {
    return this.#pendingCount;
  }

  /** Units in memory: the heap of the next second or so. */
  get loaded(): number {
    return this.#heap.size;
  }

  /** Called when TIMER_TOPIC grows. */
  arrived(): void {
    if (this.#stopped) return;
    if (this.#enqueueRunning) {
      this.#enqueueAgain = true;
      return;
    }
    this.#enqueueRunning = true;
    try {
      do {
        this.#enqueueAgain = false;
        this.#enqueue();
      } while (this.#enqueueAgain && !this.#stopped);
    } catch (err) {
      this.log.error(`timer enqueue failed at queue offset ${this.#enqueueOffset}: ${(err as Error).message}`);
      setTimeout(() => this.arrived(), RETRY_AFTER_FAILURE_MS);
    } finally {
      this.#enqueueRunning = false;
    }
  }

  /**
   * Cancels the pending timer whose stored copy is at `physicalOffset` and due at `deliverMs`.
   * Returns false when no such timer is pending (delivered already, cancelled, or unknown).
   */
  cancel(physicalOffset: number, deliverMs: number): boolean {
    const second = Math.floor(deliverMs / 1000);
    if (second < this.#loadedBelow) {
      // In the heap: find it there by walking its second's units is not possible any more, so
      // the heap entry is marked and skipped when it fires.
      for (const d of this.#heapEntries()) {
        if (d.physicalOffset === physicalOffset && !this.#cancelledInHeap.has(d.pos)) {
          this.#cancelledInHeap.add(d.pos);
          this.#setState(d.pos, CANCELLED);
          return true;
        }
      }
      return false;
    }
    let p = this.#slots.get(second) ?? 0;
    while (p > 0) {
      const u = this.#readUnit(p - 1);
      if (u && u.physicalOffset === physicalOffset && u.state === PENDING) {
        this.#setState(p - 1, CANCELLED);
        return true;
      }
      p = u?.prev ?? 0;
    }
    return false;
  }

  /**
   * Makes unit writes and state marks durable, then records how far the timer queue is turned
   * into units, then deletes segments with nothing pending (only now: a segment's units must be
   * covered by the checkpoint before they vanish, or a crash would enqueue them again).
   */
  async flush(): Promise<void> {
    if (this.#flushing || !this.#dirty) return;
    this.#flushing = true;
    this.#dirty = false;
    try {
      const enqueued = this.#enqueueOffset;
      const segments = [...this.#segments];
      for (const s of segments) await s.file.sync();
      this.#checkpoint.save({ queueOffset: enqueued });
      for (const s of segments) {
        if (s.pending > 0 || s === this.#segments[this.#segments.length - 1] || !this.#segments.includes(s)) continue;
        s.file.close();
        this.fs.remove(`${this.config.dir}/${offsetName(s.start)}`);
        this.#segments.splice(this.#segments.indexOf(s), 1);
      }
    } catch (err) {
      this.#dirty = true;
      this.log.error(`TimerLog flush failed: ${(err as Error).message}`);
    } finally {
      this.#flushing = false;
    }
  }

  #flushing = false;

  // ---- rebuild -------------------------------------------------------------------------------

  /** Reads every unit: pending ones go back into their seconds' chains (or the heap when late). */
  #rebuild(now: number): void {
    const chunk = new Uint8Array(UNIT * 8192);
    const dv = new DataView(chunk.buffer);
    const logMax = this.store.commitLogMaxOffset;
    let maxQueueOffset = -1;
    const nowSecond = Math.floor(now / 1000);
    for (const seg of this.#segments) {
      let end = seg.start;
      for (let at = 0; at < this.config.segmentBytes; at += chunk.byteLength) {
        const n = seg.file.read(chunk, at);
        let i = 0;
        for (; i + UNIT <= n; i += UNIT) {
          if (dv.getInt32(i) !== MAGIC) break;
          const pos = seg.start + at + i;
          end = pos + UNIT;
          const state = dv.getInt32(i + 4);
          const deliverMs = readInt64(dv, i + 8);
          const physicalOffset = readInt64(dv, i + 16);
          const queueOffset = readInt64(dv, i + 24);
          if (queueOffset > maxQueueOffset) maxQueueOffset = queueOffset;
          if (state !== PENDING) continue;
          if (physicalOffset >= logMax) {
            // The CommitLog lost this record in a crash: the unit points at nothing.
            this.#setState(pos, CANCELLED);
            continue;
          }
          seg.pending++;
          this.#pendingCount++;
          const second = Math.floor(deliverMs / 1000);
          if (second < nowSecond) {
            this.#heap.push(deliverMs, { pos, deliverMs, physicalOffset });
            continue;
          }
          const prev = this.#slots.get(second) ?? 0;
          if (readInt64(dv, i + 32) !== prev) this.#writePrev(pos, prev);
          this.#slots.set(second, pos + 1);
        }
        if (i + UNIT <= n || n < chunk.byteLength) break; // end of the valid units in this segment
      }
      this.#writePos = end;
    }
    this.#enqueueOffset = maxQueueOffset + 1;
    this.#loadedBelow = nowSecond;
    this.#dirty = true; // the first flush deletes segments found with nothing pending
    if (this.#pendingCount > 0) this.log.info(`${this.#pendingCount} timers pending after restart`);
  }

  // ---- enqueue -------------------------------------------------------------------------------

  #enqueue(): void {
    for (;;) {
      const r = this.store.getMessage(TIMER_TOPIC, 0, this.#enqueueOffset, ENQUEUE_BATCH);
      if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_OVERFLOW_BADLY" || r.status === "OFFSET_FOUND_NULL") {
        this.#enqueueOffset = r.nextBeginOffset;
        continue;
      }
      if (r.status !== "FOUND") return;
      const buf = new Uint8Array(r.messages.length * UNIT);
      const dv = new DataView(buf.buffer);
      let seg = this.#segmentFor(UNIT);
      let startPos = this.#writePos;
      let n = 0;
      const flush = () => {
        if (n === 0) return;
        seg.file.write(buf.subarray(0, n * UNIT), startPos - seg.start);
        this.#dirty = true;
      };
      for (let i = 0; i < r.messages.length; i++) {
        // Four fields and one property, read in place: this runs for every timer message.
        const raw = r.messages[i];
        const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        const m = {
          size: rv.getInt32(RecordOffsets.TOTAL_SIZE),
          queueOffset: readInt64(rv, RecordOffsets.QUEUE_OFFSET),
          physicalOffset: readInt64(rv, RecordOffsets.PHYSICAL_OFFSET),
          storeTimestamp: readInt64(rv, RecordOffsets.STORE_TIMESTAMP),
        };
        const timerOut = Number(recordProperty(raw, MessageProperty.TIMER_OUT_MS) ?? NaN);
        // A far timer fires first at the roll point, to be stored again (see rollIntervalMs).
        const deliverMs = unitDeliverMs(timerOut, m.storeTimestamp, this.config.rollIntervalMs);
        if (!Number.isFinite(timerOut)) {
          this.log.warn(`timer message at ${m.physicalOffset} has no ${MessageProperty.TIMER_OUT_MS}; skipped`);
          continue;
        }
        if (this.#writePos + UNIT > seg.start + this.config.segmentBytes) {
          flush();
          seg = this.#segmentFor(UNIT);
          startPos = this.#writePos;
          n = 0;
        }
        const pos = this.#writePos;
        const second = Math.floor(deliverMs / 1000);
        const inHeap = second < this.#loadedBelow;
        const prev = inHeap ? 0 : (this.#slots.get(second) ?? 0);
        const at = n * UNIT;
        dv.setInt32(at, MAGIC);
        dv.setInt32(at + 4, PENDING);
        writeInt64(dv, at + 8, deliverMs);
        writeInt64(dv, at + 16, m.physicalOffset);
        writeInt64(dv, at + 24, m.queueOffset);
        writeInt64(dv, at + 32, prev);
        dv.setInt32(at + 40, m.size);
        n++;
        this.#writePos += UNIT;
        seg.pending++;
        this.#pendingCount++;
        if (inHeap) this.#push({ pos, deliverMs, physicalOffset: m.physicalOffset });
        else this.#slots.set(second, pos + 1);
      }
      flush();
      this.#enqueueOffset = r.nextBeginOffset;
    }
  }

  #segmentFor(bytes: number): Segment {
    const last = this.#segments[this.#segments.length - 1];
    if (last && this.#writePos + bytes <= last.start + this.config.segmentBytes) return last;
    const start = last ? last.start + this.config.segmentBytes : 0;
    this.#writePos = start;
    const file = this.fs.open(`${this.config.dir}/${offsetName(start)}`, { create: true });
    const seg = { start, file, pending: 0 };
    this.#segments.push(seg);
    this.fs.syncDir(this.config.dir);
    return seg;
  }

  // ---- loading and delivery ------------------------------------------------------------------

  #onTick(): void {
    if (this.#stopped) return;
    const until = Math.floor((Date.now() + LOAD_AHEAD_MS) / 1000);
    // Seconds with nothing pending cost one map lookup each; after a long downtime the first
    // tick walks every second since, which is one lookup per second of downtime.
    while (this.#loadedBelow <= until) {
      const second = this.#loadedBelow;
      const head = this.#slots.get(second);
      if (head !== undefined) {
        this.#slots.delete(second);
        this.#loadChain(head);
      }
      this.#loadedBelow++;
    }
    this.#arm();
  }

  #loadChain(head: number): void {
    let p = head;
    while (p > 0) {
      const u = this.#readUnit(p - 1);
      if (!u) break;
      if (u.state === PENDING) this.#push({ pos: p - 1, deliverMs: u.deliverMs, physicalOffset: u.physicalOffset });
      if (u.prev >= p) break; // chains only go back: anything else is damage
      p = u.prev;
    }
  }

  #push(d: Due): void {
    this.#heap.push(d.deliverMs, d);
    this.#arm();
  }

  #arm(): void {
    const next = this.#heap.peekKey();
    if (next === undefined || this.#stopped) return;
    if (this.#fireTimer !== undefined && this.#fireAt <= next) return;
    clearTimeout(this.#fireTimer);
    this.#fireAt = next;
    this.#fireTimer = setTimeout(() => {
      this.#fireTimer = undefined;
      this.#fireAt = Infinity;
      this.#fire();
    }, Math.max(0, next - Date.now()));
  }

  #fire(): void {
    if (this.#stopped) return;
    const now = Date.now();
    while (this.#delivering < MAX_DELIVERING) {
      const key = this.#heap.peekKey();
      if (key === undefined || key > now) break;
      const d = this.#heap.pop()!;
      if (this.#cancelledInHeap.delete(d.pos)) {
        this.#done(d.pos);
        continue;
      }
      this.#delivering++;
      void this.#deliverOne(d).finally(() => {
        this.#delivering--;
        if (this.#delivering === MAX_DELIVERING - 1) this.#fire();
      });
    }
    this.#arm();
  }

  async #deliverOne(d: Due): Promise<void> {
    try {
      const m = this.store.lookMessageByOffset(d.physicalOffset);
      const timerOut = Number(m?.properties[MessageProperty.TIMER_OUT_MS]);
      const real = m && (timerOut > d.deliverMs ? reStore(m) : restore(m));
      if (!real) {
        this.log.warn(`timer at TimerLog ${d.pos}: no timer message at CommitLog ${d.physicalOffset}; dropped`);
      } else {
        await this.deliver(real);
      }
      this.#setState(d.pos, DELIVERED);
      this.#done(d.pos);
    } catch (err) {
      if (this.#stopped) return;
      this.log.warn(`timer delivery failed, retrying in ${RETRY_AFTER_FAILURE_MS} ms: ${(err as Error).message}`);
      setTimeout(() => this.#push({ ...d, deliverMs: Date.now() }), RETRY_AFTER_FAILURE_MS);
    }
  }

  /** A unit is finished: count it (its segment goes at a flush once nothing there is pending). */
  #done(pos: number): void {
    this.#pendingCount--;
    const i = this.#segmentIndex(pos);
    if (i >= 0) this.#segments[i].pending--;
  }

  // ---- units ---------------------------------------------------------------------------------

  #segmentIndex(pos: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.#segments[mid];
      if (pos < s.start) hi = mid - 1;
      else if (pos >= s.start + this.config.segmentBytes) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  #readUnit(pos: number): { state: number; deliverMs: number; physicalOffset: number; prev: number } | undefined {
    const i = this.#segmentIndex(pos);
    if (i < 0) return undefined;
    const seg = this.#segments[i];
    if (seg.file.read(this.#unit, pos - seg.start) < UNIT) return undefined;
    const dv = this.#unitView;
    if (dv.getInt32(0) !== MAGIC) return undefined;
    return { state: dv.getInt32(4), deliverMs: readInt64(dv, 8), physicalOffset: readInt64(dv, 16), prev: readInt64(dv, 32) };
  }

  #setState(pos: number, state: number): void {
    const i = this.#segmentIndex(pos);
    if (i < 0) return;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, state);
    this.#segments[i].file.write(b, pos - this.#segments[i].start + 4);
    this.#dirty = true;
  }

  #writePrev(pos: number, prev: number): void {
    const i = this.#segmentIndex(pos);
    if (i < 0) return;
    const b = new Uint8Array(8);
    writeInt64(new DataView(b.buffer), 0, prev);
    this.#segments[i].file.write(b, pos - this.#segments[i].start + 32);
    this.#dirty = true;
  }

  *#heapEntries(): Iterable<Due> {
    yield* this.#heap.values();
  }

  /** How far the timer queue was enqueued into the TimerLog (a damaged file stops the start: MetadataFileError). */
  #loadCheckpoint(): number {
    return this.#checkpoint.load()?.queueOffset ?? 0;
  }
}

/** Where a timer's unit goes: its due time, or the roll point when that comes first. */
export function unitDeliverMs(timerOut: number, storeTimestamp: number, rollIntervalMs: number): number {
  return Math.min(timerOut, storeTimestamp + rollIntervalMs);
}

/** `put` (whose properties are `props`) parked in TIMER_TOPIC, due at `dueMs`, its real topic and queue kept. */
export function toTimer(put: PutMessageRequest, props: Properties, dueMs: number): PutMessageRequest {
  return {
    ...put,
    topic: TIMER_TOPIC,
    queueId: 0,
    properties: {
      ...props,
      [MessageProperty.REAL_TOPIC]: put.topic,
      [MessageProperty.REAL_QUEUE_ID]: String(put.queueId),
      [MessageProperty.TIMER_OUT_MS]: String(dueMs),
    },
  };
}

/** A rolled timer: the same message stored again in TIMER_TOPIC, due at the same time. */
function reStore(m: StoredMessage): PutMessageRequest {
  return { ...copyOfStored(m), topic: TIMER_TOPIC, queueId: 0 };
}

/** The message as it is delivered: its real topic and queue back, the timer properties gone. */
function restore(m: StoredMessage): PutMessageRequest | undefined {
  return toRealTopic(m, [MessageProperty.TIMER_OUT_MS, MessageProperty.TIMER_DELAY_MS, MessageProperty.TIMER_DELIVER_MS]);
}
