import zlib from "node:zlib";

/**
 * CRC-32 (IEEE, zlib's polynomial). Bun, Deno and Node ≥ 20.15 have a native one in node:zlib,
 * at several GB/s; below a few hundred bytes the call costs more than the work, so short ranges
 * use a table in JS. `crc32Range` works on a range without creating a view.
 */
type NativeCrc = (data: Uint8Array, initial?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc }).crc32;

const table = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c;
}

const SHORT = 512;

export function crc32Range(data: Uint8Array, start: number, end: number, initial = 0): number {
  if (native && end - start > SHORT) {
    return native(start === 0 && end === data.byteLength ? data : data.subarray(start, end), initial) >>> 0;
  }
  let crc = ~initial;
  for (let i = start; i < end; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

export function crc32(data: Uint8Array, initial = 0): number {
  return crc32Range(data, 0, data.byteLength, initial);
}
