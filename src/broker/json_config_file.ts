import type { Check } from "../common/check.ts";
import { BolideError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { ResponseCode } from "../common/response_code.ts";
import type { FileSystem } from "../platform/file_system.ts";

/** A metadata file that cannot be read as what it should hold: the broker refuses to start. */
export class MetadataFileError extends BolideError {
  override name = "MetadataFileError";
  readonly path: string;
  constructor(path: string, damage: string, backup: string | undefined) {
    super(
      ResponseCode.SYSTEM_ERROR,
      `${path} is damaged (${damage}); refusing to start rather than lose what it holds. ` +
        (backup
          ? `The last good copy is ${backup}: check it and move it over ${path}, or remove ${path} to start without it`
          : `There is no earlier copy: repair it, or remove it to start without it`),
    );
    this.path = path;
  }
}

/**
 * One of the broker's metadata files (topics, consumer offsets, delay progress, transaction
 * progress, controller epochs, the timer checkpoint): JSON written to a temporary file and
 * renamed, with one policy for damage. A file that does not parse, or does not hold what its
 * checker expects, stops the broker with MetadataFileError naming the file and the damage; it
 * is never silently reset. A save first keeps the previous content beside it as `<path>.bak`
 * (refreshed at most once a minute), so a good copy is there to restore.
 */
export class JsonConfigFile<T> {
  /** The content last read or written: a good copy, kept as the backup at the next save. */
  #lastGood: string | undefined;
  /** When the backup was last written: at most once per metadataBackupIntervalMs (each is an fsync on the event loop). */
  #backupAt = 0;

  constructor(
    private readonly fs: FileSystem,
    readonly path: string,
    private readonly check: Check<T>,
  ) {}

  get backupPath(): string {
    return `${this.path}.bak`;
  }

  /** The file's content, validated; undefined when there is no file (or it is empty). */
  load(): T | undefined {
    const text = this.fs.readText(this.path);
    if (text === undefined || text.trim() === "") return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw this.#damaged(`not JSON: ${(err as Error).message}`);
    }
    let value: T;
    try {
      value = this.check(parsed, "file");
    } catch (err) {
      throw this.#damaged((err as Error).message);
    }
    this.#lastGood = text;
    return value;
  }

  /**
   * Writes `value` atomically, keeping an earlier good content as the backup first (the one
   * before, or at most metadataBackupIntervalMs older: files saved every few seconds would
   * otherwise pay two fsyncs a save).
   */
  save(value: T, pretty = false, now = Date.now()): void {
    const text = JSON.stringify(value, null, pretty ? 1 : undefined);
    if (text === this.#lastGood) return;
    if (this.#lastGood !== undefined && now - this.#backupAt >= Limits.metadataBackupIntervalMs) {
      this.fs.writeTextAtomic(this.backupPath, this.#lastGood);
      this.#backupAt = now;
    }
    this.fs.writeTextAtomic(this.path, text);
    this.#lastGood = text;
  }

  #damaged(damage: string): MetadataFileError {
    return new MetadataFileError(this.path, damage, this.fs.exists(this.backupPath) ? this.backupPath : undefined);
  }
}
