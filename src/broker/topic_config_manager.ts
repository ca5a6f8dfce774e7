import { InvalidParameterError, TopicNotExistError } from "../common/errors.ts";
import { AUTO_CREATE_TOPIC_KEY_TOPIC, validateTopic } from "../common/names.ts";
import { Perm, PERM_READ_WRITE, type RegisterBrokerBody, type TopicConfig } from "../common/route.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { check } from "../common/check.ts";
import { Limits } from "../common/limits.ts";
import { topicConfig } from "../protocol/bodies/broker_bodies.ts";
import { JsonConfigFile } from "./json_config_file.ts";

const TOPICS_FILE = check.object({
  topicConfigTable: check.optional(check.record(topicConfig, Limits.maxTopics)),
  dataVersion: check.optional(check.object({ timestamp: check.int(), counter: check.int() })),
});

/** The broker's topics, persisted to topics.json (a JsonConfigFile). */
export class TopicConfigManager {
  readonly #topics = new Map<string, TopicConfig>();
  #dataVersion = { timestamp: Date.now(), counter: 0 };
  readonly #changeListeners: (() => void)[] = [];

  readonly #file: JsonConfigFile<ReturnType<typeof TOPICS_FILE>>;

  constructor(
    fs: FileSystem,
    path: string,
    private readonly opts: { autoCreateTopicEnable: boolean; defaultTopicQueueNums: number; maxTopics?: number },
  ) {
    this.#file = new JsonConfigFile(fs, path, TOPICS_FILE);
    const saved = this.#file.load();
    if (saved) {
      for (const [name, tc] of Object.entries(saved.topicConfigTable ?? {})) this.#topics.set(name, tc);
      if (saved.dataVersion) this.#dataVersion = saved.dataVersion;
    }
    if (opts.autoCreateTopicEnable && !this.#topics.has(AUTO_CREATE_TOPIC_KEY_TOPIC)) {
      this.#topics.set(AUTO_CREATE_TOPIC_KEY_TOPIC, {
        topicName: AUTO_CREATE_TOPIC_KEY_TOPIC,
        readQueueNums: opts.defaultTopicQueueNums,
        writeQueueNums: opts.defaultTopicQueueNums,
        perm: PERM_READ_WRITE | Perm.INHERIT,
        topicSysFlag: 0,
        order: false,
      });
    }
  }

  onChange(fn: () => void): void {
    this.#changeListeners.push(fn);
  }

  get(topic: string): TopicConfig | undefined {
    return this.#topics.get(topic);
  }

  all(): TopicConfig[] {
    return [...this.#topics.values()];
  }

  /** Creates or replaces a topic's config. */
  update(tc: TopicConfig): TopicConfig {
    validateTopic(tc.topicName);
    for (const [k, v] of [["readQueueNums", tc.readQueueNums], ["writeQueueNums", tc.writeQueueNums]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > Limits.maxQueuesPerTopic) throw new InvalidParameterError(`${k} must be 1..${Limits.maxQueuesPerTopic}, got ${v}`);
    }
    if (!Number.isInteger(tc.perm) || tc.perm < 0 || tc.perm > 15) throw new InvalidParameterError(`perm must be 0..15, got ${tc.perm}`);
    if (!this.#topics.has(tc.topicName) && this.#topics.size >= (this.opts.maxTopics ?? 100_000)) {
      throw new InvalidParameterError(`Broker holds ${this.#topics.size} topics, its maximum`);
    }
    const clean: TopicConfig = { topicSysFlag: 0, order: false, ...tc };
    this.#topics.set(tc.topicName, clean);
    this.#changed();
    return clean;
  }

  delete(topic: string): boolean {
    const had = this.#topics.delete(topic);
    if (had) this.#changed();
    return had;
  }

  /**
   * The topic for a send, created from the default topic (RocketMQ's TBW102) when it does not
   * exist and auto-creation is on; otherwise TopicNotExistError.
   */
  forSend(topic: string, defaultTopic: string | undefined, requestedQueues: number | undefined): TopicConfig {
    const existing = this.#topics.get(topic);
    if (existing) return existing;
    const template = defaultTopic ? this.#topics.get(defaultTopic) : undefined;
    if (!this.opts.autoCreateTopicEnable || !template || (template.perm & Perm.INHERIT) === 0) {
      throw new TopicNotExistError(topic, `topic[${topic}] not exist, apply first please! (auto-creation is ${this.opts.autoCreateTopicEnable ? "on, but no default topic was given" : "off"})`);
    }
    const queues = Math.max(1, Math.min(requestedQueues ?? template.writeQueueNums, template.writeQueueNums));
    return this.update({ topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: PERM_READ_WRITE, topicSysFlag: 0, order: false });
  }

  /** A retry or dead-letter topic: one queue, read-write, created on first use. */
  ensureSystemTopic(topic: string, queues = 1): void {
    if (this.#topics.has(topic)) return;
    this.update({ topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: PERM_READ_WRITE, topicSysFlag: 0, order: false });
  }

  /** A put to a topic lands on one of its queues, even if the topic shrank meanwhile. */
  fitQueue<T extends { topic: string; queueId: number }>(req: T): T {
    const tc = this.#topics.get(req.topic);
    return tc && req.queueId >= tc.writeQueueNums ? { ...req, queueId: req.queueId % tc.writeQueueNums } : req;
  }

  /** A slave takes its master's topics as they are (replacing its own); false when nothing changed. */
  /** A slave takes its master's table whole; returns the topics it no longer has (deleted on the master). */
  adopt(table: Record<string, TopicConfig>): string[] {
    const mine = Object.fromEntries(this.#topics);
    if (JSON.stringify(mine) === JSON.stringify(table)) return [];
    const removed = [...this.#topics.keys()].filter((t) => !(t in table));
    this.#topics.clear();
    for (const [name, tc] of Object.entries(table)) this.#topics.set(name, tc);
    this.#changed();
    return removed;
  }

  /**
   * Topics that have queues in the store but no config here (a slave promoted before it copied
   * its master's topic table) get one, readable and writable, with as many queues as they have:
   * their messages replicated, so they stay served. Internal topics are left alone.
   */
  ensureFromQueues(queues: { topic: string; queueId: number }[], internal: ReadonlySet<string>): string[] {
    const counts = new Map<string, number>();
    for (const q of queues) if (!this.#topics.has(q.topic) && !internal.has(q.topic)) counts.set(q.topic, Math.max(counts.get(q.topic) ?? 0, q.queueId + 1));
    const added: string[] = [];
    for (const [topic, n] of counts) {
      try {
        this.update({ topicName: topic, readQueueNums: n, writeQueueNums: n, perm: PERM_READ_WRITE, topicSysFlag: 0, order: false });
        added.push(topic);
      } catch {
        // not a valid topic name: not one a client could use either
      }
    }
    return added;
  }

  registerBody(): RegisterBrokerBody {
    const topicConfigTable: Record<string, TopicConfig> = {};
    for (const [name, tc] of this.#topics) topicConfigTable[name] = tc;
    return { topicConfigSerializeWrapper: { topicConfigTable, dataVersion: { ...this.#dataVersion } }, filterServerList: [] };
  }

  #changed(): void {
    this.#dataVersion = { timestamp: Date.now(), counter: this.#dataVersion.counter + 1 };
    this.persist();
    for (const l of this.#changeListeners) l();
  }

  persist(): void {
    const body = this.registerBody().topicConfigSerializeWrapper;
    this.#file.save(body, true);
  }
}
