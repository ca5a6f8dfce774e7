import { MessageProperty, type Properties, SysFlag } from "../common/message.ts";
import { createOffsetMsgId } from "../common/message_id.ts";
import { decodeRecord } from "../common/message_record.ts";
import { inflate } from "../platform/compress.ts";

/** A message to send. */
export interface Message {
  topic: string;
  body: Uint8Array | string;
  tags?: string;
  /** One key or several; each is indexed for lookup. */
  keys?: string | string[];
  /** User properties (names must not start with "__" or clash with system ones). */
  properties?: Properties;
  flag?: number;
  /** Deliver after this delay level's time (1 = 1 s … 18 = 2 h by default; above the last, the last). */
  delayTimeLevel?: number;
  /** Deliver at this time (ms since the epoch, or a Date): a timer message. */
  deliverAt?: number | Date;
  /** Deliver this many ms after the broker stores it: a timer message. */
  delayMs?: number;
}

export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

/** A message as received. */
export interface MessageExt {
  topic: string;
  body: Uint8Array;
  tags: string | undefined;
  keys: string[];
  properties: Properties;
  /** The producer's unique id (UNIQ_KEY), or the offset id when there is none. */
  msgId: string;
  offsetMsgId: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  sysFlag: number;
}

export const queueKeyOf = (mq: MessageQueue): string => `${mq.topic}@${mq.brokerName}@${mq.queueId}`;

/** Splits a pull or query body (raw records, back to back) into messages. */
export function decodeMessages(body: Uint8Array | undefined, brokerName: string, maxBodyBytes: number): MessageExt[] {
  const out: MessageExt[] = [];
  if (!body) return out;
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let p = 0;
  while (p + 8 <= body.byteLength) {
    const size = dv.getInt32(p);
    if (size <= 0 || p + size > body.byteLength) break;
    const r = decodeRecord(body.subarray(p, p + size));
    let payload = r.body;
    if (r.sysFlag & SysFlag.COMPRESSED) payload = inflate(payload, maxBodyBytes);
    const props = r.properties;
    const offsetMsgId = createOffsetMsgId(r.storeHost, r.physicalOffset);
    out.push({
      topic: r.topic,
      body: payload,
      tags: props[MessageProperty.TAGS],
      keys: (props[MessageProperty.KEYS] ?? "").split(" ").filter(Boolean),
      properties: props,
      msgId: props[MessageProperty.UNIQ_KEY] ?? offsetMsgId,
      offsetMsgId,
      brokerName,
      queueId: r.queueId,
      queueOffset: r.queueOffset,
      commitLogOffset: r.physicalOffset,
      bornTimestamp: r.bornTimestamp,
      bornHost: r.bornHost,
      storeTimestamp: r.storeTimestamp,
      storeHost: r.storeHost,
      reconsumeTimes: r.reconsumeTimes,
      sysFlag: r.sysFlag,
    });
    p += size;
  }
  return out;
}
