import { MessageIllegalError } from "../common/errors.ts";
import { BLANK_MIN_BYTES, checkRecord, Offsets as RecordOffsets } from "../common/message_record.ts";
import { crc32Range } from "../platform/crc32.ts";
import { readInt64 } from "../util/bytes.ts";

/**
 * A slave's check of bytes copied from its master's CommitLog before it appends them at
 * `offset`: every record whole, with valid CRCs, and claiming the offset it lands at; a blank
 * marker only at the very end (the master sealed that segment). Garbled bytes are refused whole
 * (MessageIllegalError): nothing of them is written.
 */
export function checkReplicaChunk(bytes: Uint8Array, offset: number): { records: { at: number; size: number }[]; sealed: boolean } {
  const records: { at: number; size: number }[] = [];
  for (let p = 0; p < bytes.byteLength;) {
    const c = checkRecord(bytes, p, bytes.byteLength, crc32Range);
    if (c.kind === "blank" && p + BLANK_MIN_BYTES === bytes.byteLength) return { records, sealed: true };
    if (c.kind !== "record") throw new MessageIllegalError(`Replicated bytes at ${offset + p} are not a valid record: ${c.kind === "invalid" ? c.reason : "misplaced blank marker"}`);
    // A record carries its own CommitLog offset: bytes for another place are not these.
    const claimed = readInt64(new DataView(bytes.buffer, bytes.byteOffset + p, c.size), RecordOffsets.PHYSICAL_OFFSET);
    if (claimed !== offset + p) throw new MessageIllegalError(`Replicated record at ${offset + p} says it belongs at ${claimed}`);
    records.push({ at: p, size: c.size });
    p += c.size;
  }
  return { records, sealed: false };
}
