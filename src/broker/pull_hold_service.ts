import { SystemBusyError } from "../common/errors.ts";

interface Held {
  offset: number;
  owner: object | undefined;
  group: string | undefined;
  wake(why: HoldEnd): void;
}

/** Why a held pull ended: a message arrived, its time ran out, or its consumer went away. */
export type HoldEnd = "arrived" | "timeout" | "released";

/**
 * Long polling (RocketMQ's PullRequestHoldService): a pull that finds nothing waits here until a
 * message arrives for its queue or its time runs out. Bounded: past `maxHeld` waiting pulls a new
 * one is refused at once with SYSTEM_BUSY rather than held.
 */
export class PullHoldService {
  readonly #held = new Map<string, Set<Held>>();
  /** Held pulls by the connection that sent them, so a closed connection frees its pulls at once. */
  readonly #byOwner = new Map<object, Set<Held>>();
  #count = 0;
  constructor(private readonly maxHeld: number, private readonly maxHeldPerOwner: number = maxHeld) {}

  get heldCount(): number {
    return this.#count;
  }

  /**
   * Resolves "arrived" when a message at or past `offset` arrives, "timeout" after `timeoutMs`,
   * "released" when the pull's connection (or its consumer group on it) went away.
   */
  wait(topic: string, queueId: number, offset: number, timeoutMs: number, owner?: object, group?: string): Promise<HoldEnd> {
    if (this.#count >= this.maxHeld) return Promise.reject(new SystemBusyError(`${this.#count} pulls are already held; retry later`));
    if (owner && this.#released.has(owner)) return Promise.resolve("released");
    const mineNow = owner ? this.#byOwner.get(owner)?.size ?? 0 : 0;
    if (mineNow >= this.maxHeldPerOwner) {
      return Promise.reject(new SystemBusyError(`${mineNow} pulls are already held on this connection; retry later`));
    }
    const key = `${topic}@${queueId}`;
    return new Promise((resolve) => {
      let set = this.#held.get(key);
      if (!set) this.#held.set(key, set = new Set());
      const done = (why: HoldEnd) => {
        clearTimeout(timer);
        if (set!.delete(entry)) this.#count--;
        if (set!.size === 0 && this.#held.get(key) === set) this.#held.delete(key);
        if (owner) {
          const mine = this.#byOwner.get(owner);
          mine?.delete(entry);
          if (mine && mine.size === 0) this.#byOwner.delete(owner);
        }
        resolve(why);
      };
      const entry: Held = { offset, owner, group, wake: done };
      const timer = setTimeout(() => done("timeout"), timeoutMs);
      set.add(entry);
      this.#count++;
      if (owner) {
        let mine = this.#byOwner.get(owner);
        if (!mine) this.#byOwner.set(owner, mine = new Set());
        mine.add(entry);
      }
    });
  }

  /** Called by the store after dispatch: wakes pulls of that queue waiting below `maxOffset`. */
  notify(topic: string, queueId: number, maxOffset: number): void {
    const set = this.#held.get(`${topic}@${queueId}`);
    if (!set) return;
    for (const h of [...set]) if (maxOffset > h.offset) h.wake("arrived");
  }

  /** Connections whose pulls were released (weakly held: they go with their connection). */
  readonly #released = new WeakSet<object>();

  /** Releases the pulls of a connection whose peer went away: they are answered at once. */
  release(owner: object): void {
    this.#released.add(owner);
    for (const h of [...(this.#byOwner.get(owner) ?? [])]) h.wake("released");
  }

  /**
   * Releases the pulls `group` holds on a connection (its consumer unregistered, while the
   * connection goes on serving the other clients of its instance). Later pulls are held again.
   */
  releaseGroup(owner: object, group: string): void {
    for (const h of [...(this.#byOwner.get(owner) ?? [])]) if (h.group === group) h.wake("released");
  }

  /** Answers every held pull now (shutdown). */
  wakeAll(): void {
    for (const set of [...this.#held.values()]) for (const h of [...set]) h.wake("arrived");
  }
}
