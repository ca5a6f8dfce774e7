import fs from "node:fs";
import process from "node:process";

/**
 * Files for the store: positioned reads and writes on a handle, fdatasync, preallocation and
 * truncation, rename, directory sync, disk usage and an exclusive lock file. node:fs exists on
 * Bun, Deno and Node alike, so one implementation serves them. Writes are synchronous (they only
 * reach the page cache); fdatasync is asynchronous, so the event loop keeps taking appends while
 * the disk flushes — that is what lets many appends share one sync.
 */
export interface StoreFile {
  readonly path: string;
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): void;
  /** Reads up to `buf.byteLength` bytes at `position`; returns how many were read. */
  read(buf: Uint8Array, position: number): number;
  /** fdatasync: everything written before the call is durable when it resolves. */
  sync(): Promise<void>;
  size(): number;
  /** Sets the length: shrinking drops data, growing adds zeros (sparse where the file system can). */
  truncate(length: number): void;
  close(): void;
}

export interface DiskUsage {
  totalBytes: number;
  freeBytes: number;
  /** Used fraction, 0..1, as `df` counts it (blocks reserved for root count as used). */
  usedRatio: number;
}

export interface FileLock {
  release(): void;
}

export interface FileSystem {
  open(path: string, opts?: { create?: boolean }): StoreFile;
  exists(path: string): boolean;
  mkdirp(path: string): void;
  /** Entry names of a directory, sorted; [] if it does not exist. */
  list(path: string): string[];
  isDirectory(path: string): boolean;
  remove(path: string): void;
  removeTree(path: string): void;
  rename(from: string, to: string): void;
  /** fsync on a directory, so renames and new files in it are durable. */
  syncDir(path: string): void;
  mtimeMs(path: string): number;
  readText(path: string): string | undefined;
  /** Writes to `path.tmp`, syncs it, renames it over `path` and syncs the directory. */
  writeTextAtomic(path: string, text: string): void;
  diskUsage(path: string): DiskUsage;
  /** Takes an exclusive lock file naming this process; throws LockHeldError naming the holder. */
  lock(path: string): FileLock;
}

export class LockHeldError extends Error {
  override name = "LockHeldError";
  readonly holderPid: number;
  constructor(path: string, holderPid: number) {
    super(`Store is locked by process ${holderPid} (lock file ${path}); stop that process or use another store directory`);
    this.holderPid = holderPid;
  }
}

class NodeStoreFile implements StoreFile {
  #fd: number;
  constructor(readonly path: string, fd: number) {
    this.#fd = fd;
  }
  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.byteLength) {
      done += fs.writeSync(this.#fd, data, done, data.byteLength - done, position + done);
    }
  }
  read(buf: Uint8Array, position: number): number {
    let done = 0;
    while (done < buf.byteLength) {
      const n = fs.readSync(this.#fd, buf, done, buf.byteLength - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  sync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.#fd, (err) => (err ? reject(err) : resolve())));
  }
  size(): number {
    return fs.fstatSync(this.#fd).size;
  }
  truncate(length: number): void {
    fs.ftruncateSync(this.#fd, length);
  }
  close(): void {
    if (this.#fd >= 0) {
      fs.closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

export const nodeFileSystem: FileSystem = {
  open(path, opts = {}) {
    const flags = opts.create ? (fs.existsSync(path) ? "r+" : "w+") : "r+";
    return new NodeStoreFile(path, fs.openSync(path, flags));
  },
  exists: (path) => fs.existsSync(path),
  mkdirp: (path) => void fs.mkdirSync(path, { recursive: true }),
  list(path) {
    try {
      return fs.readdirSync(path).sort();
    } catch {
      return [];
    }
  },
  isDirectory(path) {
    try {
      return fs.statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  remove: (path) => fs.rmSync(path, { force: true }),
  removeTree: (path) => fs.rmSync(path, { recursive: true, force: true }),
  rename: (from, to) => fs.renameSync(from, to),
  syncDir(path) {
    const fd = fs.openSync(path, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  mtimeMs: (path) => fs.statSync(path).mtimeMs,
  readText(path) {
    try {
      return fs.readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  writeTextAtomic(path, text) {
    const tmp = `${path}.tmp`;
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, text);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
    nodeFileSystem.syncDir(path.slice(0, Math.max(1, path.lastIndexOf("/"))));
  },
  diskUsage(path) {
    const s = fs.statfsSync(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    const used = (s.blocks - s.bfree) * s.bsize;
    // As df: used / (used + available to non-root).
    const usedRatio = used + free > 0 ? used / (used + free) : 0;
    return { totalBytes: total, freeBytes: free, usedRatio };
  },
  lock(path) {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(path, "wx");
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        let released = false;
        return {
          release() {
            if (released) return;
            released = true;
            fs.rmSync(path, { force: true });
          },
        };
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw err;
        const holder = Number(fs.readFileSync(path, "utf8").trim());
        if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) throw new LockHeldError(path, holder);
        fs.rmSync(path, { force: true }); // stale: its process is gone
      }
    }
    throw new Error(`Cannot take lock file ${path}`);
  },
};
