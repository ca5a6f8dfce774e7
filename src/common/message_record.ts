import { fromUtf8, readInt64, utf8, writeInt64 } from "../util/bytes.ts";
import { positiveHash } from "../util/java_hash.ts";
import { topicSeed } from "./index_key.ts";
import { Limits } from "./limits.ts";
import {
  checkPropertySeparators,
  decodeProperties,
  encodeProperties,
  MessageProperty,
  NAME_VALUE_SEPARATOR,
  type Properties,
} from "./message.ts";
import { BoundedCache } from "../util/bounded_cache.ts";

/**
 * RocketMQ's stored message layout (reference §1.5), IPv4 hosts. A pull answer is these bytes
 * as they lie in the CommitLog, so every client decodes them the same way. All integers are
 * big-endian. Bolide appends one property, __HCRC32, holding a CRC-32 of every record byte
 * except the body (covered by BODYCRC) and the CRC digits themselves, so recovery can tell a
 * torn or garbled header from a good one.
 */
export const MAGIC_V1 = 0xdaa320a7 | 0; // 1-byte topic length
export const MAGIC_V2 = 0xdaa320ab | 0; // 2-byte topic length (topics over 127 bytes)
export const BLANK_MAGIC = 0xcbd43194 | 0; // end-of-segment filler: [int32 length, int32 BLANK_MAGIC]

export const Offsets = {
  TOTAL_SIZE: 0,
  MAGIC: 4,
  BODY_CRC: 8,
  QUEUE_ID: 12,
  FLAG: 16,
  QUEUE_OFFSET: 20,
  PHYSICAL_OFFSET: 28,
  SYS_FLAG: 36,
  BORN_TIMESTAMP: 40,
  BORN_HOST: 48,
  STORE_TIMESTAMP: 56,
  STORE_HOST: 64,
  RECONSUME_TIMES: 72,
  PREPARED_TX_OFFSET: 76,
  BODY_LENGTH: 84,
  BODY: 88,
} as const;

/** Bytes of a V1 record besides body, topic and properties. */
export const RECORD_FIXED_BYTES = 91;
/** Smallest gap kept at a segment's end for the blank marker. */
export const BLANK_MIN_BYTES = 8;
const CRC_DIGITS = 10;
/** "__HCRC32" \u0001 dddddddddd \u0002 */
const CRC_PROPERTY_BYTES = MessageProperty.HEADER_CRC.length + 1 + CRC_DIGITS + 1;
const CRC_PROPERTY_PREFIX = utf8(MessageProperty.HEADER_CRC + NAME_VALUE_SEPARATOR);

/** CRC-32 over data[start, end), continuing from `initial` (the platform supplies a fast one). */
export type Crc32 = (data: Uint8Array, start: number, end: number, initial?: number) => number;

/** What a producer supplies; the store assigns offsets, store time and host. */
export interface RecordInput {
  topic: string;
  queueId: number;
  body: Uint8Array;
  flag?: number;
  /** Properties, as a map, or already encoded (see encodeProperties) as a string or its UTF-8 bytes. */
  properties?: Properties | string | Uint8Array;
  sysFlag?: number;
  bornTimestamp?: number;
  bornHost?: string;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
}

/** A record input with its variable parts encoded once, ready to be written. */
export interface PreparedRecord {
  input: RecordInput;
  topicBytes: Uint8Array;
  /** The properties string's UTF-8 length, and its bytes when it is not plain ASCII. */
  propsLength: number;
  propsBytes: Uint8Array | undefined;
  size: number;
  magic: number;
}

/** One pass over a property key or value: -1 if it holds a separator (\u0001, \u0002), 1 if not ASCII, else 0. */
function charClass(s: string): number {
  let cls = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 1 || c === 2) return -1;
    if (c > 0x7f) cls = 1;
  }
  return cls;
}

/** UTF-8 length of an ASCII string is its length; anything else is encoded. */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

// Topic names repeat from message to message: keep their UTF-8 bytes (bounded).
const topicCache = new BoundedCache<string, Uint8Array>(Limits.topicCacheEntries);

function topicBytesOf(topic: string): Uint8Array {
  return topicCache.getOrCompute(topic, utf8);
}

