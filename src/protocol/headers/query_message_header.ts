import { defineHeader, field, optional } from "./header_schema.ts";

export const QueryMessageRequestHeader = defineHeader("QueryMessageRequestHeader", {
  topic: field.string(),
  key: field.string(),
  maxNum: optional(field.int()),
  beginTimestamp: optional(field.int()),
  endTimestamp: optional(field.int()),
  /** RocketMQ's queryMsgById by unique id: only messages whose UNIQ_KEY is `key` (not its KEYS). */
  uniqueKeyQuery: optional(field.bool({ wire: "_UNIQUE_KEY_QUERY" })),
});

export const QueryMessageResponseHeader = defineHeader("QueryMessageResponseHeader", {
  indexLastUpdateTimestamp: optional(field.int()),
  indexLastUpdatePhyoffset: optional(field.int()),
});

export const ViewMessageRequestHeader = defineHeader("ViewMessageRequestHeader", { offset: field.int({ min: 0 }) });
