import { InvalidParameterError } from "../common/errors.ts";
import type { MessageQueue } from "./message.ts";

/**
 * Rebalancing strategies (RocketMQ's AllocateMessageQueueStrategy): given every queue of a topic
 * and every consumer id of a group, the queues this consumer owns. Each member computes it on its
 * own from the same sorted inputs, so the group agrees without talking.
 */
export type AllocateStrategy = (consumerId: string, consumerIds: string[], queues: MessageQueue[]) => MessageQueue[];

const sortQueues = (queues: MessageQueue[]) =>
  [...queues].sort((a, b) => a.topic.localeCompare(b.topic) || a.brokerName.localeCompare(b.brokerName) || a.queueId - b.queueId);

function indexOf(consumerId: string, ids: string[]): number {
  const i = ids.indexOf(consumerId);
  if (i < 0) throw new InvalidParameterError(`Consumer ${consumerId} is not in the group's consumer list`);
  return i;
}

/** Contiguous blocks, as even as possible; the first `queues % consumers` members get one more. */
export const allocateAveragely: AllocateStrategy = (consumerId, consumerIds, queues) => {
  const ids = [...consumerIds].sort();
  const qs = sortQueues(queues);
  const i = indexOf(consumerId, ids);
  const n = ids.length;
  if (qs.length <= i) return [];
  const mod = qs.length % n;
  const size = qs.length <= n ? 1 : mod > 0 && i < mod ? Math.floor(qs.length / n) + 1 : Math.floor(qs.length / n);
  const start = mod > 0 && i < mod ? i * size : i * size + mod;
  return qs.slice(start, Math.min(start + size, qs.length));
};

/** Round robin: queue k goes to member k mod n. */
export const allocateAveragelyByCircle: AllocateStrategy = (consumerId, consumerIds, queues) => {
  const ids = [...consumerIds].sort();
  const i = indexOf(consumerId, ids);
  return sortQueues(queues).filter((_, k) => k % ids.length === i);
};

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Consistent hashing with virtual nodes: when a member joins or leaves, only the queues next to
 * its points move, so fewer queues change owner than with the other strategies.
 */
export function allocateByConsistentHash(virtualNodes = 10): AllocateStrategy {
  return (consumerId, consumerIds, queues) => {
    indexOf(consumerId, consumerIds);
    const ring = consumerIds.flatMap((id) => Array.from({ length: virtualNodes }, (_, v) => ({ h: fnv1a(`${id}#${v}`), id })))
      .sort((a, b) => a.h - b.h || a.id.localeCompare(b.id));
    return sortQueues(queues).filter((q) => {
      const h = fnv1a(`${q.topic}@${q.brokerName}@${q.queueId}`);
      const owner = ring.find((p) => p.h >= h) ?? ring[0];
      return owner.id === consumerId;
    });
  };
}
