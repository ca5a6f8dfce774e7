import { defineHeader, field, optional } from "./header_schema.ts";

export const EndTransactionRequestHeader = defineHeader("EndTransactionRequestHeader", {
  producerGroup: field.string(),
  tranStateTableOffset: field.int(),
  commitLogOffset: field.int({ min: 0 }),
  /** TRANSACTION_COMMIT_TYPE, TRANSACTION_ROLLBACK_TYPE or TRANSACTION_NOT_TYPE (unknown). */
  commitOrRollback: field.int(),
  fromTransactionCheck: optional(field.bool()),
  msgId: optional(field.string()),
  transactionId: optional(field.string()),
});

export const CheckTransactionStateRequestHeader = defineHeader("CheckTransactionStateRequestHeader", {
  tranStateTableOffset: field.int(),
  commitLogOffset: field.int({ min: 0 }),
  msgId: optional(field.string()),
  transactionId: optional(field.string()),
  offsetMsgId: optional(field.string()),
});
