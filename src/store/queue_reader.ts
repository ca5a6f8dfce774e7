import { MAGIC_V1, MAGIC_V2, Offsets as RecordOffsets } from "../common/message_record.ts";
import { invariant } from "../util/assert.ts";
import type { CommitLog } from "./commit_log.ts";
import { type ConsumeQueue, CQ_UNIT_BYTES, decodeUnit } from "./consume_queue.ts";
import type { GetResult, GetStatus } from "./message_store.ts";

/**
 * A pull's read (RocketMQ's getMessage): up to `maxMsgs` records of queue `q` from logical
 * `offset`, at most `maxBytes` (but always one), skipping units whose records retention deleted.
 */
export function readQueue(
  q: ConsumeQueue | undefined,
  log: CommitLog,
  topic: string,
  queueId: number,
  offset: number,
  maxMsgs: number,
  maxBytes: number,
): GetResult {
  const minOffset = q?.minOffset ?? 0;
  const maxOffset = q?.maxOffset ?? 0;
  const result = (status: GetStatus, nextBeginOffset: number): GetResult =>
    ({ status, messages: [], units: [], nextBeginOffset, minOffset, maxOffset });
  if (!q || maxOffset === 0) return result("NO_MESSAGE_IN_QUEUE", 0);
  if (offset < minOffset) return result("OFFSET_TOO_SMALL", minOffset);
  if (offset === maxOffset) return result("OFFSET_OVERFLOW_ONE", offset);
  if (offset > maxOffset) return result("OFFSET_OVERFLOW_BADLY", maxOffset);
  const out = result("FOUND", offset);
  const logMin = log.minOffset;
  let next = offset;
  let bytes = 0;
  while (out.units.length < maxMsgs && next < maxOffset) {
    const unitsBuf = q.read(next, Math.min(maxMsgs - out.units.length, 1024));
    if (unitsBuf.byteLength === 0) break;
    let stop = false;
    for (let i = 0; i < unitsBuf.byteLength; i += CQ_UNIT_BYTES) {
      const u = decodeUnit(unitsBuf, i);
      if (u.physicalOffset < logMin) {
        next++; // its record was deleted by retention
        continue;
      }
      if (out.units.length > 0 && bytes + u.size > maxBytes) {
        stop = true;
        break;
      }
      out.units.push(u);
      bytes += u.size;
      next++;
    }
    if (stop) break;
  }
  // The records land side by side in one buffer: a pull answer whose filter keeps them all
  // sends it as its body, with no per-record buffers and no concatenation.
  const body = new Uint8Array(bytes);
  const view = new DataView(body.buffer);
  let at = 0;
  for (let i = 0; i < out.units.length; i++) {
    const u = out.units[i];
    out.messages.push(log.read(u.physicalOffset, u.size, body.subarray(at, at + u.size)));
    // Read back: the record a ConsumeQueue unit points at is that unit's own, whole. (The
    // message is built only on failure: this runs for every message pulled.)
    const magic = view.getInt32(at + RecordOffsets.MAGIC);
    if (view.getInt32(at + RecordOffsets.TOTAL_SIZE) !== u.size || (magic !== MAGIC_V1 && magic !== MAGIC_V2)) {
      invariant(false, `ConsumeQueue ${topic}:${queueId} points at ${u.physicalOffset}, where no ${u.size}-byte record starts`);
    }
    at += u.size;
  }
  out.body = body;
  out.nextBeginOffset = next;
  if (out.messages.length === 0) out.status = "OFFSET_FOUND_NULL";
  return out;
}
