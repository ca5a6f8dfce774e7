import { defineHeader, field, optional } from "./header_schema.ts";
import { MAX_QUEUE_ID } from "./send_message_header.ts";

/** PULL_MESSAGE's sysFlag bits (RocketMQ's PullSysFlag). */
export const PullSysFlag = {
  /** The request carries the consumer's committed offset (commitOffset). */
  COMMIT_OFFSET: 1,
  /** The broker may hold the pull until a message arrives (suspendTimeoutMillis). */
  SUSPEND: 2,
  /** The request carries its subscription expression. */
  SUBSCRIPTION: 4,
  CLASS_FILTER: 8,
} as const;

export const PullMessageRequestHeader = defineHeader("PullMessageRequestHeader", {
  consumerGroup: field.string(),
  topic: field.string(),
  queueId: field.int({ min: 0, max: MAX_QUEUE_ID }),
  queueOffset: field.int(),
  maxMsgNums: optional(field.int()),
  sysFlag: optional(field.int()),
  commitOffset: optional(field.int()),
  suspendTimeoutMillis: optional(field.int()),
  subscription: optional(field.string()),
  subVersion: optional(field.int()),
  expressionType: optional(field.string()),
  /** Bolide's: at most this many bytes of messages in the answer. */
  maxMsgBytes: optional(field.int()),
});
export type PullMessageRequest = ReturnType<typeof PullMessageRequestHeader.decode>;

export const PullMessageResponseHeader = defineHeader("PullMessageResponseHeader", {
  nextBeginOffset: field.int(),
  minOffset: field.int(),
  maxOffset: field.int(),
  suggestWhichBrokerId: optional(field.int({ min: 0 })),
});