export function prepareRecord(input: RecordInput): PreparedRecord {
  const topicBytes = topicBytesOf(input.topic);
  let propsBytes: Uint8Array | undefined;
  let propsLength: number;
  const props = input.properties;
  if (props instanceof Uint8Array) {
    propsBytes = props;
    propsLength = props.byteLength;
  } else if (props === undefined || typeof props === "string") {
    const str = props ?? "";
    propsBytes = isAscii(str) ? undefined : utf8(str);
    propsLength = propsBytes ? propsBytes.byteLength : str.length;
  } else {
    // One pass over a map: check separators, measure, and see whether it is all ASCII.
    propsLength = 0;
    let ascii = true;
    for (const k in props) {
      const v = props[k];
      if (v === undefined) continue;
      const kk = charClass(k);
      const vk = charClass(v);
      if (kk < 0 || vk < 0) checkPropertySeparators(k, v); // throws, naming the property
      propsLength += k.length + v.length + 2;
      if (kk > 0 || vk > 0) ascii = false;
    }
    if (!ascii) {
      propsBytes = utf8(encodeProperties(props));
      propsLength = propsBytes.byteLength;
    }
  }
  const magic = topicBytes.byteLength > 127 ? MAGIC_V2 : MAGIC_V1;
  const size = RECORD_FIXED_BYTES + (magic === MAGIC_V2 ? 1 : 0) + input.body.byteLength + topicBytes.byteLength +
    propsLength + CRC_PROPERTY_BYTES;
  return { input, topicBytes, propsLength, propsBytes, size, magic };
}

/** Bytes the properties field of a prepared record takes (must fit in int16). */
export const storedPropertiesBytes = (r: PreparedRecord): number => r.propsLength + CRC_PROPERTY_BYTES;



// Hosts repeat (the store's own, a few producers'): remember the last few parsed.
const hostCache = new BoundedCache<string, [number, number]>(Limits.hostCacheEntries);

