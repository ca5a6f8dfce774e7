import { Limits } from "../../common/limits.ts";
import { check, defineBody } from "./body_schema.ts";
import { MAX_QUEUE_ID } from "../headers/send_message_header.ts";

/** One subscription of a consumer, as its heartbeat states it. */
export interface SubscriptionData {
  topic: string;
  subString: string;
  expressionType: "TAG" | "SQL92";
}

/** What a consumer says about its membership of one group. */
export interface ConsumerData {
  groupName: string;
  messageModel: "CLUSTERING" | "BROADCASTING";
  consumeType: string;
  consumeFromWhere: string;
  subscriptionDataSet: SubscriptionData[];
}

/** A queue as bodies name it (RocketMQ's MessageQueue). */
export interface MessageQueueData {
  topic: string;
  brokerName: string;
  queueId: number;
}

const subscription = check.object({
  topic: check.string(),
  subString: check.optional(check.string()),
  expressionType: check.optional(check.string()),
});

const consumerData = check.object({
  groupName: check.string(),
  messageModel: check.optional(check.string()),
  consumeType: check.optional(check.string()),
  consumeFromWhere: check.optional(check.string()),
  subscriptionDataSet: check.optional(check.array(subscription, Limits.maxSubscriptionsPerConsumer)),
});

const heartbeat = check.object({
  clientID: check.string(),
  producerDataSet: check.optional(check.array(check.object({ groupName: check.string() }), Limits.maxGroupsPerHeartbeat)),
  consumerDataSet: check.optional(check.array(consumerData, Limits.maxGroupsPerHeartbeat)),
});

/** HEART_BEAT's body (RocketMQ's HeartbeatData), with each consumer's data in its full form. */
export const HeartbeatBody = defineBody("HeartbeatData", (v, p) => {
  const h = heartbeat(v, p);
  return {
    clientID: h.clientID,
    producerDataSet: (h.producerDataSet ?? []).map((x) => ({ groupName: x.groupName })),
    consumerDataSet: (h.consumerDataSet ?? []).map((d): ConsumerData => ({
      groupName: d.groupName,
      messageModel: d.messageModel === "BROADCASTING" ? "BROADCASTING" : "CLUSTERING",
      consumeType: d.consumeType ?? "CONSUME_PASSIVELY",
      consumeFromWhere: d.consumeFromWhere ?? "",
      subscriptionDataSet: (d.subscriptionDataSet ?? []).map((s) => ({
        topic: s.topic,
        subString: s.subString ?? "*",
        expressionType: s.expressionType === "SQL92" ? "SQL92" : "TAG",
      })),
    })),
  };
});
export type HeartbeatData = ReturnType<typeof HeartbeatBody.decode>;

const messageQueue = check.object({ topic: check.string(), brokerName: check.string(), queueId: check.int(0, MAX_QUEUE_ID) });

/** LOCK_BATCH_MQ's and UNLOCK_BATCH_MQ's body. */
export const LockBatchBody = defineBody("LockBatchRequestBody", check.object({
  consumerGroup: check.string(),
  clientId: check.string(),
  mqSet: check.array(messageQueue, Limits.maxLockQueuesPerRequest),
}));

/** LOCK_BATCH_MQ's answer: the queues now held. */
export const LockBatchResultBody = defineBody("LockBatchResponseBody", check.object({
  lockOKMQSet: check.optional(check.array(messageQueue, Limits.maxLockQueuesPerRequest)),
}));

/** GET_CONSUMER_LIST_BY_GROUP's answer. */
export const ConsumerListBody = defineBody("GetConsumerListByGroupResponseBody", check.object({
  consumerIdList: check.optional(check.array(check.string(), Limits.maxBrokerClients)),
}));

const subscriptionTableEntry = check.object({
  topic: check.string(),
  subString: check.string(),
  tagsSet: check.array(check.string(), Limits.maxSubscriptionsPerConsumer * 64),
  codeSet: check.array(check.int(-(2 ** 31), 2 ** 31 - 1), Limits.maxSubscriptionsPerConsumer * 64),
  subVersion: check.int(),
  expressionType: check.string(),
  classFilterMode: check.bool(),
});

/**
 * GET_CONSUMER_CONNECTION_LIST's answer. RocketMQ's ConsumerConnection (connectionSet,
 * subscriptionTable keyed by topic, consumeType, messageModel, consumeFromWhere: what
 * `mqadmin consumerConnection` reads), plus Bolide's view: every member with its own
 * subscriptions, and whether they agree (RocketMQ's table keeps one member's).
 */
/** GET_PRODUCER_CONNECTION_LIST's answer (RocketMQ's ProducerConnection): the group's live producers on this broker. */
export const ProducerConnectionBody = defineBody("ProducerConnection", check.object({
  connectionSet: check.array(check.object({ clientId: check.string(), clientAddr: check.string(), language: check.string(), version: check.int() }), Limits.maxBrokerClients),
}));

export const ConsumerConnectionBody = defineBody("ConsumerConnection", check.object({
  connectionSet: check.array(check.object({
    clientId: check.string(),
    clientAddr: check.string(),
    language: check.string(),
    version: check.int(),
  }), Limits.maxBrokerClients),
  subscriptionTable: check.record(subscriptionTableEntry, Limits.maxSubscriptionsPerConsumer),
  consumeType: check.string(),
  messageModel: check.string(),
  consumeFromWhere: check.string(),
  group: check.string(),
  members: check.array(check.object({
    clientId: check.string(),
    clientAddr: check.string(),
    messageModel: check.string(),
    consumeFromWhere: check.string(),
    subscriptions: check.array(check.object({ topic: check.string(), subString: check.string(), expressionType: check.string() }), Limits.maxSubscriptionsPerConsumer),
  }), Limits.maxBrokerClients),
  subscriptionsConsistent: check.bool(),
}));

/** Java's String.hashCode, which RocketMQ keeps per tag in SubscriptionData.codeSet. */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** A subscription as RocketMQ's SubscriptionData serializes it (tags split, with their hash codes). */
export function subscriptionDataOf(s: SubscriptionData): ReturnType<typeof subscriptionTableEntry> {
  const tags = s.expressionType === "TAG" && s.subString.trim() !== "*" && s.subString.trim() !== ""
    ? s.subString.split("||").map((t) => t.trim()).filter((t) => t !== "")
    : [];
  return {
    topic: s.topic, subString: s.subString, tagsSet: tags, codeSet: tags.map(javaHashCode),
    subVersion: 0, expressionType: s.expressionType, classFilterMode: false,
  };
}
