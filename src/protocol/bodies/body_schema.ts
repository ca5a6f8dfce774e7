import type { Check } from "../../common/check.ts";
import { decodeBody, encodeBody } from "../body_codec.ts";

export { check, type Check } from "../../common/check.ts";

/**
 * Typed bodies: each structured body (heartbeats, lock requests, topic and offset tables, route
 * data) is declared once as a checker, and decoding validates the whole value before anyone
 * reads it. A failure is INVALID_PARAMETER naming the body, the path and the rule.
 */

/** A body's codec: bytes in the request's serialize type to a validated value, and back. */
export interface BodyCodec<T> {
  /** RocketMQ's class name, e.g. "HeartbeatData" (named in every error). */
  readonly name: string;
  decode(body: Uint8Array | undefined, serializeType: number | undefined): T;
  encode(value: T, serializeType: number | undefined): Uint8Array;
}

export function defineBody<T>(name: string, c: Check<T>): BodyCodec<T> {
  return {
    name,
    decode: (body, type) => c(decodeBody<unknown>(body, type, name), name),
    encode: (value, type) => encodeBody(value, type),
  };
}
