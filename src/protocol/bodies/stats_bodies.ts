import { InvalidParameterError } from "../../common/errors.ts";
import { Limits } from "../../common/limits.ts";
import { fromUtf8, utf8 } from "../../util/bytes.ts";
import { decodeBody, encodeBody } from "../body_codec.ts";
import { SerializeType } from "../serialize_type.ts";
import { check } from "./body_schema.ts";
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

function encodeKeyedByQueue(rest: Record<string, unknown>, table: { mq: MessageQueueData; offset: object }[], type: number | undefined): Uint8Array {
  if (type === SerializeType.CBOR || type === undefined) return encodeBody({ ...rest, offsetTable: table }, type);
  const entries = table.map((e) => `${mqKey(e.mq)}:${JSON.stringify(e.offset)}`).join(",");
  const head = JSON.stringify(rest).slice(1, -1);
  return utf8(`{${head}${head ? "," : ""}"offsetTable":{${entries}}}`);
}

/** Reads fastjson's object keys by quoting them, then parses as JSON. */
function decodeKeyedByQueue(body: Uint8Array | undefined, type: number | undefined, what: string): Record<string, unknown> & { offsetTable: { mq: unknown; offset: unknown }[] } {
  if (type === SerializeType.CBOR || type === undefined) return decodeBody(body, type, what);
  if (!body || body.byteLength === 0) throw new InvalidParameterError(`${what} is empty`);
  const text = fromUtf8(body).replace(/([{,])(\{"brokerName":"(?:[^"\\]|\\.)*","queueId":-?\d+,"topic":"(?:[^"\\]|\\.)*"\}):/g, (_m, sep: string, key: string) => `${sep}${JSON.stringify(key)}:`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InvalidParameterError(`${what} of ${body.byteLength} bytes is not decodable: ${(cause as Error).message}`, { cause });
  }
  const table = (raw.offsetTable ?? {}) as Record<string, unknown>;
  return { ...raw, offsetTable: Object.entries(table).map(([k, offset]) => ({ mq: JSON.parse(k), offset })) };
}

const mq = check.object({ topic: check.string(), brokerName: check.string(), queueId: check.int(0) });
const topicOffset = check.object({ minOffset: check.int(), maxOffset: check.int(), lastUpdateTimestamp: check.int() });
const offsetWrapper = check.object({ brokerOffset: check.int(), consumerOffset: check.int(), pullOffset: check.optional(check.int()), lastTimestamp: check.int() });

export const TopicStatsTableBody = {
  name: "TopicStatsTable",
  encode: (v: TopicStatsTable, type: number | undefined): Uint8Array => encodeKeyedByQueue({}, v.offsetTable, type),
  decode(body: Uint8Array | undefined, type: number | undefined): TopicStatsTable {
    const raw = decodeKeyedByQueue(body, type, "TopicStatsTable");
    return check.object({ offsetTable: check.array(check.object({ mq, offset: topicOffset }), Limits.maxStatsQueues) })(raw, "TopicStatsTable");
  },
};

export const ConsumeStatsBody = {
  name: "ConsumeStats",
  encode: (v: ConsumeStats, type: number | undefined): Uint8Array => encodeKeyedByQueue({ consumeTps: v.consumeTps }, v.offsetTable, type),
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
