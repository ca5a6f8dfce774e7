import type { FileSystem, StoreFile } from "../platform/file_system.ts";

/**
 * Open file handles, at most `limit` of them, least recently used closed first. Closing a
 * handle loses nothing: written bytes are in the page cache, and a later fdatasync through a
 * new handle flushes them all the same.
 */
export class HandleCache {
  readonly #open = new Map<string, StoreFile>();
  constructor(private readonly fs: FileSystem, private readonly limit: number) {}

  get(path: string, create = false): StoreFile {
    const f = this.#open.get(path);
    if (f) {
      this.#open.delete(path);
      this.#open.set(path, f);
      return f;
    }
    const opened = this.fs.open(path, { create });
    this.#open.set(path, opened);
    if (this.#open.size > this.limit) {
      const [oldest, handle] = this.#open.entries().next().value!;
      this.#open.delete(oldest);
      handle.close();
    }
    return opened;
  }

  forget(path: string): void {
    const f = this.#open.get(path);
    if (f) {
      this.#open.delete(path);
      f.close();
    }
  }

  closeAll(): void {
    for (const f of this.#open.values()) {
      try {
        f.close();
      } catch { /* already gone */ }
    }
    this.#open.clear();
  }
}
