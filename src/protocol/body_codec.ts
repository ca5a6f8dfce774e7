import { Encoder } from "cbor-x";
import { InvalidParameterError } from "../common/errors.ts";
import { fromUtf8, utf8 } from "../util/bytes.ts";
import { SerializeType } from "./serialize_type.ts";

/**
 * Structured bodies (route data, registrations, heartbeats) follow the header's serialize type:
 * CBOR for Bolide's own peers, JSON for RocketMQ's clients (whose bodies are JSON whether their
 * header is JSON or RocketMQ's binary one).
 */
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

export function encodeBody(value: unknown, type: number = SerializeType.CBOR): Uint8Array {
  if (type !== SerializeType.CBOR) return utf8(JSON.stringify(value, (_k, v) => typeof v === "bigint" ? Number(v) : v));
  // Copy: cbor-x hands out a view of a buffer it reuses for the next encode.
  return cbor.encode(value).slice();
}

export function decodeBody<T = unknown>(body: Uint8Array | undefined, type: number = SerializeType.CBOR, what = "body"): T {
  if (!body || body.byteLength === 0) throw new InvalidParameterError(`Request ${what} is empty`);
  try {
    return (type !== SerializeType.CBOR ? JSON.parse(fromUtf8(body)) : cbor.decode(body)) as T;
  } catch (cause) {
    throw new InvalidParameterError(`Request ${what} of ${body.byteLength} bytes is not decodable: ${(cause as Error).message}`, { cause });
  }
}
