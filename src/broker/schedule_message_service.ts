import { InvalidParameterError, SystemBusyError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { MessageProperty, type Properties } from "../common/message.ts";
import { decodeRecord, type StoredMessage } from "../common/message_record.ts";
import { check } from "../common/check.ts";
import { Limits } from "../common/limits.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { JsonConfigFile } from "./json_config_file.ts";
import type { MessageStore, PutMessageRequest } from "../store/message_store.ts";
import { toRealTopic } from "./real_topic.ts";

/** The internal topic delayed messages wait in; queue `level - 1` holds delay level `level`. */
export const SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX";

/** RocketMQ's default `messageDelayLevel`. */
export const DEFAULT_DELAY_LEVELS = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "1s 5s 10s 30s 1m …" (units ms, s, m, h, d) into milliseconds per level (index 0 = level 1). */
export function parseDelayLevels(text: string): number[] {
  const items = text.trim().split(/\s+/).filter(Boolean);
  if (items.length === 0 || items.length > 64) {
    throw new InvalidParameterError(`messageDelayLevel needs 1..64 levels, got ${items.length}`);
  }
  return items.map((item) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(item);
    if (!m) throw new InvalidParameterError(`messageDelayLevel: "${item}" is not a number followed by ms, s, m, h or d`);
    const ms = Number(m[1]) * UNIT_MS[m[2]];
    if (ms <= 0 || ms > 400 * 86_400_000) throw new InvalidParameterError(`messageDelayLevel: "${item}" is out of range`);
    return ms;
  });
}

/** What a delayed copy of a message looks like, for `put`. */
export function toScheduled(msg: Omit<PutMessageRequest, "topic" | "queueId">, realTopic: string, realQueueId: number, level: number, props: Properties): PutMessageRequest {
  return {
    ...msg,
    topic: SCHEDULE_TOPIC,
    queueId: level - 1,
    properties: {
      ...props,
      [MessageProperty.REAL_TOPIC]: realTopic,
      [MessageProperty.REAL_QUEUE_ID]: String(realQueueId),
      [MessageProperty.DELAY_TIME_LEVEL]: String(level),
    },
  };
}

/** How many records a deliverer reads at once, and how often an idle level looks again. */
const READ_BATCH = Limits.serviceReadBatch;
const IDLE_CHECK_MS: number = Limits.scheduleIdleCheckMs;
const RETRY_AFTER_FAILURE_MS: number = Limits.scheduleRetryAfterFailureMs;
/** Cancelled scheduled messages remembered at once (each until its level reaches it). */
const MAX_CANCELLED = Limits.maxCancelledScheduled;

const DELAY_FILE = check.object({
  offsetTable: check.optional(check.record(check.int(0), 1_000)),
  cancelled: check.optional(check.array(check.string(), MAX_CANCELLED)),
});

/**
 * Delivers delayed messages when due (RocketMQ's ScheduleMessageService). A message with delay
 * level L is stored in SCHEDULE_TOPIC queue L-1; every message in one level's queue has the same
 * delay, so due times follow queue order and each level needs only a read offset. When the
 * head of a level is due, it is written to its real topic and queue and the offset moves on.
 * Offsets are persisted (delayOffset.json) periodically and at stop, so a restart re-delivers at
 * most what followed the last persisted point (at-least-once), and loses nothing.
 */
export class ScheduleMessageService {
  readonly levels: readonly number[];
  readonly #offsets: number[];
  readonly #timers: (ReturnType<typeof setTimeout> | undefined)[];
  readonly #timerAt: number[];
  readonly #running: boolean[];
  readonly #arrivedWhileRunning: boolean[];
  #stopped = true;
  #dirty = false;
  /** "queueId:queueOffset" of cancelled copies not yet reached by their level. */
  readonly #cancelled = new Set<string>();
  readonly #file: JsonConfigFile<ReturnType<typeof DELAY_FILE>>;

  constructor(
    private readonly store: MessageStore,
    levels: number[],
    fs: FileSystem,
    path: string,
    private readonly deliver: (req: PutMessageRequest) => Promise<unknown>,
    private readonly log: Logger,
  ) {
    this.levels = levels;
    this.#offsets = levels.map(() => 0);
    this.#timers = levels.map(() => undefined);
    this.#timerAt = levels.map(() => 0);
    this.#running = levels.map(() => false);
    this.#arrivedWhileRunning = levels.map(() => false);
    this.#file = new JsonConfigFile(fs, path, DELAY_FILE);
    const saved = this.#file.load();
    if (saved) {
      for (const [level, offset] of Object.entries(saved.offsetTable ?? {})) {
        const i = Number(level) - 1;
        if (i >= 0 && i < levels.length) this.#offsets[i] = offset;
      }
      for (const key of saved.cancelled ?? []) this.#cancelled.add(key);
    }
  }

  /** Read offset of each level, by level number (GET_ALL_DELAY_OFFSET's body). */
  offsetTable(): Record<string, number> {
    const out: Record<string, number> = {};
    this.#offsets.forEach((o, i) => out[String(i + 1)] = o);
    return out;
  }

