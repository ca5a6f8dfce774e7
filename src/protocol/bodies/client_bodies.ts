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

/** GET_CONSUMER_CONNECTION_LIST's answer: a group's members and whether they subscribe alike. */
export const ConsumerConnectionBody = defineBody("ConsumerConnection", check.object({
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
