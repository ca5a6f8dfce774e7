/** One topic's counts over a window. */
interface Window {
  start: number;
  pulledMsgs: number;
  pulls: number;
  pullMs: number;
  okMsgs: number;
  failedMsgs: number;
  consumeCalls: number;
  consumeMs: number;
}

/** RocketMQ's ConsumeStatus: a topic's rates (per second) and mean times (ms) of the last minute. */
export interface ConsumeStatus {
  pullRT: number;
  pullTPS: number;
  consumeRT: number;
  consumeOKTPS: number;
  consumeFailedTPS: number;
  /** Messages whose listener failed since the consumer started. */
  consumeFailedMsgs: number;
}

const WINDOW_MS = 60_000;
const fresh = (start: number): Window => ({ start, pulledMsgs: 0, pulls: 0, pullMs: 0, okMsgs: 0, failedMsgs: 0, consumeCalls: 0, consumeMs: 0 });

/**
 * A push consumer's per-topic figures for GET_CONSUMER_RUNNING_INFO (RocketMQ's
 * ConsumerStatsManager): counts kept in one-minute windows, reported from the last full window
 * (or the current one while there is none). Topics are the consumer's subscriptions, so the
 * table is bounded by them.
 */
export class ConsumeStatusRecorder {
  readonly #current = new Map<string, Window>();
  readonly #previous = new Map<string, Window>();
  readonly #failedTotal = new Map<string, number>();

  #window(topic: string, now: number): Window {
    let w = this.#current.get(topic);
    if (!w || now - w.start >= WINDOW_MS) {
      if (w) this.#previous.set(topic, { ...w, start: now - WINDOW_MS }); // a full minute, ending now
      w = fresh(now);
      this.#current.set(topic, w);
    }
    return w;
  }

  pulled(topic: string, messages: number, ms: number, now = Date.now()): void {
    const w = this.#window(topic, now);
    w.pulls++;
    w.pulledMsgs += messages;
    w.pullMs += ms;
  }

  consumed(topic: string, ok: boolean, messages: number, ms: number, now = Date.now()): void {
    const w = this.#window(topic, now);
    w.consumeCalls++;
    w.consumeMs += ms;
    if (ok) w.okMsgs += messages;
    else {
      w.failedMsgs += messages;
      this.#failedTotal.set(topic, (this.#failedTotal.get(topic) ?? 0) + messages);
    }
  }

  status(topic: string, now = Date.now()): ConsumeStatus {
    const cur = this.#current.get(topic);
    const w = cur && now - cur.start < WINDOW_MS ? this.#previous.get(topic) ?? cur : cur ?? fresh(now);
    const secs = Math.max(1, (w === cur ? now - w.start : WINDOW_MS) / 1000);
    const r = (x: number) => Math.round(x * 100) / 100;
    return {
      pullRT: w.pulls ? r(w.pullMs / w.pulls) : 0,
      pullTPS: r(w.pulledMsgs / secs),
      consumeRT: w.consumeCalls ? r(w.consumeMs / w.consumeCalls) : 0,
      consumeOKTPS: r(w.okMsgs / secs),
      consumeFailedTPS: r(w.failedMsgs / secs),
      consumeFailedMsgs: this.#failedTotal.get(topic) ?? 0,
    };
  }
}
