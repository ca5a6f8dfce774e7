import { Limits } from "../../common/limits.ts";
import type { TopicConfig } from "../../common/route.ts";
import { check, defineBody } from "./body_schema.ts";

/** A topic's configuration as bodies and topics.json hold it. */
export const topicConfig = check.object({
  topicName: check.string(),
  readQueueNums: check.int(0, Limits.maxQueueNums),
  writeQueueNums: check.int(0, Limits.maxQueueNums),
  perm: check.int(0, 15),
  topicSysFlag: check.optional(check.int()),
  order: check.optional(check.bool()),
});

const dataVersion = check.object({ timestamp: check.int(), counter: check.int() });

/** GET_ALL_TOPIC_CONFIG's answer (RocketMQ's TopicConfigSerializeWrapper). */
export const TopicConfigTableBody = defineBody("TopicConfigSerializeWrapper", (v, p) => {
  const b = check.object({
    topicConfigTable: check.optional(check.record(topicConfig, Limits.maxTopics)),
    dataVersion: check.optional(dataVersion),
  })(v, p);
  return { topicConfigTable: (b.topicConfigTable ?? {}) as Record<string, TopicConfig>, dataVersion: b.dataVersion };
});

/** GET_ALL_CONSUMER_OFFSET's answer: "topic@group" → queue id → offset. */
export const ConsumerOffsetTableBody = defineBody("ConsumerOffsetSerializeWrapper", check.object({
  offsetTable: check.optional(check.record(check.record(check.int(), 65_536), Limits.maxOffsetTableEntries)),
}));

/** GET_ALL_DELAY_OFFSET's answer: delay level → offset in SCHEDULE_TOPIC. */
export const DelayOffsetTableBody = defineBody("DelayOffsetSerializeWrapper", check.object({
  offsetTable: check.optional(check.record(check.int(), 1_000)),
}));

/** GET_BROKER_RUNTIME_INFO's answer (RocketMQ's KVTable). */
export const KVTableBody = defineBody("KVTable", check.object({ table: check.record(check.string(), 10_000) }));

/**
 * A consumer group's settings on a broker (RocketMQ's SubscriptionGroupConfig): whether it may
 * consume (and broadcast), how many times a message is retried before the dead-letter queue,
 * and whether its members are told when the membership changes.
 */
export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
}

/**
 * RocketMQ's defaults for a group created by its first heartbeat; a broker passes its own
 * maxReconsumeTimes and whichBrokerWhenConsumeSlowly settings as the last two.
 */
export function defaultSubscriptionGroup(groupName: string, retryMaxTimes = 16, whichBrokerWhenConsumeSlowly = 1): SubscriptionGroupConfig {
  return {
    groupName, consumeEnable: true, consumeFromMinEnable: true, consumeBroadcastEnable: true, retryQueueNums: 1,
    retryMaxTimes, brokerId: 0, whichBrokerWhenConsumeSlowly, notifyConsumerIdsChangedEnable: true,
  };
}

/** A group's settings as sent: any field left out keeps its current value (or the default). */
export type SubscriptionGroupSettings = Partial<SubscriptionGroupConfig> & { groupName: string };

export const subscriptionGroupSettings = check.object({
  groupName: check.string(),
  consumeEnable: check.optional(check.bool()),
  consumeFromMinEnable: check.optional(check.bool()),
  consumeBroadcastEnable: check.optional(check.bool()),
  // RocketMQ silently drops the send-backs of a group with 0 retry queues: refused here instead.
  retryQueueNums: check.optional(check.int(1, 64)),
  retryMaxTimes: check.optional(check.int(0, 10_000)),
  brokerId: check.optional(check.int(0, 1_000)),
  whichBrokerWhenConsumeSlowly: check.optional(check.int(0, 1_000)),
  notifyConsumerIdsChangedEnable: check.optional(check.bool()),
});

/** `settings` over `base` (the group's current config, or the defaults of a new one). */
export function mergeSubscriptionGroup(base: SubscriptionGroupConfig, settings: SubscriptionGroupSettings): SubscriptionGroupConfig {
  const out = { ...base, groupName: settings.groupName };
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A stored group: any field left out takes RocketMQ's default. */
export const subscriptionGroupConfig = (v: unknown, p: string): SubscriptionGroupConfig => {
  const c = subscriptionGroupSettings(v, p);
  return mergeSubscriptionGroup(defaultSubscriptionGroup(c.groupName), c);
};

/** UPDATE_AND_CREATE_SUBSCRIPTIONGROUP's body (RocketMQ's SubscriptionGroupConfig; RocketMQ's tools send every field). */
export const SubscriptionGroupConfigBody = defineBody("SubscriptionGroupConfig", subscriptionGroupSettings);

/** GET_ALL_SUBSCRIPTIONGROUP_CONFIG's answer (RocketMQ's SubscriptionGroupWrapper), and subscriptionGroup.json. */
export const subscriptionGroupWrapper = (v: unknown, p: string) => {
  const b = check.object({
    subscriptionGroupTable: check.optional(check.record(subscriptionGroupConfig, Limits.maxSubscriptionGroups)),
    dataVersion: check.optional(dataVersion),
  })(v, p);
  return { subscriptionGroupTable: b.subscriptionGroupTable ?? {}, dataVersion: b.dataVersion };
};
export const SubscriptionGroupTableBody = defineBody("SubscriptionGroupWrapper", subscriptionGroupWrapper);
