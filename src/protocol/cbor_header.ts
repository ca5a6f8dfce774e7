/**
 * A hand-written CBOR encoder and decoder for the one shape every frame carries: a map of text
 * keys to small integers, text, booleans and one nested map (extFields). cbor-x costs about 1 µs
 * a header; this path costs a fraction of that, and a header is coded four times per round trip.
 * Anything outside the shape (floats, bigints, byte strings, tags, indefinite lengths) makes the
 * fast path give up and cbor-x handles the whole header, so the output is always standard CBOR.
 */

import type { RemotingCommand } from "./remoting_command.ts";
import { Limits } from "../common/limits.ts";
import { BoundedCache } from "../util/bounded_cache.ts";

const MT_UINT = 0x00;
const MT_NEGINT = 0x20;
const MT_BYTES = 0x40;
const MT_TEXT = 0x60;
const MT_MAP = 0xa0;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Signals "not the fast shape": the caller falls back to cbor-x. */
export const NOT_FAST = Symbol("not-fast");

/** Worst-case size of a value's encoding, or -1 when the fast path cannot encode it. */
function sizeOf(v: unknown): number {
  switch (typeof v) {
    case "number":
      return Number.isSafeInteger(v) ? 9 : -1;
    case "string":
      return 9 + v.length * 3;
    case "boolean":
      return 1;
    case "object": {
      if (v === null) return 1;
      if (v instanceof Uint8Array) return 9 + v.byteLength;
      if (Array.isArray(v)) return -1;
      let n = 9;
      for (const k in v as Record<string, unknown>) {
        const s = sizeOf((v as Record<string, unknown>)[k]);
        if (s < 0) return -1;
        n += 9 + k.length * 3 + s;
      }
      return n;
    }
    case "undefined":
      return 0;
    default:
      return -1;
  }
}


