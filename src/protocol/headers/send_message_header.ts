import type { RemotingCommand } from "../remoting_command.ts";
import { defineHeader, field, optional } from "./header_schema.ts";
import { Limits } from "../../common/limits.ts";

/** A queue id on the wire: RocketMQ keeps them in 0..65535 (and -1 asks the broker to pick). */
export const MAX_QUEUE_ID = Limits.maxQueueId;

const sendFields = {
  producerGroup: optional(field.string()),
  topic: field.string(),
  defaultTopic: optional(field.string()),
  defaultTopicQueueNums: optional(field.int({ min: 1 })),
  /** -1 (or absent): the broker picks a queue. */
  queueId: optional(field.int({ min: -1, max: MAX_QUEUE_ID })),
  sysFlag: optional(field.int()),
  bornTimestamp: optional(field.int()),
  flag: optional(field.int()),
  properties: optional(field.text()),
  reconsumeTimes: optional(field.int({ min: 0 })),
  unitMode: optional(field.bool()),
  maxReconsumeTimes: optional(field.int()),
  batch: optional(field.bool()),
};

/** SEND_MESSAGE and SEND_BATCH_MESSAGE (RocketMQ's SendMessageRequestHeader). */
export const SendMessageRequestHeader = defineHeader("SendMessageRequestHeader", sendFields);
export type SendMessageRequest = ReturnType<typeof SendMessageRequestHeader.decode>;

/** SEND_MESSAGE_V2's one-letter names for the same fields (RocketMQ's SendMessageRequestHeaderV2). */
const V2_NAMES: Record<keyof typeof sendFields, string> = {
  producerGroup: "a", topic: "b", defaultTopic: "c", defaultTopicQueueNums: "d", queueId: "e", sysFlag: "f",
  bornTimestamp: "g", flag: "h", properties: "i", reconsumeTimes: "j", unitMode: "k", maxReconsumeTimes: "l", batch: "m",
};
export const SendMessageRequestHeaderV2 = defineHeader(
  "SendMessageRequestHeaderV2",
  Object.fromEntries(Object.entries(sendFields).map(([k, f]) => [k, { ...f, wire: V2_NAMES[k as keyof typeof sendFields] }])) as typeof sendFields,
);

export const SendMessageResponseHeader = defineHeader("SendMessageResponseHeader", {
  /** Offset message ids, one per message of a batch, separated by commas. */
  msgId: field.string(),
  queueId: field.int({ min: 0, max: MAX_QUEUE_ID }),
  queueOffset: field.int(),
  transactionId: optional(field.string()),
});

/** CANCEL_DELAYED_MESSAGE (Bolide's): a pending delayed or timer message by its unique id. */
export const CancelDelayedMessageRequestHeader = defineHeader("CancelDelayedMessageRequestHeader", {
  topic: field.string(),
  uniqKey: field.string({ maxLength: 64 }),
});

/**
 * The header of a send: SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE come with the one-letter names
 * from RocketMQ's clients, but Bolide's producer (and older clients) batch with the long names.
 */
export function decodeSendHeader(cmd: RemotingCommand, shortNames: boolean): SendMessageRequest {
  return shortNames && cmd.extFields?.b !== undefined ? SendMessageRequestHeaderV2.decode(cmd) : SendMessageRequestHeader.decode(cmd);
}
