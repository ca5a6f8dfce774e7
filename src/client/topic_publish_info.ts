import { MASTER_ID, Perm, type TopicRouteData } from "../common/route.ts";
import type { MessageQueue } from "./message.ts";

/** A topic's writable queues and their masters, as a producer last looked them up (RocketMQ's TopicPublishInfo). */
export interface PublishInfo {
  queues: MessageQueue[];
  brokerAddrs: Map<string, string>;
  viaDefaultTopic: boolean;
  fetchedAt: number;
}

export function publishInfoOf(topic: string, route: TopicRouteData, viaDefaultTopic: boolean, defaultQueues: number): PublishInfo {
  const brokerAddrs = new Map<string, string>();
  for (const b of route.brokerDatas) {
    const master = b.brokerAddrs[String(MASTER_ID)];
    if (master) brokerAddrs.set(b.brokerName, master);
  }
  const queues: MessageQueue[] = [];
  for (const q of [...route.queueDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
    if ((q.perm & Perm.WRITE) === 0 || !brokerAddrs.has(q.brokerName)) continue;
    const n = viaDefaultTopic ? Math.min(defaultQueues, q.writeQueueNums) : q.writeQueueNums;
    for (let i = 0; i < n; i++) queues.push({ topic, brokerName: q.brokerName, queueId: i });
  }
  return { queues, brokerAddrs, viaDefaultTopic, fetchedAt: Date.now() };
}

/**
 * What to say when the NameServers know no route for `topic`: a topic never created, or one
 * whose brokers (`servedBy`, from an earlier lookup) are all gone.
 */
export function noRouteMessage(topic: string, servedBy: string[] | undefined): string {
  if (servedBy && servedBy.length > 0) {
    return `Topic ${topic} has no live broker: ${servedBy.join(", ")} served it and ${servedBy.length > 1 ? "are" : "is"} no longer registered with the NameServer`;
  }
  return `No route info of this topic: ${topic} (create it, or enable autoCreateTopicEnable on a broker)`;
}
