import { defineHeader, field, optional } from "./header_schema.ts";

export const CreateTopicRequestHeader = defineHeader("CreateTopicRequestHeader", {
  topic: field.string(),
  defaultTopic: optional(field.string()),
  readQueueNums: optional(field.int()),
  writeQueueNums: optional(field.int()),
  perm: optional(field.int()),
  topicFilterType: optional(field.string()),
  topicSysFlag: optional(field.int()),
  order: optional(field.bool()),
});

export const DeleteTopicRequestHeader = defineHeader("DeleteTopicRequestHeader", { topic: field.string() });

export const GetTopicStatsInfoRequestHeader = defineHeader("GetTopicStatsInfoRequestHeader", { topic: field.string() });

/** GET_CONSUME_STATS: a group's progress, on one topic or on all it consumes. */
export const GetConsumeStatsRequestHeader = defineHeader("GetConsumeStatsRequestHeader", {
  consumerGroup: field.string(),
  topic: optional(field.string()),
});

export const GetRouteInfoRequestHeader = defineHeader("GetRouteInfoRequestHeader", { topic: field.string() });

export const DeleteTopicFromNamesrvRequestHeader = defineHeader("DeleteTopicFromNamesrvRequestHeader", {
  topic: field.string(),
  clusterName: optional(field.string()),
});
