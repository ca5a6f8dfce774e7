import { MessageIllegalError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";

/** One message of a SEND_BATCH_MESSAGE body (RocketMQ §1.6). */
export interface BatchEntry {
  flag: number;
  body: Uint8Array;
  /** Encoded properties (UTF-8 of encodeProperties' string). */
  properties: Uint8Array;
}

/**
 * Splits a batch body: per message `int32 totalSize, int32 magic, int32 bodyCRC, int32 flag,
 * int32 bodyLen, body, int16 propsLen, props`. Throws MessageIllegalError at the first entry
 * whose sizes do not add up, so nothing of a broken batch is stored.
 */
export function decodeBatch(buf: Uint8Array, maxEntries: number = Limits.maxBatchMessages): BatchEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: BatchEntry[] = [];
  let p = 0;
  while (p < buf.byteLength) {
    if (out.length >= maxEntries) throw new MessageIllegalError(`Batch holds more than ${maxEntries} messages`);
    if (buf.byteLength - p < 22) throw new MessageIllegalError(`Batch entry ${out.length} is truncated`);
    const total = dv.getInt32(p);
    const bodyLen = dv.getInt32(p + 16);
    if (total < 22 || p + total > buf.byteLength || bodyLen < 0 || 20 + bodyLen + 2 > total) {
      throw new MessageIllegalError(`Batch entry ${out.length} has inconsistent sizes (total ${total}, body ${bodyLen})`);
    }
    const flag = dv.getInt32(p + 12);
    const body = buf.subarray(p + 20, p + 20 + bodyLen);
    const propsLen = dv.getInt16(p + 20 + bodyLen);
    if (propsLen < 0 || 20 + bodyLen + 2 + propsLen !== total) {
      throw new MessageIllegalError(`Batch entry ${out.length} has inconsistent property length ${propsLen}`);
    }
    const properties = buf.subarray(p + 22 + bodyLen, p + total);
    out.push({ flag, body, properties });
    p += total;
  }
  if (out.length === 0) throw new MessageIllegalError("Batch is empty");
  return out;
}

/** The client side of the same layout. */
export function encodeBatch(entries: BatchEntry[]): Uint8Array {
  const parts = entries.map((e) => ({ e, props: e.properties }));
  const size = parts.reduce((n, { e, props }) => n + 22 + e.body.byteLength + props.byteLength, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const { e, props } of parts) {
    const total = 22 + e.body.byteLength + props.byteLength;
    dv.setInt32(p, total);
    dv.setInt32(p + 12, e.flag);
    dv.setInt32(p + 16, e.body.byteLength);
    out.set(e.body, p + 20);
    dv.setInt16(p + 20 + e.body.byteLength, props.byteLength);
    out.set(props, p + 22 + e.body.byteLength);
    p += total;
  }
  return out;
}
