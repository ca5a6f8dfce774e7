import net from "node:net";
import { readFileSync } from "node:fs";
import { Encoder } from "cbor-x";
import { FrameDecoder } from "../../src/protocol/frame_codec.ts";
import { FLAG_RESPONSE } from "../../src/protocol/remoting_command.ts";
import type { Prng } from "./prng.ts";

/** The sentinel request that ends every batch carries this opaque; its answer shows the stream stayed in sync. */
export const SENTINEL_OPAQUE = 0x7ffffff0;
/** Frames per connection: short batches reach their sentinel, long ones stress one decoder. */
export const BATCH_SIZES: readonly number[] = [1, 1, 2, 3, 5, 8, 13, 40, 250];

export const cborx: Encoder = new Encoder({ useRecords: false, mapsAsObjects: true });

/** A frame of serialize type `type` with `header` and `body` as they are (lengths true). */
export function frame(type: number, header: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(8 + header.byteLength + body.byteLength);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 4 + header.byteLength + body.byteLength);
  dv.setUint32(4, ((type << 24) | header.byteLength) >>> 0);
  b.set(header, 8);
  b.set(body, 8 + header.byteLength);
  return b;
}

/** A CBOR-able value of random type and shape (numbers, strings, booleans, null, bigints, arrays, maps). */
export function randomValue(r: Prng, depth = 0): unknown {
  switch (r.int(depth > 1 ? 6 : 8)) {
    case 0: return r.int(2 ** 31) - 2 ** 30;
    case 1: return "s".repeat(r.int(40));
    case 2: return r.int(2) === 0;
    case 3: return null;
    case 4: return r.next() / 7;
    case 5: return BigInt(r.next()) ** 3n;
    case 6: return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(4) }, (_, i) => [`k${i}`, randomValue(r, depth + 1)]));
  }
}

/**
 * `t` damaged one way or another: bytes flipped in the header or body or anywhere, truncated,
 * replaced by random bytes, lengths that lie (negative, past the maximum, a header longer than
 * the frame), an unknown serialize type; or `t` itself, so valid frames keep the stream realistic.
 */
export function mutate(r: Prng, t: Uint8Array): Uint8Array {
  switch (r.int(8)) {
    case 0: { // flip bytes in the header or body
      const b = t.slice();
      for (let i = 1 + r.int(4); i > 0; i--) b[8 + r.int(b.byteLength - 8)] = r.next() & 0xff;
      return b;
    }
    case 1: { // flip bytes anywhere, prefix included
      const b = t.slice();
      for (let i = 1 + r.int(3); i > 0; i--) b[r.int(b.byteLength)] = r.next() & 0xff;
      return b;
    }
    case 2: return t.subarray(0, r.int(t.byteLength)); // truncated
    case 3: return r.bytes(1 + r.int(200)); // random bytes
    case 4: { // lying lengths: negative, huge, header longer than the frame
      const b = t.slice();
      const dv = new DataView(b.buffer);
      const which = r.int(3);
      if (which === 0) dv.setInt32(0, -1 - r.int(1000));
      else if (which === 1) dv.setInt32(0, 16 * 1024 * 1024 + 1 + r.int(1 << 20));
      else dv.setUint32(4, ((0x42 << 24) | (dv.getInt32(0) + r.int(100))) >>> 0);
      return b;
    }
    case 5: return frame(r.pick([1, 2, 3, 0x41, 0xff]), r.bytes(r.int(40))); // an unknown serialize type
    default: return t;
  }
}

/**
 * Writes one batch, half-closes, and waits for the server to close the socket; says whether the
 * sentinel was answered and how many responses came in all (requests the server sends are not counted).
 */
export function sendBatch(port: number, bytes: Uint8Array, timeoutMs = 10_000): Promise<{ sentinelAnswered: boolean; answers: number }> {
  return new Promise((resolve) => {
    let sentinelAnswered = false;
    let answers = 0;
    const decoder = new FrameDecoder();
    const sock = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on("connect", () => sock.end(bytes));
    sock.on("data", (d) => {
      try {
        decoder.push(new Uint8Array(d), (c) => {
          if ((c.flag & FLAG_RESPONSE) !== 0) answers++;
          if (c.opaque === SENTINEL_OPAQUE && c.code === 0) sentinelAnswered = true;
        });
      } catch { /* the server's answers are well formed; ignore anything after a fault */ }
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ sentinelAnswered, answers });
    });
  });
}

/** Resident memory of process `pid` in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}
