import { Limits, MiB } from "../common/limits.ts";
import { type FileSystem, nodeFileSystem } from "../platform/file_system.ts";

export type FlushDiskType = "ASYNC_FLUSH" | "SYNC_FLUSH";

/** Store settings, with RocketMQ's names and defaults (reference §2). Timings are configurable so tests run in milliseconds. */
export interface StoreConfig {
  /** Root directory: commitlog/, consumequeue/, index/, checkpoint, abort, lock. */
  storePathRootDir: string;
  flushDiskType: FlushDiskType;
  /** CommitLog segment size (RocketMQ mappedFileSizeCommitLog, 1 GiB). */
  commitLogSegmentBytes: number;
  /** Units per ConsumeQueue file (RocketMQ 300,000 × 20 B). */
  consumeQueueUnitsPerFile: number;
  maxMessageSize: number;
  flushIntervalCommitLogMs: number;
  /** ASYNC_FLUSH flushes early once this many 4 KiB pages are dirty. */
  flushCommitLogLeastPages: number;
  flushCommitLogThoroughIntervalMs: number;
  syncFlushTimeoutMs: number;
  flushConsumeQueueIntervalMs: number;
  fileReservedTimeHours: number;
  /** Hours of the day (local time) at which expired files are deleted: "04" or "03;04". */
  deleteWhen: string;
  /** Above this disk usage, expired files are deleted at any hour. */
  diskMaxUsedSpaceRatio: number;
  /** Above this disk usage, appends are refused (SERVICE_NOT_AVAILABLE) until space returns. */
  diskFullRatio: number;
  cleanResourceIntervalMs: number;
  deleteFileBatchMax: number;
  messageIndexEnable: boolean;
  indexHashSlots: number;
  indexMaxEntries: number;
  /** Written into each record's store host field. */
  storeHost: string;
  fs: FileSystem;
  /** Disk usage ratio of the store's disk; tests replace it to simulate a full disk. */
  diskUsage?: () => number;
  maxPendingAppends: number;
}

export function storeConfig(partial: Partial<StoreConfig> & { storePathRootDir: string }): StoreConfig {
  const c: StoreConfig = {
    flushDiskType: "ASYNC_FLUSH",
    commitLogSegmentBytes: 1024 * MiB,
    consumeQueueUnitsPerFile: 300_000,
    maxMessageSize: Limits.maxMessageSize,
    flushIntervalCommitLogMs: 500,
    flushCommitLogLeastPages: 4,
    flushCommitLogThoroughIntervalMs: 10_000,
    syncFlushTimeoutMs: 5_000,
    flushConsumeQueueIntervalMs: 1_000,
    fileReservedTimeHours: 72,
    deleteWhen: "04",
    diskMaxUsedSpaceRatio: 0.75,
    diskFullRatio: 0.9,
    cleanResourceIntervalMs: 10_000,
    deleteFileBatchMax: 10,
    messageIndexEnable: true,
    indexHashSlots: Limits.indexHashSlots,
    indexMaxEntries: Limits.indexMaxEntries,
    storeHost: "127.0.0.1:10911",
    fs: nodeFileSystem,
    maxPendingAppends: Limits.maxPendingAppends,
    ...partial,
  };
  const bad = (why: string) => {
    throw new RangeError(`Store configuration: ${why}`);
  };
  // The largest record: body, longest topic, fullest properties, fixed fields, and the end marker.
  const largest = c.maxMessageSize + Limits.maxSystemTopicNameLength + 32_767 + 128;
  if (c.commitLogSegmentBytes < largest) {
    bad(`commitLogSegmentBytes ${c.commitLogSegmentBytes} cannot hold the largest record (${largest} bytes with a ${c.maxMessageSize}-byte body)`);
  }
  if (c.maxMessageSize > Limits.maxMessageSize) bad(`maxMessageSize above ${Limits.maxMessageSize}`);
  if (!(c.diskFullRatio > 0 && c.diskFullRatio <= 1 && c.diskMaxUsedSpaceRatio > 0 && c.diskMaxUsedSpaceRatio <= c.diskFullRatio)) {
    bad("disk ratios must satisfy 0 < diskMaxUsedSpaceRatio ≤ diskFullRatio ≤ 1");
  }
  if (c.consumeQueueUnitsPerFile < 1 || c.indexHashSlots < 1 || c.indexMaxEntries < 2) bad("file sizes must be positive");
  return c;
}
