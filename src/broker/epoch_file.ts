import type { FileSystem } from "../platform/file_system.ts";

export interface EpochEntry {
  epoch: number;
  /** CommitLog offset where this epoch's master began writing. */
  startOffset: number;
}

/**
 * Controller mode: which master epoch wrote which part of the CommitLog (RocketMQ's EpochFile).
 * A master adds an entry when it is elected; a slave keeps its master's entries for the part of
 * the log it holds. When a former master rejoins as a slave, the first epoch it did not see
 * tells where its log and the new master's part ways: it truncates there.
 */
export class EpochFile {
  #entries: EpochEntry[] = [];

  constructor(private readonly fs: FileSystem, private readonly path: string) {
    const text = fs.readText(path);
    if (!text) return;
    try {
      const parsed = JSON.parse(text) as { epochs?: EpochEntry[] };
      this.#entries = (parsed.epochs ?? []).filter((e) => Number.isSafeInteger(e.epoch) && Number.isSafeInteger(e.startOffset));
    } catch {
      // A damaged file: start from nothing; the master's entries arrive with the next pull.
    }
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  get lastEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? 0;
  }

  /** A master elected at `epoch` starts writing at `startOffset`. */
  append(epoch: number, startOffset: number): void {
    if (epoch <= this.lastEpoch) return;
    this.#entries.push({ epoch, startOffset });
    this.#save();
  }

  /**
   * Where a replica whose newest epoch is `epoch` diverges from this log: the start of the first
   * epoch after it (nothing it wrote from there on was replicated here). Infinity if none.
   */
  divergenceFor(epoch: number): number {
    return this.#entries.find((e) => e.epoch > epoch)?.startOffset ?? Infinity;
  }

  /** A slave takes its master's entries for the log it holds (up to `end`). */
  adopt(entries: EpochEntry[], end: number): void {
    const next = entries.filter((e) => e.startOffset <= end);
    if (JSON.stringify(next) === JSON.stringify(this.#entries)) return;
    this.#entries = next;
    this.#save();
  }

  /** After a truncation to `offset`: entries that began past it are gone with their data. */
  dropFrom(offset: number): void {
    const next = this.#entries.filter((e) => e.startOffset <= offset);
    if (next.length === this.#entries.length) return;
    this.#entries = next;
    this.#save();
  }

  #save(): void {
    this.fs.writeTextAtomic(this.path, JSON.stringify({ epochs: this.#entries }));
  }
}
