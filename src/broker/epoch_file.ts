import { check } from "../common/check.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { JsonConfigFile } from "./json_config_file.ts";

const EPOCH_FILE = check.object({ epochs: check.array(check.object({ epoch: check.int(0), startOffset: check.int(0) }), 1_000_000) });

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

  readonly #file: JsonConfigFile<ReturnType<typeof EPOCH_FILE>>;

  /** Throws MetadataFileError when the file is damaged: HA truncation depends on it, so it is never reset. */
  constructor(fs: FileSystem, path: string) {
    this.#file = new JsonConfigFile(fs, path, EPOCH_FILE);
    this.#entries = this.#file.load()?.epochs ?? [];
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
    this.#file.save({ epochs: this.#entries });
  }
}
