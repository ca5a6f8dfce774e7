import { fromUtf8 } from "../util/bytes.ts";
import { InvalidParameterError } from "./errors.ts";

/** Message property keys (RocketMQ's MessageConst), stored in each record's properties string. */
export const MessageProperty = {
  TAGS: "TAGS",
  KEYS: "KEYS",
  UNIQ_KEY: "UNIQ_KEY",
  WAIT_STORE_MSG_OK: "WAIT",
  DELAY_TIME_LEVEL: "DELAY",
  RETRY_TOPIC: "RETRY_TOPIC",
  REAL_TOPIC: "REAL_TOPIC",
  REAL_QUEUE_ID: "REAL_QID",
  TRANSACTION_PREPARED: "TRAN_MSG",
  PRODUCER_GROUP: "PGROUP",
  TRANSACTION_ID: "__transactionId__",
  TRANSACTION_CHECK_TIMES: "TRANSACTION_CHECK_TIMES",
  MAX_RECONSUME_TIMES: "MAX_RECONSUME_TIMES",
  RECONSUME_TIME: "RECONSUME_TIME",
  ORIGIN_MESSAGE_ID: "ORIGIN_MESSAGE_ID",
  TIMER_DELIVER_MS: "TIMER_DELIVER_MS",
  /** A timer's delay from the time it is stored (the broker turns it into TIMER_OUT_MS). */
  TIMER_DELAY_MS: "TIMER_DELAY_MS",
  /** A parked timer's due time (ms since the epoch), set by the broker. */
  TIMER_OUT_MS: "TIMER_OUT_MS",
  /** Where a dead letter came from: its topic and message id before it was retried. */
  DLQ_ORIGIN_TOPIC: "DLQ_ORIGIN_TOPIC",
  DLQ_ORIGIN_MESSAGE_ID: "DLQ_ORIGIN_MESSAGE_ID",
  SHARDING_KEY: "__SHARDINGKEY",
  /** Bolide's record integrity check over every byte but the body (which has BODYCRC). */
  HEADER_CRC: "__HCRC32",
} as const;

/**
 * Properties only the broker sets: where a parked message goes back to (REAL_TOPIC, REAL_QID),
 * when a parked timer is due, how often a half message was checked, where a dead letter came
 * from, the record's check. A client's are dropped on every send path (else a message sent with
 * them would be put back to a topic around its permission) and the Producer refuses them.
 */
export const BROKER_PROPERTIES: readonly string[] = [
  MessageProperty.REAL_TOPIC,
  MessageProperty.REAL_QUEUE_ID,
  MessageProperty.TIMER_OUT_MS,
  MessageProperty.TRANSACTION_CHECK_TIMES,
  MessageProperty.DLQ_ORIGIN_TOPIC,
  MessageProperty.DLQ_ORIGIN_MESSAGE_ID,
  MessageProperty.HEADER_CRC,
];

/** A copy of a user's properties; InvalidParameterError when one is named like a broker's own. */
export function userProperties(props: Properties | undefined): Properties {
  const out: Properties = { ...props };
  for (const name of BROKER_PROPERTIES) {
    if (name in out) throw new InvalidParameterError(`Property "${name}" is set by the broker only; use another name`);
  }
  return out;
}

/** sysFlag bits (RocketMQ's MessageSysFlag). */
export const SysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
  NEED_UNWRAP: 0x40,
  INNER_BATCH: 0x80,
} as const;

export const transactionType = (sysFlag: number): number => sysFlag & 0xc;

export const NAME_VALUE_SEPARATOR = "\u0001";
export const PROPERTY_SEPARATOR = "\u0002";
/** Longest properties string a record can hold (int16 length). */
export const MAX_PROPERTIES_BYTES = 32_767;

export type Properties = Record<string, string>;

/** Throws unless no key or value of `props` contains a separator character. */
export function checkPropertySeparators(key: string, value: string): void {
  if (key.includes(NAME_VALUE_SEPARATOR) || key.includes(PROPERTY_SEPARATOR) || value.includes(NAME_VALUE_SEPARATOR) || value.includes(PROPERTY_SEPARATOR)) {
    throw new InvalidParameterError(`Property "${key.slice(0, 40)}" contains a reserved separator character (\\u0001 or \\u0002)`);
  }
}

export function encodeProperties(props: Properties | undefined): string {
  if (!props) return "";
  let s = "";
  for (const k in props) {
    const v = props[k];
    if (v === undefined) continue;
    if (k.includes(NAME_VALUE_SEPARATOR) || k.includes(PROPERTY_SEPARATOR) || v.includes(NAME_VALUE_SEPARATOR) || v.includes(PROPERTY_SEPARATOR)) {
      throw new InvalidParameterError(`Property "${k.slice(0, 40)}" contains a reserved separator character (\\u0001 or \\u0002)`);
    }
    s += k + NAME_VALUE_SEPARATOR + v + PROPERTY_SEPARATOR;
  }
  return s;
}

