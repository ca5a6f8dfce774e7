import { Encoder } from "cbor-x";
import { FrameError } from "../common/errors.ts";
import { fromUtf8, utf8 } from "../util/bytes.ts";
import type { ExtFields, ExtValue, RemotingCommand } from "./remoting_command.ts";
import { SerializeType } from "./serialize_type.ts";
import { decodeRocketMqHeader, encodeRocketMqHeader } from "./rocketmq_header.ts";
import { fastDecodeMap, type HeaderFields, headerSizeBound, NOT_FAST, writeHeaderMap } from "./cbor_header.ts";

/**
 * Header (de)serialisers for the serialize types Bolide reads: its native CBOR map and
 * RocketMQ's JSON object. Both produce and accept the same field names (code, flag, opaque,
 * language, version, remark, extFields), so a command looks the same whichever way it arrived.
 */

// Plain CBOR maps (no record extension) so that any CBOR library can read Bolide's headers.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

/** RocketMQ's LanguageCode names, by ordinal; JSON headers carry the name. */
const LANGUAGES = [
  "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER",
  "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS",
] as const;

/** A LanguageCode ordinal's name ("OTHER" for one Bolide does not know). */
export function languageName(ordinal: number | undefined): string {
  return LANGUAGES[ordinal ?? 7] ?? "OTHER";
}

function headerOf(cmd: RemotingCommand): HeaderFields {
  const h: HeaderFields = { code: cmd.code, flag: cmd.flag, opaque: cmd.opaque };
  if (cmd.language !== undefined) h.language = cmd.language;
  if (cmd.version !== undefined) h.version = cmd.version;
  if (cmd.remark !== undefined) h.remark = cmd.remark;
  if (cmd.extFields !== undefined) h.extFields = cmd.extFields;
  return h;
}

/** Scratch space for headers of the fast shape: encoded here, then copied once to their exact size. */
const scratch = new Uint8Array(64 * 1024);

/**
 * Encodes the header of `cmd` after `reserve` free bytes into a buffer of exactly
 * `reserve + headerLen` bytes, or returns undefined when it is not of the fast shape.
 */
export function encodeHeaderExact(cmd: RemotingCommand, reserve: number): { buf: Uint8Array; headerLen: number } | undefined {
  const fields = cmd as HeaderFields;
  if (!Number.isSafeInteger(cmd.code) || !Number.isSafeInteger(cmd.flag) || !Number.isSafeInteger(cmd.opaque)) return undefined;
  if ((cmd.language !== undefined && !Number.isSafeInteger(cmd.language)) || (cmd.version !== undefined && !Number.isSafeInteger(cmd.version))) return undefined;
  const bound = headerSizeBound(fields);
  if (bound < 0 || reserve + bound > scratch.byteLength) return undefined;
  const end = writeHeaderMap(scratch, reserve, fields);
  return { buf: scratch.slice(0, end), headerLen: end - reserve };
}

/**
 * Encodes the header of `cmd` into a new buffer after `reserve` free bytes (room for the frame
 * prefix, so the frame head needs no second copy). Returns the buffer, trimmed to its end, and
 * the header's length.
 */
export function encodeHeader(cmd: RemotingCommand, type: number, reserve = 0): { buf: Uint8Array; headerLen: number } {
  let header: Uint8Array;
  if (type === SerializeType.CBOR) {
    const fields = cmd as HeaderFields;
    const ok = Number.isSafeInteger(cmd.code) && Number.isSafeInteger(cmd.flag) && Number.isSafeInteger(cmd.opaque) &&
      (cmd.language === undefined || Number.isSafeInteger(cmd.language)) && (cmd.version === undefined || Number.isSafeInteger(cmd.version));
    const bound = ok ? headerSizeBound(fields) : -1;
    if (bound >= 0) {
      const buf = new Uint8Array(reserve + bound);
      const end = writeHeaderMap(buf, reserve, fields);
      return { buf: buf.subarray(0, end), headerLen: end - reserve };
    }
    header = cbor.encode(headerOf(cmd)); // a view of cbor-x's reused buffer: copied just below
  } else if (type === SerializeType.JSON) {
    header = utf8(JSON.stringify(jsonHeaderOf(cmd)));
  } else if (type === SerializeType.ROCKETMQ) {
    header = encodeRocketMqHeader(cmd);
  } else {
    throw new RangeError(`Cannot encode header: serialize type ${type} is not supported`);
  }
  const buf = new Uint8Array(reserve + header.byteLength);
  buf.set(header, reserve);
  return { buf, headerLen: header.byteLength };
}

