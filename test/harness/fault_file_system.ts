import type { FileSystem, StoreFile } from "../../src/platform/file_system.ts";

/**
 * A FileSystem for tests that simulates losing power: `powerCut()` undoes every write and
 * truncation not yet covered by a completed `sync()` of its file, optionally leaving the newest
 * unsynced write torn in half. Afterwards every handle opened before the cut throws, as a dead
 * process's would. It wraps a real FileSystem, so the bytes left behind are real files that a
 * fresh store opens.
 */
interface Undo {
  position: number;
  /** Bytes that were there before (shorter than the write where it extended the file). */
  old: Uint8Array;
  oldSize: number;
  length: number;
}

class FaultFile implements StoreFile {
  undo: Undo[] = [];
  dead = false;
  constructor(readonly inner: StoreFile, readonly fsys: FaultFileSystem) {}
  get path(): string {
    return this.inner.path;
  }
  #check(): void {
    if (this.dead) throw new Error(`power lost: ${this.inner.path} is gone with its process`);
  }
  write(data: Uint8Array, position: number): void {
    this.#check();
    const oldSize = this.inner.size();
    const keep = Math.max(0, Math.min(data.byteLength, oldSize - position));
    const old = new Uint8Array(keep);
    if (keep > 0) this.inner.read(old, position);
    this.undo.push({ position, old, oldSize, length: data.byteLength });
    this.fsys.writes++;
    this.inner.write(data, position);
  }
  read(buf: Uint8Array, position: number): number {
    this.#check();
    return this.inner.read(buf, position);
  }
  async sync(): Promise<void> {
    this.#check();
    // Only what was written before the call is covered, even if more arrives meanwhile.
    const covered = this.undo.length;
    await this.inner.sync();
    if (this.dead) throw new Error(`power lost during sync of ${this.inner.path}`);
    this.undo.splice(0, covered);
    this.fsys.syncs++;
  }
  size(): number {
    this.#check();
    return this.inner.size();
  }
  truncate(length: number): void {
    this.#check();
    const oldSize = this.inner.size();
    const old = new Uint8Array(Math.max(0, oldSize - length));
    if (old.byteLength > 0) this.inner.read(old, length);
    this.undo.push({ position: length, old, oldSize, length: 0 });
    this.inner.truncate(length);
  }
  close(): void {
    if (!this.dead) this.inner.close();
  }

  /** Reverts unsynced changes, newest first; a torn newest write keeps its first half. */
  revert(tearNewest: boolean): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const u = this.undo[i];
      if (tearNewest && i === this.undo.length - 1 && u.length > 1) {
        const half = Math.floor(u.length / 2);
        const tail = u.old.subarray(Math.min(half, u.old.byteLength));
        if (tail.byteLength > 0) this.inner.write(tail, u.position + half);
        this.inner.truncate(Math.max(u.oldSize, u.position + half));
        continue;
      }
      if (u.old.byteLength > 0) this.inner.write(u.old, u.position);
      this.inner.truncate(u.oldSize);
    }
    this.undo = [];
    this.dead = true;
    this.inner.close();
  }
}

export class FaultFileSystem implements FileSystem {
  readonly #inner: FileSystem;
  readonly #files = new Set<FaultFile>();
  writes = 0;
  syncs = 0;

  constructor(inner: FileSystem) {
    this.#inner = inner;
  }

  /** Drops every write not covered by a sync; with `tearNewestWrite`, that write is half applied per file. */
  powerCut(opts: { tearNewestWrite?: boolean } = {}): void {
    for (const f of this.#files) if (!f.dead) f.revert(opts.tearNewestWrite ?? false);
    this.#files.clear();
  }

  open(path: string, opts?: { create?: boolean }): StoreFile {
    const f = new FaultFile(this.#inner.open(path, opts), this);
    this.#files.add(f);
    return f;
  }
  exists = (p: string) => this.#inner.exists(p);
  mkdirp = (p: string) => this.#inner.mkdirp(p);
  list = (p: string) => this.#inner.list(p);
  isDirectory = (p: string) => this.#inner.isDirectory(p);
  remove = (p: string) => this.#inner.remove(p);
  removeTree = (p: string) => this.#inner.removeTree(p);
  rename = (a: string, b: string) => this.#inner.rename(a, b);
  syncDir = (p: string) => this.#inner.syncDir(p);
  mtimeMs = (p: string) => this.#inner.mtimeMs(p);
  readText = (p: string) => this.#inner.readText(p);
  writeTextAtomic = (p: string, t: string) => this.#inner.writeTextAtomic(p, t);
  diskUsage = (p: string) => this.#inner.diskUsage(p);
  lock = (p: string) => this.#inner.lock(p);
}
