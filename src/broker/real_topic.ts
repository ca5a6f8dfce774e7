import { MessageProperty } from "../common/message.ts";
import type { StoredMessage } from "../common/message_record.ts";
import type { PutMessageRequest } from "../store/message_store.ts";

/** A stored message as a new put: same topic, queue, body (copied), properties and origin. */
export function copyOfStored(m: StoredMessage): PutMessageRequest {
  return {
    topic: m.topic,
    queueId: m.queueId,
    body: m.body.slice(),
    properties: { ...m.properties },
    flag: m.flag,
    sysFlag: m.sysFlag,
    bornTimestamp: m.bornTimestamp,
    bornHost: m.bornHost,
    reconsumeTimes: m.reconsumeTimes,
  };
}

/**
 * A message parked in a system topic (delay levels, timers, half messages) as it is put back:
 * to the topic and queue its REAL_TOPIC and REAL_QID name, without those and the `drop`
 * properties that only mattered while it waited. Undefined when it names no real topic.
 */
export function toRealTopic(m: StoredMessage, drop: readonly string[]): PutMessageRequest | undefined {
  const topic = m.properties[MessageProperty.REAL_TOPIC];
  if (!topic) return undefined;
  const queueId = Number(m.properties[MessageProperty.REAL_QUEUE_ID] ?? "0");
  const properties = { ...m.properties };
  delete properties[MessageProperty.REAL_TOPIC];
  delete properties[MessageProperty.REAL_QUEUE_ID];
  for (const name of drop) delete properties[name];
  return { ...copyOfStored(m), topic, queueId: Number.isInteger(queueId) && queueId >= 0 ? queueId : 0, properties };
}
