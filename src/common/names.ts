import { InvalidParameterError } from "./errors.ts";
import { Limits } from "./limits.ts";
import { BoundedCache } from "../util/bounded_cache.ts";

/** RocketMQ's topic and group character rule. */
const NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
export const RETRY_GROUP_TOPIC_PREFIX = "%RETRY%";
export const DLQ_GROUP_TOPIC_PREFIX = "%DLQ%";
/** Topic under which brokers advertise auto-creation (RocketMQ's TBW102). */
export const AUTO_CREATE_TOPIC_KEY_TOPIC = "TBW102";

function isSystemTopic(topic: string): boolean {
  return topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX);
}

/** Names already found valid (checked on every send and pull), bounded. */
const validTopics = new BoundedCache<string, true>(Limits.validTopicCacheEntries);

/** Throws InvalidParameterError saying which rule a topic name breaks. */
export function validateTopic(topic: unknown): asserts topic is string {
  if (typeof topic === "string" && validTopics.get(topic)) return;
  checkTopic(topic);
  validTopics.set(topic as string, true);
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new InvalidParameterError("Topic name is empty");
  }
  const max = isSystemTopic(topic) ? Limits.maxSystemTopicNameLength : Limits.maxTopicNameLength;
  if (topic.length > max) {
    throw new InvalidParameterError(`Topic name is ${topic.length} characters; at most ${max} allowed`);
  }
  if (!NAME_PATTERN.test(topic)) {
    throw new InvalidParameterError(
      `Topic name "${topic.slice(0, 64)}" has characters outside [%|a-zA-Z0-9_-]`,
    );
  }
}

export function validateGroup(group: unknown): asserts group is string {
  if (typeof group !== "string" || group.length === 0) {
    throw new InvalidParameterError("Group name is empty");
  }
  if (group.length > Limits.maxGroupNameLength) {
    throw new InvalidParameterError(
      `Group name is ${group.length} characters; at most ${Limits.maxGroupNameLength} allowed`,
    );
  }
  if (!NAME_PATTERN.test(group)) {
    throw new InvalidParameterError(`Group name "${group.slice(0, 64)}" has characters outside [%|a-zA-Z0-9_-]`);
  }
}
