import { InvalidParameterError } from "../../common/errors.ts";
import { Limits } from "../../common/limits.ts";
import { fromUtf8, utf8 } from "../../util/bytes.ts";
import { decodeBody, encodeBody } from "../body_codec.ts";
import { SerializeType } from "../serialize_type.ts";
import { check, defineBody } from "./body_schema.ts";
import type { MessageQueueData } from "./client_bodies.ts";

/** A queue's offsets (RocketMQ's TopicOffset). */
export interface TopicOffset {
  minOffset: number;
  maxOffset: number;
  /** Store time of the queue's last message (0: empty). */
  lastUpdateTimestamp: number;
}

/** A group's progress on one queue (RocketMQ's OffsetWrapper). */
export interface OffsetWrapper {
  /** The queue's max offset (the next to be written). */
  brokerOffset: number;
  /** The group's committed offset (the next to consume). */
  consumerOffset: number;
  pullOffset: number;
  /** Store time of the last message consumed (0: none). */
  lastTimestamp: number;
}

export interface TopicStatsTable {
  offsetTable: { mq: MessageQueueData; offset: TopicOffset }[];
}

export interface ConsumeStats {
  offsetTable: { mq: MessageQueueData; offset: OffsetWrapper }[];
  consumeTps: number;
}

/**
 * RocketMQ's bodies keyed by MessageQueue (TopicStatsTable, ConsumeStats) are HashMaps that
 * fastjson writes with the key object itself as the map key, `{{"brokerName":"b","queueId":0,
 * "topic":"T"}:{…}}`: not JSON, but what RocketMQ's tools parse. Bolide writes that form to
 * JSON peers and reads it back; CBOR peers get the entries as a list.
 */
function mqKey(mq: MessageQueueData): string {
  return `{"brokerName":${JSON.stringify(mq.brokerName)},"queueId":${mq.queueId},"topic":${JSON.stringify(mq.topic)}}`;
}

function encodeKeyedByQueue<E extends { mq: MessageQueueData }>(
  rest: Record<string, unknown>,
  field: string,
  table: E[],
  value: (e: E) => unknown,
  type: number | undefined,
): Uint8Array {
  if (type === SerializeType.CBOR || type === undefined) return encodeBody({ ...rest, [field]: table }, type);
  const entries = table.map((e) => `${mqKey(e.mq)}:${JSON.stringify(value(e))}`).join(",");
  const head = JSON.stringify(rest).slice(1, -1);
  return utf8(`{${head}${head ? "," : ""}${JSON.stringify(field)}:{${entries}}}`);
}

