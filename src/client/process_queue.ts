import type { MessageExt, MessageQueue } from "./message.ts";

/**
 * The messages of one assigned queue that were pulled and not yet consumed (RocketMQ's
 * ProcessQueue): an ordered map from queue offset to message. Pulls arrive in offset order, so
 * a Map's insertion order is offset order, and its first key is the lowest offset in flight.
 */
export class ProcessQueue {
  readonly mq: MessageQueue;
  readonly #msgs = new Map<number, MessageExt>();
  /** Orderly mode: taken for consumption, not yet committed, in order. */
  #consuming: MessageExt[] = [];
  #bytes = 0;
  #maxOffset = -1;
  /** Next offset to pull. */
  nextOffset = 0;
  /** The replica the broker suggested for the next pull (0 = the master; see suggestWhichBrokerId). */
  pullFromBrokerId = 0;
  dropped = false;
  /** Orderly, clustering: the broker lock is held, as of lastLockAt. */
  locked = false;
  lastLockAt = 0;
  /** Orderly: a consume loop is running for this queue. */
  consuming: Promise<void> | undefined;
  /** The broker's last refusal of this queue's pulls (warned once, not at every retry); cleared by an answer. */
  refusedWith: string | undefined = undefined;
  /** When its last pull answered and its last listener call ended (0: never), for the running info. */
  lastPullAt = 0;
  lastConsumeAt = 0;

  constructor(mq: MessageQueue) {
    this.mq = mq;
  }

  get count(): number {
    return this.#msgs.size + this.#consuming.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Lowest and highest offset held (-1 when none is). */
  get cachedRange(): [number, number] {
    const first = this.#firstOffset();
    return first === undefined ? [-1, -1] : [first, this.#maxOffset];
  }

  /** Offset distance between the lowest and highest message held (concurrent-mode flow control). */
  get span(): number {
    const first = this.#firstOffset();
    return first === undefined ? 0 : this.#maxOffset - first;
  }

  /** Adds pulled messages; returns those not already held. */
  put(msgs: MessageExt[]): MessageExt[] {
    const added: MessageExt[] = [];
    for (const m of msgs) {
      if (this.#msgs.has(m.queueOffset)) continue;
      this.#msgs.set(m.queueOffset, m);
      this.#bytes += m.body.byteLength;
      added.push(m);
      if (m.queueOffset > this.#maxOffset) this.#maxOffset = m.queueOffset;
    }
    return added;
  }

  /**
   * Concurrent mode: removes consumed messages and returns the offset that may be committed —
   * the lowest offset still held, or one past the highest pulled when none is — so a slow
   * message holds the committed offset back and nothing is skipped.
   */
  remove(msgs: MessageExt[]): number {
    for (const m of msgs) {
      const held = this.#msgs.get(m.queueOffset);
      if (held === undefined) continue;
      this.#msgs.delete(m.queueOffset);
      this.#bytes -= held.body.byteLength;
    }
    return this.#firstOffset() ?? this.#maxOffset + 1;
  }

  /** Orderly mode: takes up to `n` messages, lowest offsets first, into consumption. */
  take(n: number): MessageExt[] {
    const out: MessageExt[] = [];
    for (const [offset, m] of this.#msgs) {
      if (out.length >= n) break;
      this.#msgs.delete(offset);
      out.push(m);
    }
    this.#consuming.push(...out);
    return out;
  }

  /** Orderly mode: the taken messages were consumed; returns the offset to commit. */
  commit(): number {
    const last = this.#consuming[this.#consuming.length - 1];
    for (const m of this.#consuming) this.#bytes -= m.body.byteLength;
    this.#consuming = [];
    return last === undefined ? -1 : last.queueOffset + 1;
  }

  /** Orderly mode: the taken messages go back to the front, to be consumed again. */
  putBack(): void {
    if (this.#consuming.length === 0) return;
    const rest = [...this.#msgs];
    this.#msgs.clear();
    for (const m of this.#consuming) this.#msgs.set(m.queueOffset, m);
    for (const [o, m] of rest) this.#msgs.set(o, m);
    this.#consuming = [];
  }

  /** Whether any message is held or being consumed. */
  get isEmpty(): boolean {
    return this.#msgs.size === 0 && this.#consuming.length === 0;
  }

  /** Lowest offset held, consuming included. */
  #firstOffset(): number | undefined {
    if (this.#consuming.length > 0) return this.#consuming[0].queueOffset;
    for (const k of this.#msgs.keys()) return k;
    return undefined;
  }
}
