import { check } from "../common/check.ts";
import { Limits } from "../common/limits.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { JsonConfigFile } from "./json_config_file.ts";

const OFFSETS_FILE = check.object({ offsetTable: check.optional(check.record(check.record(check.int(), 65_536), Limits.maxOffsetTableEntries)) });

/**
 * Committed consumer offsets, `topic@group` → queueId → offset, persisted to consumerOffset.json
 * (RocketMQ's shape) on an interval and at shutdown.
 */
export class ConsumerOffsetManager {
  readonly #table = new Map<string, Map<number, number>>();
  #dirty = false;

  readonly #file: JsonConfigFile<ReturnType<typeof OFFSETS_FILE>>;

  constructor(fs: FileSystem, path: string) {
    this.#file = new JsonConfigFile(fs, path, OFFSETS_FILE);
    for (const [key, queues] of Object.entries(this.#file.load()?.offsetTable ?? {})) {
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

  /** The topics `group` has committed offsets for (RocketMQ's whichTopicByConsumer). */
  topicsOf(group: string): string[] {
    const suffix = `@${group}`;
    return [...this.#table.keys()].filter((k) => k.endsWith(suffix)).map((k) => k.slice(0, -suffix.length));
  }

  /** Forgets every offset `group` committed. */
  removeGroup(group: string): void {
    for (const key of [...this.#table.keys()]) if (key.endsWith(`@${group}`)) this.#table.delete(key);
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
    this.#file.save({ offsetTable: this.table() }, true);
    this.#dirty = false;
  }
}