  /** A slave (not delivering) takes its master's progress, so a promoted slave does not deliver again. */
  adoptOffsets(table: Record<string, number>): void {
    if (!this.#stopped) return;
    for (const [level, offset] of Object.entries(table)) {
      const i = Number(level) - 1;
      if (i >= 0 && i < this.levels.length && Number.isSafeInteger(offset) && offset !== this.#offsets[i]) {
        this.#offsets[i] = offset;
        this.#dirty = true;
      }
    }
  }

  /** A level (1-based) within the configured levels. */
  clampLevel(level: number): number {
    return Math.min(this.levels.length, Math.max(1, level));
  }

  start(): void {
    this.#stopped = false;
    for (let i = 0; i < this.levels.length; i++) this.#schedule(i, 0);
  }

  /** Called when a message lands in SCHEDULE_TOPIC: its level's deliverer looks when it is due. */
  arrived(queueId: number): void {
    if (this.#stopped || queueId < 0 || queueId >= this.levels.length) return;
    // A new message is due one delay from now: look then, unless a look is already due sooner
    // (a running deliverer reschedules itself from what it finds).
    const delay = this.levels[queueId];
    if (this.#running[queueId]) {
      this.#arrivedWhileRunning[queueId] = true;
      return;
    }
    if (this.#timers[queueId] === undefined || this.#timerAt[queueId] > Date.now() + delay) this.#schedule(queueId, delay);
  }

  /** Stops delivering; persists progress unless `persist` is false (a simulated crash). */
  stop(persist = true): void {
    this.#stopped = true;
    for (let i = 0; i < this.#timers.length; i++) {
      clearTimeout(this.#timers[i]);
      this.#timers[i] = undefined;
    }
    if (persist) this.persist();
  }

  /**
   * Cancels the scheduled copy `m` (read from SCHEDULE_TOPIC) unless its level has delivered it
   * already. The cancellation is kept with the offsets, so it survives a restart.
   */
  cancel(m: StoredMessage): boolean {
    const i = m.queueId;
    if (i < 0 || i >= this.levels.length || m.queueOffset < this.#offsets[i]) return false;
    const key = `${i}:${m.queueOffset}`;
    if (this.#cancelled.has(key)) return false;
    if (this.#cancelled.size >= MAX_CANCELLED) {
      throw new SystemBusyError(`${MAX_CANCELLED} scheduled messages are cancelled and not yet due; try again later`);
    }
    this.#cancelled.add(key);
    this.#dirty = true;
    this.persist();
    return true;
  }

  /** Messages waiting per level (for runtime info). */
  pending(): number[] {
    return this.levels.map((_, i) => Math.max(0, this.store.maxOffset(SCHEDULE_TOPIC, i) - this.#offsets[i]));
  }

  persist(): void {
    if (!this.#dirty) return;
    try {
      this.#file.save({ offsetTable: this.offsetTable(), cancelled: [...this.#cancelled] }, true);
      this.#dirty = false;
    } catch (err) {
      this.log.error(`writing delayOffset.json failed: ${(err as Error).message}`);
    }
  }

  #schedule(i: number, inMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers[i]);
    this.#timerAt[i] = Date.now() + Math.max(0, inMs);
    this.#timers[i] = setTimeout(() => {
      this.#timers[i] = undefined;
      void this.#run(i);
    }, Math.max(0, inMs));
  }

  async #run(i: number): Promise<void> {
    if (this.#running[i] || this.#stopped) return;
    this.#running[i] = true;
    this.#arrivedWhileRunning[i] = false;
    let next = IDLE_CHECK_MS;
    try {
      next = await this.#deliverDue(i);
    } catch (err) {
      this.log.warn(`delay level ${i + 1}: delivery failed, retrying: ${(err as Error).message}`);
      next = RETRY_AFTER_FAILURE_MS;
    } finally {
      this.#running[i] = false;
    }
    if (this.#arrivedWhileRunning[i]) next = Math.min(next, this.levels[i]);
    this.#schedule(i, next);
  }

  /** Delivers every due message of level i+1; returns ms until the next look. */
  async #deliverDue(i: number): Promise<number> {
    const delay = this.levels[i];
    for (;;) {
      if (this.#stopped) return IDLE_CHECK_MS;
      const r = this.store.getMessage(SCHEDULE_TOPIC, i, this.#offsets[i], READ_BATCH);
      if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_OVERFLOW_BADLY") {
        this.#setOffset(i, r.nextBeginOffset);
        continue;
      }
      if (r.status === "OFFSET_FOUND_NULL") {
        this.#setOffset(i, r.nextBeginOffset);
        continue;
      }
      if (r.status !== "FOUND") return IDLE_CHECK_MS;
      for (const raw of r.messages) {
        const m = decodeRecord(raw);
        const due = m.storeTimestamp + delay;
        const now = Date.now();
        if (due > now) return due - now;
        const real = restore(m);
        if (this.#cancelled.delete(`${i}:${m.queueOffset}`)) this.#dirty = true;
        else if (real) await this.deliver(real);
        else this.log.warn(`delay level ${i + 1}: message at ${m.physicalOffset} has no REAL_TOPIC; skipped`);
        this.#setOffset(i, m.queueOffset + 1);
      }
    }
  }

  #setOffset(i: number, offset: number): void {
    if (this.#offsets[i] !== offset) {
      this.#offsets[i] = offset;
      this.#dirty = true;
    }
  }
}

/** The message as it is delivered: its real topic and queue back, the delay level gone. */
function restore(m: StoredMessage): PutMessageRequest | undefined {
  return toRealTopic(m, [MessageProperty.DELAY_TIME_LEVEL]);
}
