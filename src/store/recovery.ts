import { Limits } from "../common/limits.ts";
import type { Logger } from "../common/log.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { CommitLog } from "./commit_log.ts";
import type { ConsumeQueue } from "./consume_queue.ts";
import type { IndexService } from "./index_service.ts";

/** What recovery needs of the store being opened. */
export interface RecoveryParts {
  readonly commitLog: CommitLog;
  readonly index: IndexService | undefined;
  readonly checkpoint: Checkpoint;
  queues(): Iterable<ConsumeQueue>;
  /** Puts a record found in the log into its ConsumeQueue (and the index, when `index`). */
  redispatch(buf: Uint8Array, at: number, offset: number, size: number, index: boolean): void;
}

/**
 * Brings the ConsumeQueues and the index back in line with the CommitLog at open (RocketMQ's
 * recoverNormally / recoverAbnormally). After a clean stop everything up to the flushed end is
 * consistent; after a crash (the abort marker was found) the log is rescanned from the last
 * point every derived structure had made durable, records are dispatched again past it, and
 * the log ends after its last whole record. Returns that end and how far the queues are durable.
 */
export function recoverLog(parts: RecoveryParts, crashed: boolean, log: Logger): { end: number; consumeQueueFlushed: number } {
  const started = Date.now();
  const { commitLog, index } = parts;
  const cp = parts.checkpoint.data;
  // Without index files, every record re-dispatched is indexed again.
  const indexDurable = index ? (index.load(crashed) ?? -1) : Infinity;
  let from = crashed ? Math.min(cp.consumeQueueFlushed, cp.commitLogFlushed, Math.max(0, indexDurable)) : cp.commitLogFlushed;
  from = Math.max(from, commitLog.minOffset);
  let records = 0;
  const end = commitLog.scan(from, (buf, at, offset, size) => {
    records++;
    parts.redispatch(buf, at, offset, size, offset >= indexDurable);
  }, Limits.recoveryChunkBytes);
  commitLog.setEnd(end);
  for (const q of parts.queues()) q.truncateAfter(end);
  index?.markDispatched(end);
  if (crashed) log.warn(`recovered after a crash: scanned ${records} records from offset ${from}, log ends at ${end} (${Date.now() - started} ms)`);
  return { end, consumeQueueFlushed: Math.min(cp.consumeQueueFlushed, end) };
}
