/** Byte helpers shared by the codec, the store and the clients. No runtime APIs here. */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

/** Concatenates chunks into one new buffer (one copy; used where a single write or record is needed). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  let size = total ?? 0;
  if (total === undefined) for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function dataView(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A 64-bit big-endian integer as a number (offsets and timestamps stay below 2^53), without the
 * BigInt a DataView's getBigInt64 would allocate.
 */
export function readInt64(dv: DataView, at: number): number {
  return dv.getInt32(at) * 0x100000000 + dv.getUint32(at + 4);
}

export function writeInt64(dv: DataView, at: number, v: number): void {
  dv.setInt32(at, Math.floor(v / 0x100000000));
  dv.setUint32(at + 4, v >>> 0);
}
