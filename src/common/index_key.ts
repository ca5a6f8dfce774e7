import { BoundedCache } from "../util/bounded_cache.ts";
import { javaStringHash, positiveHash } from "../util/java_hash.ts";
import { Limits } from "./limits.ts";

const seeds = new BoundedCache<string, number>(Limits.topicCacheEntries);

/** hashCode of "topic#", where every index key hash of a topic starts (cached, bounded). */
export function topicSeed(topic: string): number {
  return seeds.getOrCompute(topic, (t) => javaStringHash("#", javaStringHash(t)));
}

/** The IndexFile hash of "topic#key", computed without building that string (RocketMQ's, to the bit). */
export function indexKeyHash(topic: string, key: string): number {
  return positiveHash(javaStringHash(key, topicSeed(topic)));
}
