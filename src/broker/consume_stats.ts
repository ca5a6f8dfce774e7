import { TopicNotExistError } from "../common/errors.ts";
import { recordStoreTimestamp } from "../common/message_record.ts";
import { RETRY_GROUP_TOPIC_PREFIX } from "../common/names.ts";
import type { ConsumeStats, TopicStatsTable } from "../protocol/bodies/stats_bodies.ts";
import type { BrokerContext } from "./broker_context.ts";

/** Store time of the message at a logical offset (0 when it is gone or was never written). */
function storeTimeAt(ctx: BrokerContext, topic: string, queueId: number, offset: number): number {
  if (offset < 0) return 0;
  const r = ctx.store.getMessage(topic, queueId, offset, 1);
  return r.messages.length > 0 ? recordStoreTimestamp(r.messages[0]) : 0;
}

/** GET_TOPIC_STATS_INFO: each write queue's min and max offset and the store time of its last message. */
export function topicStats(ctx: BrokerContext, topic: string): TopicStatsTable {
  const tc = ctx.topics.get(topic);
  if (!tc) throw new TopicNotExistError(topic, `topic[${topic}] not exist on broker ${ctx.config.brokerName}`);
  const offsetTable: TopicStatsTable["offsetTable"] = [];
  for (let queueId = 0; queueId < tc.writeQueueNums; queueId++) {
    const minOffset = ctx.store.minOffset(topic, queueId);
    const maxOffset = ctx.store.maxOffset(topic, queueId);
    offsetTable.push({
      mq: { topic, brokerName: ctx.config.brokerName, queueId },
      offset: { minOffset, maxOffset, lastUpdateTimestamp: maxOffset > minOffset ? storeTimeAt(ctx, topic, queueId, maxOffset - 1) : 0 },
    });
  }
  return { offsetTable };
}

/**
 * GET_CONSUME_STATS: a group's progress on each queue of `topic`, or of every topic it has
 * committed offsets for or its live members subscribe to (its retry topic included): the
 * queue's max offset, the committed offset, and the store time of the last message consumed.
 * The lag is brokerOffset - consumerOffset. consumeTps: messages its pulls got per second over
 * the last minute, on those topics.
 */
export function consumeStats(ctx: BrokerContext, group: string, topic?: string): ConsumeStats {
  let topics: string[];
  if (topic) {
    if (!ctx.topics.get(topic)) throw new TopicNotExistError(topic, `topic[${topic}] not exist on broker ${ctx.config.brokerName}`);
    topics = [topic];
  } else {
    const subscribed = ctx.clients.groupView(group).members.flatMap((m) => m.subscriptions.map((s) => s.topic));
    topics = [...new Set([...ctx.offsets.topicsOf(group), ...subscribed, RETRY_GROUP_TOPIC_PREFIX + group])].filter((t) => ctx.topics.get(t)).sort();
  }
  const offsetTable: ConsumeStats["offsetTable"] = [];
  for (const t of topics) {
    const tc = ctx.topics.get(t)!;
    for (let queueId = 0; queueId < tc.readQueueNums; queueId++) {
      const brokerOffset = ctx.store.maxOffset(t, queueId);
      const consumerOffset = Math.max(0, ctx.offsets.query(group, t, queueId) ?? 0);
      offsetTable.push({
        mq: { topic: t, brokerName: ctx.config.brokerName, queueId },
        offset: { brokerOffset, consumerOffset, pullOffset: consumerOffset, lastTimestamp: consumerOffset > 0 ? storeTimeAt(ctx, t, queueId, consumerOffset - 1) : 0 },
      });
    }
  }
  return { offsetTable, consumeTps: ctx.statsManager.groupTps(group, topics) };
}