function jsonHeaderOf(cmd: RemotingCommand): Record<string, unknown> {
  const h: Record<string, unknown> = {
    code: cmd.code,
    flag: cmd.flag,
    opaque: cmd.opaque,
    language: LANGUAGES[cmd.language ?? 13] ?? "OTHER",
    version: cmd.version ?? 0,
    serializeTypeCurrentRPC: "JSON",
  };
  if (cmd.remark !== undefined) h.remark = cmd.remark;
  if (cmd.extFields !== undefined) {
    const ext: Record<string, string> = {};
    for (const [k, v] of Object.entries(cmd.extFields)) ext[k] = v instanceof Uint8Array ? fromUtf8(v) : String(v);
    h.extFields = ext;
  }
  return h;
}

/** Decodes the header in bytes[start, end) (the whole array by default). */
export function decodeHeader(whole: Uint8Array, type: number, start = 0, end = whole.byteLength): RemotingCommand {
  let raw: unknown;
  if (type === SerializeType.CBOR) {
    const fast = fastDecodeMap(whole, start, end);
    if (fast !== NOT_FAST) return validateHeader(fast, type, true);
  }
  const bytes = start === 0 && end === whole.byteLength ? whole : whole.subarray(start, end);
  if (type === SerializeType.CBOR) {
    try {
      raw = cbor.decode(bytes);
    } catch (cause) {
      throw new FrameError(`CBOR header of ${bytes.byteLength} bytes is not decodable (${(cause as Error).message})`, { cause });
    }
  } else if (type === SerializeType.JSON) {
    try {
      raw = JSON.parse(fromUtf8(bytes));
    } catch (cause) {
      throw new FrameError(`JSON header of ${bytes.byteLength} bytes is not decodable (${(cause as Error).message})`, { cause });
    }
  } else if (type === SerializeType.ROCKETMQ) {
    return decodeRocketMqHeader(whole, start, end);
  } else {
    throw new FrameError(`serialize type ${type} is not supported (Bolide reads ${SerializeType.CBOR} CBOR, ${SerializeType.JSON} JSON and ${SerializeType.ROCKETMQ} RocketMQ binary)`);
  }
  return validateHeader(raw, type);
}

const isInt32 = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff;

/** `scalarExt`: the fast decoder already guarantees extFields holds only scalars (or null). */
function validateHeader(raw: unknown, type: number, scalarExt = false): RemotingCommand {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new FrameError("header is not a map");
  }
  const h = raw as Record<string, unknown>;
  if (!isInt32(h.code)) throw new FrameError("header field code is missing or not an int32");
  if (!isInt32(h.opaque)) throw new FrameError("header field opaque is missing or not an int32");
  const flag = h.flag ?? 0;
  if (!isInt32(flag)) throw new FrameError("header field flag is not an int32");
  const cmd: RemotingCommand = { code: h.code, flag, opaque: h.opaque };
  if (h.language !== undefined) {
    const lang = typeof h.language === "string" ? LANGUAGES.indexOf(h.language as typeof LANGUAGES[number]) : h.language;
    if (isInt32(lang) && lang >= 0) cmd.language = lang;
  }
  if (isInt32(h.version)) cmd.version = h.version;
  if (h.remark !== undefined && h.remark !== null) {
    if (typeof h.remark !== "string") throw new FrameError("header field remark is not a string");
    cmd.remark = h.remark;
  }
  if (h.extFields !== undefined && h.extFields !== null) {
    if (scalarExt && typeof h.extFields === "object") cmd.extFields = h.extFields as ExtFields;
    else validateExt(h.extFields, type, cmd);
  }
  return cmd;
}

/**
 * Sets `cmd.extFields` to the scalar fields of `raw`. A field of another shape (an array, a map)
 * is left out and named in `cmd.headerError`: the frame itself is sound, so the request is
 * answered INVALID_PARAMETER rather than the connection closed.
 */
function validateExt(raw: unknown, type: number, cmd: RemotingCommand): void {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    cmd.headerError = "header field extFields is not a map";
    return;
  }
  const out: ExtFields = {};
  const map = raw as Record<string, unknown>;
  for (const k in map) {
    const v = map[k];
    if (v === null || v === undefined) continue;
    const t = typeof v;
    const ok = type === SerializeType.JSON
      ? t === "string" || t === "number" || t === "boolean"
      : t === "string" || t === "number" || t === "boolean" || t === "bigint" || v instanceof Uint8Array;
    if (!ok) {
      cmd.headerError ??= `header field extFields.${k.slice(0, 40)} is not a scalar (${Array.isArray(v) ? "an array" : t === "object" ? "a map" : t})`;
      continue;
    }
    out[k] = v as ExtValue;
  }
  cmd.extFields = out;
}
