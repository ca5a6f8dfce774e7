import type { CommitLog } from "./commit_log.ts";
import type { StoreConfig } from "./store_config.ts";

/** Whether expired files are deleted now: at an hour of deleteWhen, or above diskMaxUsedSpaceRatio at any hour. */
export function retentionDue(config: StoreConfig, diskUsage: number, now: number): boolean {
  const hours = config.deleteWhen.split(";").map((h) => Number(h));
  return hours.includes(new Date(now).getHours()) || diskUsage > config.diskMaxUsedSpaceRatio;
}

/** Deletes CommitLog segments older than fileReservedTime, at most deleteFileBatchMax at once; returns how many. */
export function deleteExpiredSegments(commitLog: CommitLog, config: StoreConfig, now: number): number {
  const before = now - config.fileReservedTimeHours * 3600_000;
  let deleted = 0;
  for (const start of commitLog.expiredSegments(before, config.deleteFileBatchMax)) {
    commitLog.deleteSegment(start);
    deleted++;
  }
  return deleted;
}
