import { SystemBusyError } from "../common/errors.ts";

interface Held {
  offset: number;
  wake(): void;
}

/**
 * Long polling (RocketMQ's PullRequestHoldService): a pull that finds nothing waits here until a
 * message arrives for its queue or its time runs out. Bounded: past `maxHeld` waiting pulls a new
 * one is refused at once with SYSTEM_BUSY rather than held.
 */
export class PullHoldService {
  readonly #held = new Map<string, Set<Held>>();
  #count = 0;
  constructor(private readonly maxHeld: number) {}

  get heldCount(): number {
    return this.#count;
  }

  /** Resolves true when a message at or past `offset` arrives, false after `timeoutMs`. */
  wait(topic: string, queueId: number, offset: number, timeoutMs: number): Promise<boolean> {
    if (this.#count >= this.maxHeld) return Promise.reject(new SystemBusyError(`${this.#count} pulls are already held; retry later`));
    const key = `${topic}@${queueId}`;
    return new Promise((resolve) => {
      let set = this.#held.get(key);
      if (!set) this.#held.set(key, set = new Set());
      const done = (arrived: boolean) => {
        clearTimeout(timer);
        if (set!.delete(entry)) this.#count--;
        if (set!.size === 0 && this.#held.get(key) === set) this.#held.delete(key);
        resolve(arrived);
      };
      const entry: Held = { offset, wake: () => done(true) };
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(entry);
      this.#count++;
    });
  }

  /** Called by the store after dispatch: wakes pulls of that queue waiting below `maxOffset`. */
  notify(topic: string, queueId: number, maxOffset: number): void {
    const set = this.#held.get(`${topic}@${queueId}`);
    if (!set) return;
    for (const h of [...set]) if (maxOffset > h.offset) h.wake();
  }

  /** Answers every held pull now (shutdown). */
  wakeAll(): void {
    for (const set of [...this.#held.values()]) for (const h of [...set]) h.wake();
  }
}
