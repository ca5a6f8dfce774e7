import zlib from "node:zlib";

/**
 * CRC-32 (IEEE, zlib's polynomial) over `data`, continuing from `initial`. Bun, Deno and
 * Node ≥ 20.15 provide a native one in node:zlib (GB/s); a table-driven fallback covers the rest.
 */
type Crc = (data: Uint8Array, initial?: number) => number;

const native = (zlib as unknown as { crc32?: Crc }).crc32;

let table: Int32Array | undefined;
function fallback(data: Uint8Array, initial = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = ~initial;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

export const crc32: Crc = native ? (data, initial = 0) => native(data, initial) >>> 0 : fallback;
