/**
 * The memory one server's connections share: bytes held for incomplete frames and encoded answers
 * queued for sockets, each against its own total. Connections charge and release it; those
 * waiting for room in the write total are woken when it drops back below.
 */
export class ConnectionBudget {
  #frameBytes = 0;
  #backlogBytes = 0;
  readonly #roomWaiters = new Set<() => void>();

  constructor(readonly maxFrameBytes: number, readonly maxBacklogBytes: number) {}

  get bufferedFrameBytes(): number {
    return this.#frameBytes;
  }

  get writeBacklogBytes(): number {
    return this.#backlogBytes;
  }

  /** Adds (or with a negative delta, releases) incomplete-frame bytes; false once over the total. */
  chargeFrame(delta: number): boolean {
    this.#frameBytes += delta;
    return this.#frameBytes <= this.maxFrameBytes;
  }

  /** The write total is used up: connections stop reading requests and pulls wait. */
  get writeExhausted(): boolean {
    return this.#backlogBytes > this.maxBacklogBytes;
  }

  chargeBacklog(delta: number): void {
    this.#backlogBytes += delta;
    if (delta < 0 && this.#roomWaiters.size > 0 && !this.writeExhausted) {
      const waiters = [...this.#roomWaiters];
      this.#roomWaiters.clear();
      for (const w of waiters) w();
    }
  }

  /** Calls `wake` once the write total has room again; returns a function that cancels it. */
  onRoom(wake: () => void): () => void {
    this.#roomWaiters.add(wake);
    return () => this.#roomWaiters.delete(wake);
  }
}
