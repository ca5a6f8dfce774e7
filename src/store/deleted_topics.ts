import type { FileSystem } from "../platform/file_system.ts";

/**
 * Topics deleted from the store, each with the CommitLog end at its deletion. Their records
 * stay in the CommitLog until retention removes the segments that hold them; until then a
 * recovery or a replicated chunk must not put them back into a queue, and a key query must not
 * find them (a topic created again under the name starts empty). Kept in `deletedTopics.json`,
 * written before the topic's queues are removed; an entry goes once the log no longer reaches
 * below its offset.
 */
export class DeletedTopics {
  readonly #below = new Map<string, number>();
  readonly #path: string;

  constructor(private readonly fs: FileSystem, root: string) {
    this.#path = `${root}/deletedTopics.json`;
    const text = fs.readText(this.#path);
    if (!text) return;
    const table = (JSON.parse(text) as { deleted?: Record<string, number> }).deleted ?? {};
    for (const [topic, offset] of Object.entries(table)) if (Number.isSafeInteger(offset) && offset >= 0) this.#below.set(topic, offset);
  }

  /** Whether the record of `topic` at log offset `offset` belongs to a deleted incarnation of it. */
  hides(topic: string, offset: number): boolean {
    const below = this.#below.get(topic);
    return below !== undefined && offset < below;
  }

  add(topic: string, logEnd: number): void {
    this.#below.set(topic, Math.max(logEnd, this.#below.get(topic) ?? 0));
    this.#save();
  }

  /** Forgets deletions the log no longer holds records of (after retention). */
  prune(logMin: number): void {
    let changed = false;
    for (const [topic, below] of this.#below) {
      if (below <= logMin) {
        this.#below.delete(topic);
        changed = true;
      }
    }
    if (changed) this.#save();
  }

  get size(): number {
    return this.#below.size;
  }

  #save(): void {
    this.fs.writeTextAtomic(this.#path, JSON.stringify({ deleted: Object.fromEntries(this.#below) }));
  }
}