function writeHead(buf: Uint8Array, at: number, major: number, n: number): number {
  if (n < 24) {
    buf[at] = major | n;
    return at + 1;
  }
  if (n < 0x100) {
    buf[at] = major | 24;
    buf[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    buf[at] = major | 25;
    buf[at + 1] = n >> 8;
    buf[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    buf[at] = major | 26;
    buf[at + 1] = n >>> 24;
    buf[at + 2] = (n >>> 16) & 0xff;
    buf[at + 3] = (n >>> 8) & 0xff;
    buf[at + 4] = n & 0xff;
    return at + 5;
  }
  buf[at] = major | 27;
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  buf[at + 1] = hi >>> 24;
  buf[at + 2] = (hi >>> 16) & 0xff;
  buf[at + 3] = (hi >>> 8) & 0xff;
  buf[at + 4] = hi & 0xff;
  buf[at + 5] = lo >>> 24;
  buf[at + 6] = (lo >>> 16) & 0xff;
  buf[at + 7] = (lo >>> 8) & 0xff;
  buf[at + 8] = lo & 0xff;
  return at + 9;
}

/** Encoded CBOR text of short strings (keys, topics, groups), which repeat: bounded, cleared when full. */
const encodedText = new BoundedCache<string, Uint8Array>(Limits.textCacheEntries);

function writeText(buf: Uint8Array, at: number, s: string): number {
  const n = s.length;
  if (n <= 24) {
    let enc = encodedText.get(s);
    if (enc === undefined) {
      const tmp = new Uint8Array(9 + n * 3);
      enc = tmp.slice(0, writeTextSlow(tmp, 0, s));
      encodedText.set(s, enc);
    }
    // A loop beats TypedArray.set for a handful of bytes.
    const m = enc.byteLength;
    for (let i = 0; i < m; i++) buf[at + i] = enc[i];
    return at + m;
  }
  return writeTextSlow(buf, at, s);
}

function writeTextSlow(buf: Uint8Array, at: number, s: string): number {
  const n = s.length;
  let ascii = n < 256;
  if (ascii) {
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
  }
  if (ascii) {
    at = writeHead(buf, at, MT_TEXT, n);
    for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
    return at + n;
  }
  const bytes = textEncoder.encode(s);
  at = writeHead(buf, at, MT_TEXT, bytes.byteLength);
  buf.set(bytes, at);
  return at + bytes.byteLength;
}

function writeValue(buf: Uint8Array, at: number, v: unknown): number {
  switch (typeof v) {
    case "number":
      return v >= 0 ? writeHead(buf, at, MT_UINT, v) : writeHead(buf, at, MT_NEGINT, -1 - v);
    case "string":
      return writeText(buf, at, v);
    case "boolean":
      buf[at] = v ? TRUE : FALSE;
      return at + 1;
    default:
      if (v === null) {
        buf[at] = NULL;
        return at + 1;
      }
      if (v instanceof Uint8Array) {
        at = writeHead(buf, at, MT_BYTES, v.byteLength);
        buf.set(v, at);
        return at + v.byteLength;
      }
      return writeMap(buf, at, v as Record<string, unknown>);
  }
}

function writeMap(buf: Uint8Array, at: number, map: Record<string, unknown>): number {
  // One pass: the count goes in the head byte, patched at the end (maps of up to 23 entries,
  // which every header is; larger ones take the two-pass path below).
  const headAt = at;
  let count = 0;
  at++;
  for (const k in map) {
    const v = map[k];
    if (v === undefined) continue;
    if (++count > 23) return writeMapTwoPass(buf, headAt, map);
    at = writeText(buf, at, k);
    at = writeValue(buf, at, v);
  }
  buf[headAt] = MT_MAP | count;
  return at;
}

function writeMapTwoPass(buf: Uint8Array, at: number, map: Record<string, unknown>): number {
  const keys = Object.keys(map);
  let count = 0;
  for (let i = 0; i < keys.length; i++) if (map[keys[i]] !== undefined) count++;
  at = writeHead(buf, at, MT_MAP, count);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = map[k];
    if (v === undefined) continue;
    at = writeText(buf, at, k);
    at = writeValue(buf, at, v);
  }
  return at;
}

/** The fields of a command that its header carries (the body travels after the header). */
export type HeaderFields = Pick<RemotingCommand, "code" | "flag" | "opaque" | "language" | "version" | "remark" | "extFields">;

/** Bound of the encoded size of a command header, or -1 if it is not of the fast shape. */
export function headerSizeBound(h: HeaderFields): number {
  let n = 9 + 5 * 18;
  if (h.remark !== undefined) n += 18 + h.remark.length * 3;
  if (h.extFields !== undefined) {
    const e = sizeOf(h.extFields);
    if (e < 0) return -1;
    n += 18 + e;
  }
  return n;
}

/** Writes a command header map straight from the command's fields (no intermediate object). */
export function writeHeaderMap(buf: Uint8Array, at: number, h: HeaderFields): number {
  let count = 3;
  if (h.language !== undefined) count++;
  if (h.version !== undefined) count++;
  if (h.remark !== undefined) count++;
  if (h.extFields !== undefined) count++;
  at = writeHead(buf, at, MT_MAP, count);
  at = writeText(buf, at, "code");
  at = writeValue(buf, at, h.code);
  at = writeText(buf, at, "flag");
  at = writeValue(buf, at, h.flag);
  at = writeText(buf, at, "opaque");
  at = writeValue(buf, at, h.opaque);
  if (h.language !== undefined) {
    at = writeText(buf, at, "language");
    at = writeValue(buf, at, h.language);
  }
  if (h.version !== undefined) {
    at = writeText(buf, at, "version");
    at = writeValue(buf, at, h.version);
  }
  if (h.remark !== undefined) {
    at = writeText(buf, at, "remark");
    at = writeText(buf, at, h.remark);
  }
  if (h.extFields !== undefined) {
    at = writeText(buf, at, "extFields");
    at = writeMap(buf, at, h.extFields);
  }
  return at;
}


// ---- decoding ------------------------------------------------------------------------------

class Reader {
  at: number;
  constructor(readonly buf: Uint8Array, at: number, readonly end: number) {
    this.at = at;
  }
}

function readArg(r: Reader, info: number): number | typeof NOT_FAST {
  const buf = r.buf;
  if (info < 24) return info;
  let n: number;
  let len: number;
  if (info === 24) len = 1;
  else if (info === 25) len = 2;
  else if (info === 26) len = 4;
  else if (info === 27) len = 8;
  else return NOT_FAST; // indefinite lengths and reserved values go to cbor-x
  if (r.at + len > r.end) return NOT_FAST;
  n = 0;
  for (let i = 0; i < len; i++) n = n * 256 + buf[r.at + i];
  // Beyond 2^53 a number loses digits: cbor-x decodes those as bigint instead.
  if (n > Number.MAX_SAFE_INTEGER) return NOT_FAST;
  r.at += len;
  return n;
}

/**
 * Short ASCII strings (header keys, codes as text, topic names) repeat from frame to frame: they
 * are interned in a small direct-mapped table keyed by a hash of their bytes, so the common case
 * compares bytes instead of building a new string.
 */
const INTERN_SLOTS = 1024;
const internBytes: (Uint8Array | undefined)[] = Array.from({ length: INTERN_SLOTS }, () => undefined);
const internStrings: string[] = Array.from({ length: INTERN_SLOTS }, () => "");

function readText(r: Reader, len: number): string | typeof NOT_FAST {
  const start = r.at;
  const end = start + len;
  if (end > r.end) return NOT_FAST;
  r.at = end;
  const buf = r.buf;
  if (len > INTERN_MAX) return decodeText(buf, start, end);
  if (len === 0) return "";
  // Slot from the length and three sampled bytes; the full comparison below decides.
  const slot = (len * 7 + buf[start] * 31 + buf[end - 1] * 131 + buf[start + (len >> 1)] * 17) & (INTERN_SLOTS - 1);
  const known = internBytes[slot];
  if (known !== undefined && known.byteLength === len) {
    let i = 0;
    while (i < len && known[i] === buf[start + i]) i++;
    if (i === len) return internStrings[slot];
  }
  for (let i = start; i < end; i++) if (buf[i] > 0x7f) return textDecoder.decode(buf.subarray(start, end));
  const s = String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  internBytes[slot] = buf.slice(start, end);
  internStrings[slot] = s;
  return s;
}

/** Longer strings (ids, property strings) rarely repeat: decode them directly. */
const INTERN_MAX = 24;

function decodeText(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 128) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (buf[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  return textDecoder.decode(buf.subarray(start, end));
}

function readValue(r: Reader, depth: number): unknown {
  if (r.at >= r.end) return NOT_FAST;
  const ib = r.buf[r.at++];
  const major = ib & 0xe0;
  const info = ib & 0x1f;
  switch (major) {
    case MT_UINT:
      return readArg(r, info);
    case MT_NEGINT: {
      const n = readArg(r, info);
      return n === NOT_FAST ? n : -1 - n;
    }
    case MT_TEXT: {
      const len = readArg(r, info);
      return len === NOT_FAST ? len : readText(r, len);
    }
    case MT_BYTES: {
      // A view into the frame, not a copy: the frame's chunk lives as long as the command.
      const len = readArg(r, info);
      if (len === NOT_FAST || r.at + len > r.end) return NOT_FAST;
      r.at += len;
      return r.buf.subarray(r.at - len, r.at);
    }
    case MT_MAP:
      return depth < 2 ? readMap(r, info, depth + 1) : NOT_FAST;
    default:
      if (ib === FALSE) return false;
      if (ib === TRUE) return true;
      if (ib === NULL) return null;
      return NOT_FAST;
  }
}

function readMap(r: Reader, info: number, depth: number): Record<string, unknown> | typeof NOT_FAST {
  const count = readArg(r, info);
  if (count === NOT_FAST) return NOT_FAST;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    if (r.at >= r.end) return NOT_FAST;
    const kb = r.buf[r.at++];
    if ((kb & 0xe0) !== MT_TEXT) return NOT_FAST;
    const klen = readArg(r, kb & 0x1f);
    if (klen === NOT_FAST) return NOT_FAST;
    const key = readText(r, klen);
    // "__proto__" would set the prototype of a plain object: leave such a map to cbor-x.
    if (key === NOT_FAST || key === "__proto__") return NOT_FAST;
    const v = readValue(r, depth);
    if (v === NOT_FAST) return NOT_FAST;
    out[key] = v;
  }
  return out;
}

/** Decodes a header map of the fast shape that fills `bytes` exactly, or returns NOT_FAST. */
export function fastDecodeMap(bytes: Uint8Array, start = 0, end = bytes.byteLength): Record<string, unknown> | typeof NOT_FAST {
  const r = new Reader(bytes, start, end);
  if (r.at >= r.end) return NOT_FAST;
  const ib = bytes[r.at++];
  if ((ib & 0xe0) !== MT_MAP) return NOT_FAST;
  const m = readMap(r, ib & 0x1f, 1);
  if (m === NOT_FAST || r.at !== r.end) return NOT_FAST;
  return m;
}
