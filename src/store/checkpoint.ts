import { readInt64, writeInt64 } from "../util/bytes.ts";
import type { FileSystem, StoreFile } from "../platform/file_system.ts";

type Crc32 = (data: Uint8Array) => number;

/**
 * How far each structure is durable, kept in two 64-byte slots written alternately (each with a
 * sequence number and a CRC), so a write torn by a crash leaves the other slot intact.
 */
export interface CheckpointData {
  /** CommitLog bytes below this are durable. */
  commitLogFlushed: number;
  /** ConsumeQueues hold every record below this, durably. */
  consumeQueueFlushed: number;
  physicMsgTimestamp: number;
  logicsMsgTimestamp: number;
}

const SLOT_BYTES = 64;
const SLOT_STRIDE = 512; // separate sectors
const MAGIC = 0x426f6c63; // "Bolc"

export class Checkpoint {
  readonly #file: StoreFile;
  readonly #crc32: Crc32;
  #seq = 0;
  data: CheckpointData = { commitLogFlushed: 0, consumeQueueFlushed: 0, physicMsgTimestamp: 0, logicsMsgTimestamp: 0 };

  constructor(path: string, fs: FileSystem, crc32: Crc32) {
    this.#file = fs.open(path, { create: true });
    this.#crc32 = crc32;
    let best: { seq: number; data: CheckpointData } | undefined;
    for (const slot of [0, 1]) {
      const b = new Uint8Array(SLOT_BYTES);
      if (this.#file.read(b, slot * SLOT_STRIDE) < SLOT_BYTES) continue;
      const dv = new DataView(b.buffer);
      if (dv.getUint32(0) !== MAGIC || dv.getUint32(60) !== this.#crc32(b.subarray(0, 60))) continue;
      const seq = dv.getUint32(4);
      const data = {
        commitLogFlushed: readInt64(dv, 8),
        consumeQueueFlushed: readInt64(dv, 16),
        physicMsgTimestamp: readInt64(dv, 24),
        logicsMsgTimestamp: readInt64(dv, 32),
      };
      if (!best || seq > best.seq) best = { seq, data };
    }
    if (best) {
      this.#seq = best.seq;
      this.data = best.data;
    }
  }

  /** Writes the next slot and syncs it. */
  async save(data: CheckpointData): Promise<void> {
    this.data = { ...data };
    this.#seq++;
    const b = new Uint8Array(SLOT_BYTES);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, MAGIC);
    dv.setUint32(4, this.#seq);
    writeInt64(dv, 8, data.commitLogFlushed);
    writeInt64(dv, 16, data.consumeQueueFlushed);
    writeInt64(dv, 24, data.physicMsgTimestamp);
    writeInt64(dv, 32, data.logicsMsgTimestamp);
    dv.setUint32(60, this.#crc32(b.subarray(0, 60)));
    this.#file.write(b, (this.#seq % 2) * SLOT_STRIDE);
    await this.#file.sync();
  }

  close(): void {
    this.#file.close();
  }
}


