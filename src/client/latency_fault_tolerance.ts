/**
 * Fault avoidance (RocketMQ's sendLatencyFaultEnable): after a send, a broker whose answer took
 * long, or failed, is left alone for a while, by a step table of latency → pause (RocketMQ 5.x).
 */
const LATENCY_MAX = [50, 100, 550, 1800, 3000, 5000, 15000];
const NOT_AVAILABLE_MS = [0, 0, 2000, 5000, 6000, 10000, 30000];
/** A failed send counts as this latency. */
export const FAILURE_LATENCY_MS = 10_000;

export class LatencyFaultTolerance {
  readonly #until = new Map<string, number>();

  update(brokerName: string, latencyMs: number, now = Date.now()): void {
    let pause = 0;
    for (let i = LATENCY_MAX.length - 1; i >= 0; i--) {
      if (latencyMs >= LATENCY_MAX[i]) {
        pause = NOT_AVAILABLE_MS[i];
        break;
      }
    }
    if (pause > 0) this.#until.set(brokerName, now + pause);
    else this.#until.delete(brokerName);
  }

  isAvailable(brokerName: string, now = Date.now()): boolean {
    const t = this.#until.get(brokerName);
    return t === undefined || t <= now;
  }
}
