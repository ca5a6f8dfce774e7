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
