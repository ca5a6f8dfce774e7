import { VERSION } from "../common/version.ts";
import { subscriptionDataOf, type SubscriptionData } from "../protocol/bodies/client_bodies.ts";
import type { ConsumerRunningInfo } from "../protocol/bodies/stats_bodies.ts";
import type { ConsumeStatusRecorder } from "./consume_status.ts";
import type { MessageQueue } from "./message.ts";
import type { ProcessQueue } from "./process_queue.ts";

/** What a push consumer shows of itself. */
export interface RunningState {
  /** Its settings (scalars are reported), with when it started and whether it consumes orderly. */
  options: object & { startedAt: number; orderly: boolean; consumeType: string };
  subscriptions: SubscriptionData[];
  queues: ProcessQueue[];
  /** The offset it would commit for a queue. */
  committed(mq: MessageQueue): number | undefined;
  status: ConsumeStatusRecorder;
}

/**
 * GET_CONSUMER_RUNNING_INFO's answer from a push consumer, in RocketMQ's ConsumerRunningInfo
 * shape: its settings as properties (RocketMQ's PROP_* names for the ones its tools read), its
 * subscriptions, each queue it holds (RocketMQ's ProcessQueueInfo) and each topic's rates.
 */
export function runningInfoOf(s: RunningState): ConsumerRunningInfo {
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.options)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") properties[k] = String(v);
  }
  properties.PROP_CONSUMEORDERLY = String(s.options.orderly);
  properties.PROP_CONSUME_TYPE = s.options.consumeType;
  properties.PROP_CLIENT_VERSION = `bolide ${VERSION}`;
  properties.PROP_CONSUMER_START_TIMESTAMP = String(s.options.startedAt);
  const mqTable = s.queues.map((pq) => {
    const [min, max] = pq.cachedRange;
    return {
      mq: { topic: pq.mq.topic, brokerName: pq.mq.brokerName, queueId: pq.mq.queueId },
      info: {
        commitOffset: s.committed(pq.mq) ?? -1,
        cachedMsgMinOffset: min,
        cachedMsgMaxOffset: max,
        cachedMsgCount: pq.count,
        cachedMsgSizeInMiB: Math.round(pq.bytes / 1024 / 1024 * 1000) / 1000,
        locked: pq.locked,
        lastLockTimestamp: pq.lastLockAt,
        droped: pq.dropped,
        lastPullTimestamp: pq.lastPullAt,
        lastConsumeTimestamp: pq.lastConsumeAt,
      },
    };
  });
  const statusTable: ConsumerRunningInfo["statusTable"] = {};
  for (const sub of s.subscriptions) statusTable[sub.topic] = s.status.status(sub.topic);
  return { properties, subscriptionSet: s.subscriptions.map(subscriptionDataOf), mqTable, statusTable };
}