function parseHost(host: string): [number, number] {
  let v = hostCache.get(host);
  if (v) return v;
  v = [0x7f000001, 0];
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(host);
  if (m) v = [((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0, +m[5]];
  return hostCache.set(host, v);
}

function setHost(dv: DataView, at: number, host: string | undefined): void {
  const [ip, port] = host ? parseHost(host) : [0x7f000001, 0];
  dv.setUint32(at, ip);
  dv.setInt32(at + 4, port);
}

function hostAt(dv: DataView, at: number): string {
  const ip = dv.getUint32(at);
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}:${dv.getInt32(at + 4)}`;
}

/**
 * Writes `r` into `buf` at `at` with its assigned offsets and store time, and fills in both
 * CRCs. `buf` must have `r.size` bytes free at `at`; `dv` is a DataView over all of `buf`
 * (kept by the caller, so none is made per record).
 */
export function writeRecord(
  buf: Uint8Array,
  dv: DataView,
  at: number,
  r: PreparedRecord,
  queueOffset: number,
  physicalOffset: number,
  storeTimestamp: number,
  storeHost: string | undefined,
  crc32: Crc32,
): void {
  const input = r.input;
  const body = input.body;
  const bodyLen = body.byteLength;
  dv.setInt32(at + Offsets.TOTAL_SIZE, r.size);
  dv.setInt32(at + Offsets.MAGIC, r.magic);
  dv.setInt32(at + Offsets.QUEUE_ID, input.queueId);
  dv.setInt32(at + Offsets.FLAG, input.flag ?? 0);
  writeInt64(dv, at + Offsets.QUEUE_OFFSET, queueOffset);
  writeInt64(dv, at + Offsets.PHYSICAL_OFFSET, physicalOffset);
  dv.setInt32(at + Offsets.SYS_FLAG, input.sysFlag ?? 0);
  writeInt64(dv, at + Offsets.BORN_TIMESTAMP, input.bornTimestamp ?? storeTimestamp);
  setHost(dv, at + Offsets.BORN_HOST, input.bornHost);
  writeInt64(dv, at + Offsets.STORE_TIMESTAMP, storeTimestamp);
  setHost(dv, at + Offsets.STORE_HOST, storeHost);
  dv.setInt32(at + Offsets.RECONSUME_TIMES, input.reconsumeTimes ?? 0);
  writeInt64(dv, at + Offsets.PREPARED_TX_OFFSET, input.preparedTransactionOffset ?? 0);
  dv.setInt32(at + Offsets.BODY_LENGTH, bodyLen);
  let p = at + Offsets.BODY;
  buf.set(body, p);
  dv.setInt32(at + Offsets.BODY_CRC, crc32(body, 0, bodyLen) & 0x7fffffff);
  p += bodyLen;
  const bodyEnd = p;
  const topicLen = r.topicBytes.byteLength;
  if (r.magic === MAGIC_V2) buf[p++] = topicLen >> 8;
  buf[p++] = topicLen & 0xff;
  buf.set(r.topicBytes, p);
  p += topicLen;
  const propsLen = storedPropertiesBytes(r);
  buf[p++] = propsLen >> 8;
  buf[p++] = propsLen & 0xff;
  if (r.propsBytes) {
    buf.set(r.propsBytes, p);
    p += r.propsBytes.byteLength;
  } else if (typeof input.properties === "string") {
    const s = input.properties;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  } else if (input.properties && !(input.properties instanceof Uint8Array)) {
    const props = input.properties;
    for (const k in props) {
      const v = props[k];
      if (v === undefined) continue;
      for (let i = 0; i < k.length; i++) buf[p++] = k.charCodeAt(i);
      buf[p++] = 1; // NAME_VALUE_SEPARATOR
      for (let i = 0; i < v.length; i++) buf[p++] = v.charCodeAt(i);
      buf[p++] = 2; // PROPERTY_SEPARATOR
    }
  }
  buf.set(CRC_PROPERTY_PREFIX, p);
  p += CRC_PROPERTY_PREFIX.byteLength;
  const digitsAt = p;
  let crc = crc32(buf, at, at + Offsets.BODY);
  crc = crc32(buf, bodyEnd, digitsAt, crc);
  for (let i = CRC_DIGITS - 1; i >= 0; i--) {
    buf[digitsAt + i] = 48 + (crc % 10);
    crc = Math.floor(crc / 10);
  }
  buf[digitsAt + CRC_DIGITS] = 2; // PROPERTY_SEPARATOR
}

export type RecordCheck =
  | { kind: "record"; size: number }
  | { kind: "blank"; size: number }
  | { kind: "end" } // zeros: nothing was written here
  | { kind: "invalid"; reason: string };

/** Validates the record at `at` (sizes, magic, both CRCs) without decoding it. */
export function checkRecord(buf: Uint8Array, at: number, limit: number, crc32: Crc32): RecordCheck {
  if (limit - at < 8) return { kind: "invalid", reason: "fewer than 8 bytes left" };
  const dv = new DataView(buf.buffer, buf.byteOffset + at, limit - at);
  const size = dv.getInt32(0);
  const magic = dv.getInt32(4);
  if (size === 0 && magic === 0) return { kind: "end" };
  if (magic === BLANK_MAGIC) return size >= 8 ? { kind: "blank", size } : { kind: "invalid", reason: "blank marker too short" };
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) return { kind: "invalid", reason: `bad magic ${magic >>> 0}` };
  if (size < RECORD_FIXED_BYTES || size > limit - at) return { kind: "invalid", reason: `size ${size} out of range` };
  const bodyLen = dv.getInt32(Offsets.BODY_LENGTH);
  const topicLenBytes = magic === MAGIC_V2 ? 2 : 1;
  if (bodyLen < 0 || Offsets.BODY + bodyLen + topicLenBytes + 2 > size) return { kind: "invalid", reason: "body length out of range" };
  const bodyEnd = Offsets.BODY + bodyLen;
  const topicLen = magic === MAGIC_V2 ? dv.getUint16(bodyEnd) : dv.getUint8(bodyEnd);
  const propsAt = bodyEnd + topicLenBytes + topicLen;
  if (propsAt + 2 > size) return { kind: "invalid", reason: "topic length out of range" };
  const propsLen = dv.getUint16(propsAt);
  if (propsAt + 2 + propsLen !== size || propsLen < CRC_PROPERTY_BYTES) return { kind: "invalid", reason: "properties length mismatch" };
  if ((crc32(buf, at + Offsets.BODY, at + bodyEnd) & 0x7fffffff) !== dv.getInt32(Offsets.BODY_CRC)) {
    return { kind: "invalid", reason: "body CRC mismatch" };
  }
  const digitsAt = size - 1 - CRC_DIGITS;
  if (buf[at + size - 1] !== 2) return { kind: "invalid", reason: "record does not end with a property separator" };
  let crc = crc32(buf, at, at + Offsets.BODY);
  crc = crc32(buf, at + bodyEnd, at + digitsAt, crc);
  let stored = 0;
  for (let i = 0; i < CRC_DIGITS; i++) {
    const c = buf[at + digitsAt + i] - 48;
    if (c < 0 || c > 9) return { kind: "invalid", reason: "header CRC is not a number" };
    stored = stored * 10 + c;
  }
  if (stored !== crc) return { kind: "invalid", reason: "header CRC mismatch" };
  return { kind: "record", size };
}

/** A stored message, decoded. */
export interface StoredMessage {
  size: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Uint8Array;
  topic: string;
  /** User and system properties, without Bolide's integrity property. */
  properties: Properties;
}

/** Decodes the record at `at` (call checkRecord first where the bytes are not trusted). */
export function decodeRecord(buf: Uint8Array, at = 0): StoredMessage {
  const dv = new DataView(buf.buffer, buf.byteOffset + at);
  const size = dv.getInt32(Offsets.TOTAL_SIZE);
  const magic = dv.getInt32(Offsets.MAGIC);
  const bodyLen = dv.getInt32(Offsets.BODY_LENGTH);
  let p = Offsets.BODY + bodyLen;
  let topicLen: number;
  if (magic === MAGIC_V2) {
    topicLen = dv.getUint16(p);
    p += 2;
  } else {
    topicLen = dv.getUint8(p);
    p += 1;
  }
  const topic = fromUtf8(buf.subarray(at + p, at + p + topicLen));
  p += topicLen;
  const propsLen = dv.getUint16(p);
  p += 2;
  const properties = decodeProperties(fromUtf8(buf.subarray(at + p, at + p + propsLen)));
  delete properties[MessageProperty.HEADER_CRC];
  return {
    size,
    queueId: dv.getInt32(Offsets.QUEUE_ID),
    flag: dv.getInt32(Offsets.FLAG),
    queueOffset: readInt64(dv, Offsets.QUEUE_OFFSET),
    physicalOffset: readInt64(dv, Offsets.PHYSICAL_OFFSET),
    sysFlag: dv.getInt32(Offsets.SYS_FLAG),
    bornTimestamp: readInt64(dv, Offsets.BORN_TIMESTAMP),
    bornHost: hostAt(dv, Offsets.BORN_HOST),
    storeTimestamp: readInt64(dv, Offsets.STORE_TIMESTAMP),
    storeHost: hostAt(dv, Offsets.STORE_HOST),
    reconsumeTimes: dv.getInt32(Offsets.RECONSUME_TIMES),
    preparedTransactionOffset: readInt64(dv, Offsets.PREPARED_TX_OFFSET),
    body: buf.subarray(at + Offsets.BODY, at + Offsets.BODY + bodyLen),
    topic,
    properties,
  };
}

/** Reads the fields the dispatcher needs without decoding the body. */
export function recordStoreTimestamp(buf: Uint8Array, at = 0): number {
  return readInt64(new DataView(buf.buffer, buf.byteOffset + at), Offsets.STORE_TIMESTAMP);
}

export function writeBlank(buf: Uint8Array, at: number, length: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, 8);
  dv.setInt32(0, length);
  dv.setInt32(4, BLANK_MAGIC);
}


/** What dispatch needs of a record, read without decoding its body or every property. */
export interface DispatchInfo {
  topic: string;
  queueId: number;
  queueOffset: number;
  sysFlag: number;
  storeTimestamp: number;
  tags: string | undefined;
  /** Index hashes (see indexKeyHash) of every KEYS value and of UNIQ_KEY. */
  keyHashes: number[];
}

const TAGS_KEY = utf8(MessageProperty.TAGS);
const KEYS_KEY = utf8(MessageProperty.KEYS);
const UNIQ_KEY_KEY = utf8(MessageProperty.UNIQ_KEY);
const textDecoder = new TextDecoder();

function sameBytes(buf: Uint8Array, at: number, len: number, key: Uint8Array): boolean {
  if (len !== key.byteLength) return false;
  for (let i = 0; i < len; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}

function textAt(buf: Uint8Array, from: number, to: number): string {
  if (to - from > 128) return textDecoder.decode(buf.subarray(from, to));
  for (let i = from; i < to; i++) if (buf[i] > 0x7f) return textDecoder.decode(buf.subarray(from, to));
  return String.fromCharCode.apply(null, buf.subarray(from, to) as unknown as number[]);
}

/** Recent topic names by their bytes, so a rescan of millions of records does not decode each. */
const topicNames = new BoundedCache<number, { bytes: Uint8Array; name: string }>(Limits.topicCacheEntries);

function topicAt(buf: Uint8Array, from: number, len: number): string {
  let h = len;
  for (let i = 0; i < len; i++) h = (Math.imul(h, 31) + buf[from + i]) | 0;
  const hit = topicNames.get(h);
  if (hit && sameBytes(buf, from, len, hit.bytes)) return hit.name;
  const name = textDecoder.decode(buf.subarray(from, from + len));
  topicNames.set(h, { bytes: buf.slice(from, from + len), name });
  return name;
}

/**
 * One property of the record at `at`, read from its bytes without decoding the others (the
 * timer service reads TIMER_OUT_MS of every timer message this way). Undefined when absent.
 */
export function recordProperty(buf: Uint8Array, name: string, at = 0): string | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset + at);
  let p = Offsets.BODY + dv.getInt32(Offsets.BODY_LENGTH);
  if (dv.getInt32(Offsets.MAGIC) === MAGIC_V2) p += 2 + dv.getUint16(p);
  else p += 1 + dv.getUint8(p);
  const end = at + p + 2 + dv.getUint16(p);
  const key = utf8(name);
  for (let q = at + p + 2; q < end;) {
    let sep = q;
    while (sep < end && buf[sep] !== 1) sep++;
    if (sep >= end) return undefined;
    let stop = sep + 1;
    while (stop < end && buf[stop] !== 2) stop++;
    if (sameBytes(buf, q, sep - q, key)) return textAt(buf, sep + 1, stop);
    q = stop + 1;
  }
  return undefined;
}

/** Reads the dispatch fields of a checked record at `at`. */
export function dispatchInfo(buf: Uint8Array, at: number, dv: DataView): DispatchInfo {
  const magic = dv.getInt32(at + Offsets.MAGIC);
  const size = dv.getInt32(at + Offsets.TOTAL_SIZE);
  let p = at + Offsets.BODY + dv.getInt32(at + Offsets.BODY_LENGTH);
  let topicLen: number;
  if (magic === MAGIC_V2) {
    topicLen = dv.getUint16(p);
    p += 2;
  } else {
    topicLen = buf[p];
    p += 1;
  }
  const topic = topicAt(buf, p, topicLen);
  p += topicLen + 2;
  const found = dispatchKeyHashes(buf, p, at + size, topicSeed(topic));
  return {
    topic,
    queueId: dv.getInt32(at + Offsets.QUEUE_ID),
    queueOffset: readInt64(dv, at + Offsets.QUEUE_OFFSET),
    sysFlag: dv.getInt32(at + Offsets.SYS_FLAG),
    storeTimestamp: readInt64(dv, at + Offsets.STORE_TIMESTAMP),
    tags: found.tags,
    keyHashes: found.hashes,
  };
}


/**
 * For dispatch of a send: the TAGS value and the Java hash (continuing from `seed`) of every
 * KEYS value and of UNIQ_KEY, read straight from the properties bytes. ASCII values are hashed
 * byte by byte (their UTF-16 code units are the bytes); others are decoded first.
 */
export function dispatchKeyHashes(buf: Uint8Array, start: number, end: number, seed: number): { tags: string | undefined; hashes: number[] } {
  let tags: string | undefined;
  const hashes: number[] = [];
  let p = start;
  while (p < end) {
    let sep = p;
    while (sep < end && buf[sep] !== 1) sep++;
    if (sep >= end) break;
    let stop = sep + 1;
    while (stop < end && buf[stop] !== 2) stop++;
    const keyLen = sep - p;
    if (sameBytes(buf, p, keyLen, TAGS_KEY)) tags = textAt(buf, sep + 1, stop);
    else if (sameBytes(buf, p, keyLen, UNIQ_KEY_KEY)) hashValue(buf, sep + 1, stop, seed, hashes);
    else if (sameBytes(buf, p, keyLen, KEYS_KEY)) {
      let from = sep + 1;
      for (let i = sep + 1; i <= stop; i++) {
        if (i === stop || buf[i] === 32) {
          if (i > from) hashValue(buf, from, i, seed, hashes);
          from = i + 1;
        }
      }
    }
    p = stop + 1;
  }
  return { tags, hashes };
}

function hashValue(buf: Uint8Array, from: number, to: number, seed: number, out: number[]): void {
  let h = seed;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c > 0x7f) {
      const s = textDecoder.decode(buf.subarray(from, to));
      h = seed;
      for (let j = 0; j < s.length; j++) h = (Math.imul(h, 31) + s.charCodeAt(j)) | 0;
      break;
    }
    h = (Math.imul(h, 31) + c) | 0;
  }
  out.push(positiveHash(h));
}
