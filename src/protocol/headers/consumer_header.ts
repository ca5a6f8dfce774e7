import { defineHeader, field, optional } from "./header_schema.ts";
import { MAX_QUEUE_ID } from "./send_message_header.ts";

const queue = { topic: field.string(), queueId: field.int({ min: 0, max: MAX_QUEUE_ID }) };

export const QueryConsumerOffsetRequestHeader = defineHeader("QueryConsumerOffsetRequestHeader", {
  consumerGroup: field.string(),
  ...queue,
  setZeroIfNotFound: optional(field.bool()),
});

export const UpdateConsumerOffsetRequestHeader = defineHeader("UpdateConsumerOffsetRequestHeader", {
  consumerGroup: field.string(),
  ...queue,
  commitOffset: field.int(),
});

/** GET_MAX_OFFSET, GET_MIN_OFFSET and GET_EARLIEST_MSG_STORETIME: one queue. */
export const QueueRequestHeader = defineHeader("GetMaxOffsetRequestHeader", queue);

export const SearchOffsetRequestHeader = defineHeader("SearchOffsetRequestHeader", { ...queue, timestamp: field.int() });

/** The answer of QUERY_CONSUMER_OFFSET, GET_MAX_OFFSET, GET_MIN_OFFSET and SEARCH_OFFSET_BY_TIMESTAMP. */
export const OffsetResponseHeader = defineHeader("QueryConsumerOffsetResponseHeader", { offset: field.int() });

export const EarliestMsgStoretimeResponseHeader = defineHeader("GetEarliestMsgStoretimeResponseHeader", { timestamp: field.int() });

export const UnregisterClientRequestHeader = defineHeader("UnregisterClientRequestHeader", {
  clientID: field.string(),
  producerGroup: optional(field.string()),
  consumerGroup: optional(field.string()),
});

/** GET_CONSUMER_LIST_BY_GROUP, GET_CONSUMER_CONNECTION_LIST and NOTIFY_CONSUMER_IDS_CHANGED: one group. */
export const ConsumerGroupRequestHeader = defineHeader("GetConsumerListByGroupRequestHeader", { consumerGroup: field.string() });

/** GET_PRODUCER_CONNECTION_LIST: one producer group. */
export const ProducerGroupRequestHeader = defineHeader("GetProducerConnectionListRequestHeader", { producerGroup: field.string() });

/** DELETE_SUBSCRIPTIONGROUP: a group's settings, and with cleanOffset its committed offsets too. */
export const DeleteSubscriptionGroupRequestHeader = defineHeader("DeleteSubscriptionGroupRequestHeader", {
  groupName: field.string(),
  cleanOffset: optional(field.bool()),
});

/** GET_CONSUMER_RUNNING_INFO: from an admin to the broker, and from the broker to the member. */
export const GetConsumerRunningInfoRequestHeader = defineHeader("GetConsumerRunningInfoRequestHeader", {
  consumerGroup: field.string(),
  clientId: field.string(),
  jstackEnable: optional(field.bool()),
});

/**
 * INVOKE_BROKER_TO_RESET_OFFSET (admin → broker) and RESET_CONSUMER_CLIENT_OFFSET (broker →
 * member). timestamp −1 is the queue's end, 0 its start, otherwise the first message stored at
 * or after it; without isForce an offset only moves back. RocketMQ 5's queueId and offset set
 * one queue to an exact offset instead.
 */
export const ResetOffsetRequestHeader = defineHeader("ResetOffsetRequestHeader", {
  topic: field.string(),
  group: field.string(),
  timestamp: field.int({ min: -1 }),
  isForce: field.bool(),
  queueId: optional(field.int({ min: -1, max: MAX_QUEUE_ID })),
  offset: optional(field.int({ min: -1 })),
});

/**
 * CONSUME_MESSAGE_DIRECTLY: from an admin to the broker (which reads the message by its offset
 * msgId), and from the broker to the member (the record as the body).
 */
export const ConsumeMessageDirectlyResultRequestHeader = defineHeader("ConsumeMessageDirectlyResultRequestHeader", {
  consumerGroup: field.string(),
  clientId: field.string(),
  msgId: field.string(),
  brokerName: optional(field.string()),
  topic: optional(field.string()),
  unitMode: optional(field.bool()),
});

export const ConsumerSendMsgBackRequestHeader = defineHeader("ConsumerSendMsgBackRequestHeader", {
  offset: field.int({ min: 0 }),
  group: field.string(),
  /** 0: the broker picks (3 + reconsumeTimes); negative: straight to the dead-letter queue. */
  delayLevel: optional(field.int()),
  originMsgId: optional(field.string()),
  originTopic: optional(field.string()),
  unitMode: optional(field.bool()),
  maxReconsumeTimes: optional(field.int()),
});