export function decodeProperties(s: string): Properties {
  const out: Properties = {};
  let start = 0;
  while (start < s.length) {
    const end = s.indexOf(PROPERTY_SEPARATOR, start);
    const item = s.slice(start, end < 0 ? s.length : end);
    const eq = item.indexOf(NAME_VALUE_SEPARATOR);
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
    if (end < 0) break;
    start = end + 1;
  }
  return out;
}

/** Properties in any of the forms a put carries them (a map, encoded text, its UTF-8 bytes) as a fresh map. */
export function propertiesOf(p: Properties | string | Uint8Array | undefined): Properties {
  if (p === undefined) return {};
  if (typeof p === "string") return decodeProperties(p);
  return p instanceof Uint8Array ? decodeProperties(fromUtf8(p)) : { ...p };
}

const scratch = new Uint8Array(MAX_PROPERTIES_BYTES + 1);

/**
 * Encodes properties straight to UTF-8 bytes (what a record stores): one pass into a scratch
 * buffer when every key and value is ASCII, then one copy out. Anything else (non-ASCII, or too
 * long for a record, which the broker then refuses) goes through the string form.
 */
export function encodePropertiesBytes(props: Properties): Uint8Array {
  let p = 0;
  for (const k in props) {
    const v = props[k];
    if (v === undefined) continue;
    if (p + k.length + v.length + 2 > scratch.byteLength) return new TextEncoder().encode(encodeProperties(props));
    p = copyAscii(k, p, k, v);
    if (p < 0) return new TextEncoder().encode(encodeProperties(props));
    scratch[p++] = 1; // NAME_VALUE_SEPARATOR
    p = copyAscii(v, p, k, v);
    if (p < 0) return new TextEncoder().encode(encodeProperties(props));
    scratch[p++] = 2; // PROPERTY_SEPARATOR
  }
  return scratch.slice(0, p);
}

/** Copies ASCII `s` into the scratch buffer at `p`; -1 if it is not ASCII. Throws on separators. */
function copyAscii(s: string, p: number, key: string, value: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    if (c === 1 || c === 2) checkPropertySeparators(key, value);
    scratch[p++] = c;
  }
  return p;
}

/**
 * Whether encoded properties (string or UTF-8 bytes) hold a property named `name`, without
 * decoding them: the send path checks for delay properties this way on every message.
 */
export function hasProperty(encoded: string | Uint8Array, name: string): boolean {
  if (typeof encoded === "string") {
    const at = encoded.indexOf(name + NAME_VALUE_SEPARATOR);
    return at === 0 || (at > 0 && encoded.indexOf(PROPERTY_SEPARATOR + name + NAME_VALUE_SEPARATOR) >= 0);
  }
  const n = name.length;
  outer: for (let i = 0; i + n < encoded.length; i++) {
    if (i > 0 && encoded[i - 1] !== 2) continue;
    for (let j = 0; j < n; j++) if (encoded[i + j] !== name.charCodeAt(j)) continue outer;
    if (encoded[i + n] === 1) return true;
  }
  return false;
}

/** First characters of BROKER_PROPERTIES' names: most keys are passed over on their first one. */
const BROKER_PROPERTY_FIRST = new Set(BROKER_PROPERTIES.map((name) => name.charCodeAt(0)));

/**
 * Whether any of BROKER_PROPERTIES is among the encoded properties: one pass from key to key
 * (every send goes through this, so no scan per name).
 */
function hasBrokerProperty(encoded: string | Uint8Array): boolean {
  const text = typeof encoded === "string";
  const sep = text ? PROPERTY_SEPARATOR : 2;
  for (let i = 0; i < encoded.length;) {
    const first = text ? (encoded as string).charCodeAt(i) : (encoded as Uint8Array)[i];
    if (BROKER_PROPERTY_FIRST.has(first)) {
      for (const name of BROKER_PROPERTIES) if (keyAt(encoded, i, name)) return true;
    }
    const next = text ? (encoded as string).indexOf(sep as string, i) : (encoded as Uint8Array).indexOf(sep as number, i);
    if (next < 0) return false;
    i = next + 1;
  }
  return false;
}

/** Whether the key starting at `i` is `name` (followed by the name-value separator). */
function keyAt(encoded: string | Uint8Array, i: number, name: string): boolean {
  if (typeof encoded === "string") return encoded.startsWith(name, i) && encoded.charCodeAt(i + name.length) === 1;
  if (i + name.length >= encoded.length || encoded[i + name.length] !== 1) return false;
  for (let j = 0; j < name.length; j++) if (encoded[i + j] !== name.charCodeAt(j)) return false;
  return true;
}

/**
 * Encoded properties without the broker's own (BROKER_PROPERTIES), as a client sent them: the
 * same value when none is there (the common case costs a few scans), else re-encoded.
 */
export function withoutBrokerProperties(encoded: string | Uint8Array): string | Uint8Array {
  if (!hasBrokerProperty(encoded)) return encoded;
  const props = propertiesOf(encoded);
  for (const name of BROKER_PROPERTIES) delete props[name];
  return encodeProperties(props);
}
