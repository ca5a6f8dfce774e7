import type { Logger } from "../common/log.ts";
import type { AllocateStrategy } from "./allocate_message_queue.ts";
import type { MessageExt, MessageQueue } from "./message.ts";

export type ConsumeConcurrentlyStatus = "CONSUME_SUCCESS" | "RECONSUME_LATER";

/** Internal: a listener call whose messages were neither consumed nor failed (left unacknowledged). */
export const ABANDONED = Symbol("abandoned");
export type ConsumeOrderlyStatus = "SUCCESS" | "SUSPEND_CURRENT_QUEUE_A_MOMENT";

export interface ConsumeContext {
  /** The queue the messages came from (for retried messages, the group's retry queue). */
  mq: MessageQueue;
}

/** Returns CONSUME_SUCCESS (or nothing) when done; RECONSUME_LATER, or a throw, retries later. */
export type MessageListenerConcurrently = (
  msgs: MessageExt[],
  ctx: ConsumeContext,
) => ConsumeConcurrentlyStatus | void | Promise<ConsumeConcurrentlyStatus | void>;

/** Returns SUCCESS (or nothing) when done; SUSPEND_CURRENT_QUEUE_A_MOMENT, or a throw, retries the same messages after a pause. */
export type MessageListenerOrderly = (
  msgs: MessageExt[],
  ctx: ConsumeContext,
) => ConsumeOrderlyStatus | void | Promise<ConsumeOrderlyStatus | void>;

export interface PushConsumerOptions {
  namesrvAddr: string | string[];
  group: string;
  /** CLUSTERING: each message to one member of the group. BROADCASTING: to every member. */
  messageModel?: "CLUSTERING" | "BROADCASTING";
  /** Where a queue with no stored offset for this group starts. */
  consumeFromWhere?: "first" | "last" | "timestamp";
  /** For consumeFromWhere "timestamp" (ms since the epoch); default 30 minutes ago. */
  consumeTimestamp?: number;
  allocateStrategy?: AllocateStrategy;
  pullBatchSize?: number;
  /** Messages per listener call. */
  consumeMessageBatchMaxSize?: number;
  /** Listener calls in progress at once (RocketMQ's consume thread pool). */
  consumeConcurrency?: number;
  /** Pulling a queue pauses while it holds more than this many messages … */
  pullThresholdForQueue?: number;
  /** … or more than this many MiB of bodies … */
  pullThresholdSizeForQueueMiB?: number;
  /** … or (concurrent mode) an offset span wider than this. */
  consumeConcurrentlyMaxSpan?: number;
  /**
   * Retries before a message goes to %DLQ%<group>. Unset: the group's retryMaxTimes on the
   * broker (16 unless an operator changed it) for concurrent listeners, unlimited for orderly ones.
   */
  maxReconsumeTimes?: number;
  suspendCurrentQueueTimeMillis?: number;
  persistConsumerOffsetIntervalMs?: number;
  heartbeatBrokerIntervalMs?: number;
  rebalanceIntervalMs?: number;
  /** Orderly mode: how often held queue locks are renewed, and when an unrenewed one counts as lost. */
  lockIntervalMs?: number;
  lockMaxLiveTimeMs?: number;
  brokerSuspendMaxTimeMs?: number;
  pullDelayWhenFlowControlMs?: number;
  pullDelayWhenExceptionMs?: number;
  /** When a send-back fails, the message is consumed again locally after this long. */
  sendBackRetryDelayMs?: number;
  /** How long shutdown waits for listener calls in progress before it stores offsets. */
  shutdownGraceMs?: number;
  timeoutMs?: number;
  /** Broadcasting mode keeps offsets in `<offsetStoreDir>/<group>/<instanceName>.offsets.json`. */
  offsetStoreDir?: string;
  instanceName?: string;
  log?: Logger;
}

export type Options = Required<Omit<PushConsumerOptions, "namesrvAddr" | "group" | "log" | "maxReconsumeTimes" | "consumeTimestamp">> & {
  maxReconsumeTimes: number | undefined;
  consumeTimestamp: number | undefined;
};

export interface Subscription {
  topic: string;
  expression: string;
  type: "TAG" | "SQL92";
  /** Tag strings a TAG subscription accepts (undefined = all), re-checked here because the broker filters by hash. */
  tags: Set<string> | undefined;
}

export type Listener =
  | { orderly: false; fn: MessageListenerConcurrently }
  | { orderly: true; fn: MessageListenerOrderly };

export interface PushConsumerStats {
  clientId: string;
  queues: { mq: MessageQueue; cachedMessages: number; cachedBytes: number; span: number; nextOffset: number; locked: boolean }[];
  cachedMessages: number;
  cachedBytes: number;
  pulls: number;
  flowControlPauses: number;
  consumed: number;
  failed: number;
  sentBack: number;
  rebalances: number;
}