/** Reads fastjson's object keys by quoting them, then parses as JSON. */
function decodeKeyedByQueue(
  body: Uint8Array | undefined,
  type: number | undefined,
  what: string,
  field = "offsetTable",
  valueKey = "offset",
): Record<string, unknown> {
  if (type === SerializeType.CBOR || type === undefined) return decodeBody(body, type, what);
  if (!body || body.byteLength === 0) throw new InvalidParameterError(`${what} is empty`);
  const text = fromUtf8(body).replace(/([{,])(\{"brokerName":"(?:[^"\\]|\\.)*","queueId":-?\d+,"topic":"(?:[^"\\]|\\.)*"\}):/g, (_m, sep: string, key: string) => `${sep}${JSON.stringify(key)}:`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InvalidParameterError(`${what} of ${body.byteLength} bytes is not decodable: ${(cause as Error).message}`, { cause });
  }
  const table = (raw[field] ?? {}) as Record<string, unknown>;
  return { ...raw, [field]: Object.entries(table).map(([k, v]) => ({ mq: JSON.parse(k), [valueKey]: v })) };
}

const mq = check.object({ topic: check.string(), brokerName: check.string(), queueId: check.int(0) });
const topicOffset = check.object({ minOffset: check.int(), maxOffset: check.int(), lastUpdateTimestamp: check.int() });
const offsetWrapper = check.object({ brokerOffset: check.int(), consumerOffset: check.int(), pullOffset: check.optional(check.int()), lastTimestamp: check.int() });

export const TopicStatsTableBody = {
  name: "TopicStatsTable",
  encode: (v: TopicStatsTable, type: number | undefined): Uint8Array => encodeKeyedByQueue({}, "offsetTable", v.offsetTable, (e) => e.offset, type),
  decode(body: Uint8Array | undefined, type: number | undefined): TopicStatsTable {
    const raw = decodeKeyedByQueue(body, type, "TopicStatsTable");
    return check.object({ offsetTable: check.array(check.object({ mq, offset: topicOffset }), Limits.maxStatsQueues) })(raw, "TopicStatsTable");
  },
};

export const ConsumeStatsBody = {
  name: "ConsumeStats",
  encode: (v: ConsumeStats, type: number | undefined): Uint8Array => encodeKeyedByQueue({ consumeTps: v.consumeTps }, "offsetTable", v.offsetTable, (e) => e.offset, type),
  decode(body: Uint8Array | undefined, type: number | undefined): ConsumeStats {
    const raw = decodeKeyedByQueue(body, type, "ConsumeStats");
    const v = check.object({
      offsetTable: check.array(check.object({ mq, offset: offsetWrapper }), Limits.maxStatsQueues),
      consumeTps: check.optional(check.number()),
    })(raw, "ConsumeStats");
    return {
      consumeTps: v.consumeTps ?? 0,
      offsetTable: v.offsetTable.map((e) => ({ mq: e.mq, offset: { ...e.offset, pullOffset: e.offset.pullOffset ?? e.offset.consumerOffset } })),
    };
  },
};

/**
 * RESET_CONSUMER_CLIENT_OFFSET's body and INVOKE_BROKER_TO_RESET_OFFSET's answer (RocketMQ's
 * ResetOffsetBody): the offset each queue of the topic moves to.
 */
export interface ResetOffsetTable {
  offsetTable: { mq: MessageQueueData; offset: number }[];
}

export const ResetOffsetBody = {
  name: "ResetOffsetBody",
  encode: (v: ResetOffsetTable, type: number | undefined): Uint8Array => encodeKeyedByQueue({}, "offsetTable", v.offsetTable, (e) => e.offset, type),
  decode(body: Uint8Array | undefined, type: number | undefined): ResetOffsetTable {
    const raw = decodeKeyedByQueue(body, type, "ResetOffsetBody");
    return check.object({ offsetTable: check.array(check.object({ mq, offset: check.int(0) }), Limits.maxStatsQueues) })(raw, "ResetOffsetBody");
  },
};

/** A queue as the consumer holds it (RocketMQ's ProcessQueueInfo). */
export interface ProcessQueueInfo {
  commitOffset: number;
  cachedMsgMinOffset: number;
  cachedMsgMaxOffset: number;
  cachedMsgCount: number;
  cachedMsgSizeInMiB: number;
  locked: boolean;
  lastLockTimestamp: number;
  droped: boolean; // sic: RocketMQ's field name
  lastPullTimestamp: number;
  lastConsumeTimestamp: number;
}

/**
 * GET_CONSUMER_RUNNING_INFO's answer (RocketMQ's ConsumerRunningInfo): the consumer's settings,
 * subscriptions, every queue it holds and each topic's rates. mqTable is keyed by MessageQueue
 * like ConsumeStats.
 */
export interface ConsumerRunningInfo {
  properties: Record<string, string>;
  subscriptionSet: { topic: string; subString: string; tagsSet: string[]; codeSet: number[]; subVersion: number; expressionType: string; classFilterMode: boolean }[];
  mqTable: { mq: MessageQueueData; info: ProcessQueueInfo }[];
  statusTable: Record<string, { pullRT: number; pullTPS: number; consumeRT: number; consumeOKTPS: number; consumeFailedTPS: number; consumeFailedMsgs: number }>;
  jstack?: string;
}

const processQueueInfo = check.object({
  commitOffset: check.int(),
  cachedMsgMinOffset: check.int(),
  cachedMsgMaxOffset: check.int(),
  cachedMsgCount: check.int(),
  cachedMsgSizeInMiB: check.number(),
  locked: check.bool(),
  lastLockTimestamp: check.int(),
  droped: check.bool(),
  lastPullTimestamp: check.int(),
  lastConsumeTimestamp: check.int(),
});
const consumeStatus = check.object({
  pullRT: check.number(), pullTPS: check.number(), consumeRT: check.number(), consumeOKTPS: check.number(), consumeFailedTPS: check.number(), consumeFailedMsgs: check.int(),
});
const subscriptionData = check.object({
  topic: check.string(), subString: check.string(), tagsSet: check.array(check.string(), 4_096), codeSet: check.array(check.int(), 4_096),
  subVersion: check.int(), expressionType: check.string(), classFilterMode: check.bool(),
});

export const ConsumerRunningInfoBody = {
  name: "ConsumerRunningInfo",
  encode: (v: ConsumerRunningInfo, type: number | undefined): Uint8Array =>
    encodeKeyedByQueue({ properties: v.properties, subscriptionSet: v.subscriptionSet, statusTable: v.statusTable, ...(v.jstack ? { jstack: v.jstack } : {}) }, "mqTable", v.mqTable, (e) => e.info, type),
  decode(body: Uint8Array | undefined, type: number | undefined): ConsumerRunningInfo {
    const raw = decodeKeyedByQueue(body, type, "ConsumerRunningInfo", "mqTable", "info");
    const v = check.object({
      properties: check.record(check.string(), 1_024),
      subscriptionSet: check.array(subscriptionData, Limits.maxSubscriptionsPerConsumer),
      mqTable: check.array(check.object({ mq, info: processQueueInfo }), Limits.maxStatsQueues),
      statusTable: check.record(consumeStatus, Limits.maxSubscriptionsPerConsumer * 2),
      jstack: check.optional(check.string()),
    })(raw, "ConsumerRunningInfo");
    return v.jstack === undefined ? { properties: v.properties, subscriptionSet: v.subscriptionSet, mqTable: v.mqTable, statusTable: v.statusTable } : v;
  },
};

/** How a member's listener took a message given to it directly (RocketMQ's CMResult names). */
export type ConsumeDirectlyResult = "CR_SUCCESS" | "CR_LATER" | "CR_ROLLBACK" | "CR_COMMIT" | "CR_THROW_EXCEPTION" | "CR_RETURN_NULL";

/** CONSUME_MESSAGE_DIRECTLY's answer (RocketMQ's ConsumeMessageDirectlyResult). */
export const ConsumeMessageDirectlyResultBody = defineBody("ConsumeMessageDirectlyResult", check.object({
  order: check.bool(),
  autoCommit: check.bool(),
  consumeResult: check.oneOf(["CR_SUCCESS", "CR_LATER", "CR_ROLLBACK", "CR_COMMIT", "CR_THROW_EXCEPTION", "CR_RETURN_NULL"] as const),
  remark: check.optional(check.string()),
  spentTimeMills: check.int(0),
}));

const statsWindow = check.object({ sum: check.number(), tps: check.number(), avgpt: check.number() });

/** VIEW_BROKER_STATS_DATA's answer (RocketMQ's BrokerStatsData). */
export const BrokerStatsDataBody = defineBody("BrokerStatsData", check.object({ statsMinute: statsWindow, statsHour: statsWindow, statsDay: statsWindow }));
