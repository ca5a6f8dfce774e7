import type { FileSystem } from "../platform/file_system.ts";

/**
 * Committed consumer offsets, `topic@group` → queueId → offset, persisted to consumerOffset.json
 * (RocketMQ's shape) on an interval and at shutdown.
 */
export class ConsumerOffsetManager {
  readonly #table = new Map<string, Map<number, number>>();
  #dirty = false;

  constructor(private readonly fs: FileSystem, private readonly path: string) {
    const text = fs.readText(path);
    if (!text) return;
    const parsed = JSON.parse(text) as { offsetTable?: Record<string, Record<string, number>> };
    for (const [key, queues] of Object.entries(parsed.offsetTable ?? {})) {
      const m = new Map<number, number>();
      for (const [q, o] of Object.entries(queues)) m.set(Number(q), o);
      this.#table.set(key, m);
    }
  }

  query(group: string, topic: string, queueId: number): number | undefined {
    return this.#table.get(`${topic}@${group}`)?.get(queueId);
  }

  commit(group: string, topic: string, queueId: number, offset: number): void {
    const key = `${topic}@${group}`;
    let m = this.#table.get(key);
    if (!m) this.#table.set(key, m = new Map());
    m.set(queueId, offset);
    this.#dirty = true;
  }

  removeTopic(topic: string): void {
    for (const key of [...this.#table.keys()]) if (key.startsWith(`${topic}@`)) this.#table.delete(key);
    this.#dirty = true;
  }

  /** Every committed offset, `topic@group` → queueId → offset (GET_ALL_CONSUMER_OFFSET's body). */
  table(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [key, m] of this.#table) out[key] = Object.fromEntries(m);
    return out;
  }

  /**
   * A slave takes its master's offsets; an offset committed here (a consumer reading from this
   * slave) that is further along is kept.
   */
  adopt(table: Record<string, Record<string, number>>): void {
    for (const [key, queues] of Object.entries(table)) {
      let m = this.#table.get(key);
      if (!m) this.#table.set(key, m = new Map());
      for (const [q, o] of Object.entries(queues)) {
        if (!Number.isSafeInteger(o) || (m.get(Number(q)) ?? -1) >= o) continue;
        m.set(Number(q), o);
        this.#dirty = true;
      }
    }
  }

  /** Writes the file if anything changed since the last write. */
  persist(): void {
    if (!this.#dirty) return;
    this.fs.writeTextAtomic(this.path, JSON.stringify({ offsetTable: this.table() }, null, 1));
    this.#dirty = false;
  }
}
