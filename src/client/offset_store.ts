import { nodeFileSystem } from "../platform/file_system.ts";
import { type MessageQueue, queueKeyOf } from "./message.ts";

/**
 * Offsets a push consumer has reached, per queue, in memory; `flush` hands the changed ones to
 * `write` (the broker in clustering mode, a local file in broadcasting mode).
 */
export class OffsetTable {
  readonly #offsets = new Map<string, { mq: MessageQueue; offset: number; persisted: number }>();

  get(mq: MessageQueue): number | undefined {
    return this.#offsets.get(queueKeyOf(mq))?.offset;
  }

  /** Records `offset`; with `increaseOnly`, never moves an offset back. */
  update(mq: MessageQueue, offset: number, increaseOnly: boolean): void {
    const key = queueKeyOf(mq);
    const e = this.#offsets.get(key);
    if (!e) this.#offsets.set(key, { mq, offset, persisted: -1 });
    else if (!increaseOnly || offset > e.offset) e.offset = offset;
  }

  remove(mq: MessageQueue): void {
    this.#offsets.delete(queueKeyOf(mq));
  }

  /** Entries changed since they were last marked persisted. */
  changed(only?: (mq: MessageQueue) => boolean): { mq: MessageQueue; offset: number }[] {
    const out: { mq: MessageQueue; offset: number }[] = [];
    for (const e of this.#offsets.values()) if (e.offset !== e.persisted && (!only || only(e.mq))) out.push({ mq: e.mq, offset: e.offset });
    return out;
  }

  markPersisted(mq: MessageQueue, offset: number): void {
    const e = this.#offsets.get(queueKeyOf(mq));
    if (e) e.persisted = offset;
  }
}

/** Broadcasting mode's offsets: a JSON file per consumer instance (written to a temp file, then renamed). */
export class LocalOffsetFile {
  readonly path: string;
  readonly #dir: string;

  constructor(dir: string, group: string, instanceName: string) {
    this.#dir = `${dir}/${group}`;
    this.path = `${this.#dir}/${instanceName}.offsets.json`;
  }

  load(): Map<string, number> {
    const text = nodeFileSystem.readText(this.path);
    const out = new Map<string, number>();
    if (!text) return out;
    const parsed = JSON.parse(text) as { offsetTable?: Record<string, number> };
    for (const [k, v] of Object.entries(parsed.offsetTable ?? {})) if (Number.isSafeInteger(v) && v >= 0) out.set(k, v);
    return out;
  }

  save(entries: { mq: MessageQueue; offset: number }[]): void {
    const offsetTable: Record<string, number> = { ...Object.fromEntries(this.load()) };
    for (const e of entries) offsetTable[queueKeyOf(e.mq)] = e.offset;
    nodeFileSystem.mkdirp(this.#dir);
    nodeFileSystem.writeTextAtomic(this.path, JSON.stringify({ offsetTable }, null, 1));
  }
}
