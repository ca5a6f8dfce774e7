import { Limits } from "../common/limits.ts";
import { MessageProperty, type Properties } from "../common/message.ts";
import type { StoredMessage } from "../common/message_record.ts";
import { BoundedCache } from "../util/bounded_cache.ts";
import { javaStringHash } from "../util/java_hash.ts";
import type { CqUnit } from "./consume_queue.ts";

export interface PutMessageRequest {
  topic: string;
  queueId: number;
  body: Uint8Array;
  /** A map, or encoded (see encodeProperties) as a string or UTF-8 bytes, as a send request carries them. */
  properties?: Properties | string | Uint8Array;
  flag?: number;
  sysFlag?: number;
  bornTimestamp?: number;
  bornHost?: string;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
}

export type PutStatus = "PUT_OK" | "FLUSH_DISK_TIMEOUT";

export interface PutResult {
  status: PutStatus;
  physicalOffset: number;
  size: number;
  queueOffset: number;
  storeTimestamp: number;
}

export type GetStatus =
  | "FOUND"
  | "NO_MESSAGE_IN_QUEUE"
  | "OFFSET_TOO_SMALL"
  | "OFFSET_OVERFLOW_ONE"
  | "OFFSET_OVERFLOW_BADLY"
  | "OFFSET_FOUND_NULL";

export interface GetResult {
  status: GetStatus;
  /** Raw records, as stored: views into `body`. */
  messages: Uint8Array[];
  /** The records concatenated (a pull answer's body when every one is kept). */
  body?: Uint8Array;
  units: CqUnit[];
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
}

export type ArrivalListener = (topic: string, queueId: number, maxOffset: number) => void;

/**
 * What the broker and its services need of a message store. `DefaultMessageStore` keeps it on
 * disk (CommitLog, ConsumeQueues, IndexFile); `MemoryMessageStore` keeps it in memory, for tests
 * of the services above it. Both hold RocketMQ's record layout, so a pull answer's body is the
 * same bytes either way, and both pass one test suite (test/unit/store/message_store_contract.ts).
 */
export interface MessageStore {
  /** Appends one message; resolves once it is written (ASYNC_FLUSH) or durable (SYNC_FLUSH). */
  putMessage(req: PutMessageRequest): Promise<PutResult>;
  /** Appends several messages together; each gets its own result, in order. */
  putMessages(reqs: PutMessageRequest[]): Promise<PutResult[]>;
  /** Up to `maxMsgs` raw records of a queue from logical `offset` (and at most `maxBytes`). */
  getMessage(topic: string, queueId: number, offset: number, maxMsgs: number, maxBytes?: number): GetResult;
  /** The raw record at a physical offset, or undefined if no whole, valid record starts there. */
  readRecord(physicalOffset: number): Uint8Array | undefined;
  lookMessageByOffset(physicalOffset: number): StoredMessage | undefined;
  maxOffset(topic: string, queueId: number): number;
  minOffset(topic: string, queueId: number): number;
  /** The first logical offset whose store time is ≥ `timestamp` (maxOffset if none). */
  offsetForTimestamp(topic: string, queueId: number, timestamp: number): number;
  earliestMessageTime(topic: string, queueId: number): number | undefined;
  /** Messages of `topic` whose KEYS or unique id is `key`, newest first, at most `maxNum`. */
  queryMessage(topic: string, key: string, maxNum: number, begin?: number, end?: number): StoredMessage[];
  /** Called with the queue and its new max offset once appended messages are readable. */
  onMessageArrived(listener: ArrivalListener): void;
  /** Called with the log's new written end after every batch of appends (replication waits on it). */
  onCommitLogAdvanced(listener: (end: number) => void): void;
  /** Master side of replication: whole records from log offset `from`. */
  readReplica(from: number, maxBytes: number): { bytes: Uint8Array; next: number } | undefined;
  /** Slave side: appends a master's records at `offset` (this log's end) after checking them; resolves with the new end. */
  appendReplicated(offset: number, bytes: Uint8Array): Promise<number>;
  /** Drops every record at or past `offset`, a record boundary. */
  truncateTo(offset: number): Promise<void>;
  /** Retention settings changed at run time; the next retention round uses them. */
  setRetention(r: { fileReservedTimeHours: number; deleteWhen: string; diskMaxUsedSpaceRatio: number }): void;
  /** Drops a topic's queues; its CommitLog bytes wait for retention, unreachable. Returns the queues dropped. */
  deleteTopic(topic: string): number;
  /** Re-reads disk usage; refuses appends above diskFullRatio. */
  checkDisk(): number;
  /** Deletes records past their retention; returns how many segments (or records) went. */
  cleanExpiredFiles(now?: number, force?: boolean): number;
  /** The address written into each record's store host field. */
  setStoreHost(addr: string): void;
  readonly commitLogMinOffset: number;
  readonly commitLogMaxOffset: number;
  readonly commitLogFlushedOffset: number;
  readonly dispatchedOffset: number;
  readonly isDiskFull: boolean;
  topicQueues(): { topic: string; queueId: number; minOffset: number; maxOffset: number }[];
  /** Flushes everything now. */
  flush(): Promise<void>;
  /** Stops taking appends, waits for those in progress, and makes everything durable. */
  close(): Promise<void>;
  /** For tests: stop as a killed process would. */
  kill(): void;
}

const tagHashes = new BoundedCache<string, number>(Limits.tagCacheEntries);

/** ConsumeQueue tag code: Java String.hashCode of the tag, 0 without one (tags repeat: cached, bounded). */
export function tagsCode(tags: string | undefined): number {
  if (!tags) return 0;
  return tagHashes.getOrCompute(tags, javaStringHash);
}


/** Index keys of a message: each space-separated KEYS value, and the unique id. */
export function indexKeys(props: Properties): string[] {
  const keys: string[] = [];
  const k = props[MessageProperty.KEYS];
  if (k) for (const part of k.split(" ")) if (part) keys.push(part);
  const u = props[MessageProperty.UNIQ_KEY];
  if (u) keys.push(u);
  return keys;
}
