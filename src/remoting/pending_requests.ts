import { RemotingClosedError, RemotingTimeoutError } from "../common/errors.ts";
import type { RemotingCommand } from "../protocol/remoting_command.ts";
import { requestCodeName } from "../protocol/request_code.ts";
import { type Deferred, deferred } from "../util/deferred.ts";
import { MinHeap } from "../util/min_heap.ts";

interface Pending {
  deferred: Deferred<RemotingCommand>;
  deadline: number;
  timeoutMs: number;
  code: number;
}

/**
 * A connection's requests awaiting their responses, by opaque. Deadlines sit in a min-heap with
 * one timer armed for the earliest, not one timer per request.
 */
export class PendingRequests {
  readonly #pending = new Map<number, Pending>();
  readonly #deadlines = new MinHeap<number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(private readonly remoteAddr: string) {}

  get size(): number {
    return this.#pending.size;
  }

  /** Registers `opaque` and returns the promise its response (or timeout) settles. */
  add(opaque: number, code: number, deadline: number, timeoutMs: number): Promise<RemotingCommand> {
    const d = deferred<RemotingCommand>();
    this.#pending.set(opaque, { deferred: d, deadline, timeoutMs, code });
    // Answered requests leave stale heap entries; rebuild when they dominate so memory stays bounded.
    if (this.#deadlines.size > 2 * this.#pending.size + 1024) {
      this.#deadlines.clear();
      for (const [o, p] of this.#pending) this.#deadlines.push(p.deadline, o);
    }
    this.#deadlines.push(deadline, opaque);
    if (deadline < this.#timerAt) this.#arm(deadline);
    return d.promise;
  }

  /** Settles the request a response answers; false for a late answer to one that timed out. */
  resolve(cmd: RemotingCommand): boolean {
    const p = this.#pending.get(cmd.opaque);
    if (p === undefined) return false;
    this.#pending.delete(cmd.opaque);
    p.deferred.resolve(cmd);
    return true;
  }

  /** Fails every pending request at once (the connection closed). */
  failAll(err: RemotingClosedError): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#deadlines.clear();
    for (const p of this.#pending.values()) p.deferred.reject(err);
    this.#pending.clear();
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#expire, Math.max(0, at - Date.now()));
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (;;) {
      const at = this.#deadlines.peekKey();
      if (at === undefined) return;
      if (at > now) {
        this.#arm(at);
        return;
      }
      const opaque = this.#deadlines.pop()!;
      const p = this.#pending.get(opaque);
      if (p !== undefined && p.deadline <= now) {
        this.#pending.delete(opaque);
        p.deferred.reject(new RemotingTimeoutError(this.remoteAddr, p.timeoutMs, requestCodeName(p.code)));
      }
    }
  };
}
