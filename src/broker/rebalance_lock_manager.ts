import { SystemBusyError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";

export interface LockedQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

interface Lock {
  clientId: string;
  lastUpdate: number;
}

/**
 * Queue locks for orderly consumption (RocketMQ's RebalanceLockManager): within a consumer
 * group, one client at a time consumes a queue. A lock lasts `expiryMs` (60 s) unless renewed
 * by its holder (clients renew every 20 s); an expired lock can be taken by anyone. Bounded by
 * `maxLocks`.
 */
export class RebalanceLockManager {
  readonly #locks = new Map<string, Map<string, Lock>>();
  #count = 0;

  constructor(private readonly expiryMs: number = Limits.rebalanceLockExpiryMs, private readonly maxLocks: number = Limits.maxRebalanceLocks) {}

  /** Locks (or renews) what it can for `clientId`; returns the queues the client now holds. */
  tryLock(group: string, clientId: string, queues: LockedQueue[], now = Date.now()): LockedQueue[] {
    let table = this.#locks.get(group);
    if (!table) this.#locks.set(group, table = new Map());
    const ok: LockedQueue[] = [];
    for (const q of queues) {
      const key = `${q.topic}@${q.brokerName}@${q.queueId}`;
      const held = table.get(key);
      if (held && held.clientId !== clientId && now - held.lastUpdate <= this.expiryMs) continue;
      if (!held) {
        if (this.#count >= this.maxLocks) throw new SystemBusyError(`${this.#count} queue locks held, the maximum`);
        this.#count++;
      }
      table.set(key, { clientId, lastUpdate: now });
      ok.push(q);
    }
    return ok;
  }

  unlock(group: string, clientId: string, queues: LockedQueue[]): void {
    const table = this.#locks.get(group);
    if (!table) return;
    for (const q of queues) {
      const key = `${q.topic}@${q.brokerName}@${q.queueId}`;
      if (table.get(key)?.clientId === clientId && table.delete(key)) this.#count--;
    }
    if (table.size === 0) this.#locks.delete(group);
  }

  isLocked(group: string, q: LockedQueue, clientId: string, now = Date.now()): boolean {
    const held = this.#locks.get(group)?.get(`${q.topic}@${q.brokerName}@${q.queueId}`);
    return held !== undefined && held.clientId === clientId && now - held.lastUpdate <= this.expiryMs;
  }
}
