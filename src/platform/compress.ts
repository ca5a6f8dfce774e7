import zlib from "node:zlib";

/** ZLIB (RocketMQ's body compression, level 5 by default), on every runtime through node:zlib. */
export function deflate(data: Uint8Array, level = 5): Uint8Array {
  const out = zlib.deflateSync(data, { level });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  const out = zlib.inflateSync(data, { maxOutputLength: maxBytes });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
