import { errorFromResponse, InvalidParameterError, RemotingError } from "../common/errors.ts";
import { Limits, MiB, PushConsumerDefaults } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { MessageProperty } from "../common/message.ts";
import { RETRY_GROUP_TOPIC_PREFIX, validateGroup, validateTopic } from "../common/names.ts";
import { ResponseCode, responseCodeName } from "../common/response_code.ts";
import { Perm, readAddr } from "../common/route.ts";
import { compileSql92 } from "../common/sql92_filter.ts";
import { env } from "../platform/runtime.ts";
import { ConsumerListBody, LockBatchBody, LockBatchResultBody } from "../protocol/bodies/client_bodies.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import {
  ConsumerGroupRequestHeader,
  ConsumerSendMsgBackRequestHeader,
  OffsetResponseHeader,
  QueryConsumerOffsetRequestHeader,
  QueueRequestHeader,
  SearchOffsetRequestHeader,
  UpdateConsumerOffsetRequestHeader,
} from "../protocol/headers/consumer_header.ts";
import { createRequest, type ExtFields, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { allocateAveragely, type AllocateStrategy } from "./allocate_message_queue.ts";
import { type MessageExt, type MessageQueue, queueKeyOf } from "./message.ts";
import { ClientInstance, type ConsumerMember } from "./client_instance.ts";
import { pullMessage, type PullResult } from "./pull_api.ts";
import type { NameServerClient } from "./name_server_client.ts";
import { LocalOffsetFile, OffsetTable } from "./offset_store.ts";
import { ProcessQueue } from "./process_queue.ts";


export type ConsumeConcurrentlyStatus = "CONSUME_SUCCESS" | "RECONSUME_LATER";

/** Internal: a listener call whose messages were neither consumed nor failed (left unacknowledged). */
const ABANDONED = Symbol("abandoned");
export type ConsumeOrderlyStatus = "SUCCESS" | "SUSPEND_CURRENT_QUEUE_A_MOMENT";

export interface ConsumeContext {
  /** The queue the messages came from (for retried messages, the group's retry queue). */
  mq: MessageQueue;
}

/** Returns CONSUME_SUCCESS (or nothing) when done; RECONSUME_LATER, or a throw, retries later. */
export type MessageListenerConcurrently = (
  msgs: MessageExt[],
  ctx: ConsumeContext,
) => ConsumeConcurrentlyStatus | void | Promise<ConsumeConcurrentlyStatus | void>;

/** Returns SUCCESS (or nothing) when done; SUSPEND_CURRENT_QUEUE_A_MOMENT, or a throw, retries the same messages after a pause. */
export type MessageListenerOrderly = (
  msgs: MessageExt[],
  ctx: ConsumeContext,
) => ConsumeOrderlyStatus | void | Promise<ConsumeOrderlyStatus | void>;

export interface PushConsumerOptions {
  namesrvAddr: string | string[];
  group: string;
  /** CLUSTERING: each message to one member of the group. BROADCASTING: to every member. */
  messageModel?: "CLUSTERING" | "BROADCASTING";
  /** Where a queue with no stored offset for this group starts. */
  consumeFromWhere?: "first" | "last" | "timestamp";
  /** For consumeFromWhere "timestamp" (ms since the epoch); default 30 minutes ago. */
  consumeTimestamp?: number;
  allocateStrategy?: AllocateStrategy;
  pullBatchSize?: number;
  /** Messages per listener call. */
  consumeMessageBatchMaxSize?: number;
  /** Listener calls in progress at once (RocketMQ's consume thread pool). */
  consumeConcurrency?: number;
  /** Pulling a queue pauses while it holds more than this many messages … */
  pullThresholdForQueue?: number;
  /** … or more than this many MiB of bodies … */
  pullThresholdSizeForQueueMiB?: number;
  /** … or (concurrent mode) an offset span wider than this. */
  consumeConcurrentlyMaxSpan?: number;
  /** Retries before a message goes to %DLQ%<group>: 16 for concurrent listeners, unlimited for orderly ones. */
  maxReconsumeTimes?: number;
  suspendCurrentQueueTimeMillis?: number;
  persistConsumerOffsetIntervalMs?: number;
  heartbeatBrokerIntervalMs?: number;
  rebalanceIntervalMs?: number;
  /** Orderly mode: how often held queue locks are renewed, and when an unrenewed one counts as lost. */
  lockIntervalMs?: number;
  lockMaxLiveTimeMs?: number;
  brokerSuspendMaxTimeMs?: number;
  pullDelayWhenFlowControlMs?: number;
  pullDelayWhenExceptionMs?: number;
  /** When a send-back fails, the message is consumed again locally after this long. */
  sendBackRetryDelayMs?: number;
  /** How long shutdown waits for listener calls in progress before it stores offsets. */
  shutdownGraceMs?: number;
  timeoutMs?: number;
  /** Broadcasting mode keeps offsets in `<offsetStoreDir>/<group>/<instanceName>.offsets.json`. */
  offsetStoreDir?: string;
  instanceName?: string;
  log?: Logger;
}

type Options = Required<Omit<PushConsumerOptions, "namesrvAddr" | "group" | "log" | "maxReconsumeTimes" | "consumeTimestamp">> & {
  maxReconsumeTimes: number | undefined;
  consumeTimestamp: number | undefined;
};

interface Subscription {
  topic: string;
  expression: string;
  type: "TAG" | "SQL92";
  /** Tag strings a TAG subscription accepts (undefined = all), re-checked here because the broker filters by hash. */
  tags: Set<string> | undefined;
}

type Listener =
  | { orderly: false; fn: MessageListenerConcurrently }
  | { orderly: true; fn: MessageListenerOrderly };

export interface PushConsumerStats {
  clientId: string;
  queues: { mq: MessageQueue; cachedMessages: number; cachedBytes: number; span: number; nextOffset: number; locked: boolean }[];
  cachedMessages: number;
  cachedBytes: number;
  pulls: number;
  flowControlPauses: number;
  consumed: number;
  failed: number;
  sentBack: number;
  rebalances: number;
}

/**
 * A push consumer (RocketMQ's DefaultMQPushConsumer): it joins a consumer group, balances the
 * subscribed topics' queues across the group's members, pulls each of its queues with long
 * polling into a bounded ProcessQueue, and calls your listener. Failed messages go back to the
 * broker for a retry with back-off, and to the dead-letter queue after maxReconsumeTimes.
 * Delivery is at least once: the offset stored is the lowest still in progress.
 */
export class PushConsumer {
  readonly group: string;
  readonly clientId: string;
  readonly #opts: Options;
  readonly #log: Logger;
  readonly #instance: ClientInstance;
  readonly #remoting: RemotingClient;
  readonly #namesrv: NameServerClient;
  readonly #subs = new Map<string, Subscription>();
  readonly #pqs = new Map<string, ProcessQueue>();
  readonly #brokerAddrs = new Map<string, string>();
  /** Every replica of each broker group in the last route: brokerId → address. */
  readonly #replicaAddrs = new Map<string, Record<string, string>>();
  readonly #offsets = new OffsetTable();
  readonly #localOffsets: LocalOffsetFile | undefined;
  #localLoaded: Map<string, number> | undefined;
  #listener: Listener | undefined;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #sleepers = new Set<() => void>();
  #running = false;
  #started = false;
  #rebalancing: Promise<void> | undefined;
  #rebalanceAgain = false;
  #rebalanceSoon: ReturnType<typeof setTimeout> | undefined;
  /** Concurrent mode: consume requests waiting for a free slot, FIFO. */
  #work: { pq: ProcessQueue; msgs: MessageExt[] }[] = [];
  #workHead = 0;
  #workers = 0;
  /** Orderly mode: queues consuming at once. */
  #orderlyActive = 0;
  readonly #orderlyWaiting: (() => void)[] = [];
  #stats = { pulls: 0, flowControlPauses: 0, consumed: 0, failed: 0, sentBack: 0, rebalances: 0 };
  #onStop: (() => void)[] = [];

  constructor(opts: PushConsumerOptions) {
    validateGroup(opts.group);
    this.group = opts.group;
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    const o: Options = {
      ...PushConsumerDefaults,
      maxReconsumeTimes: undefined,
      consumeTimestamp: undefined,
      messageModel: "CLUSTERING",
      consumeFromWhere: "last",
      allocateStrategy: allocateAveragely,
      timeoutMs: Limits.defaultInvokeTimeoutMs,
      offsetStoreDir: `${env("HOME") ?? "."}/.bolide_offsets`,
      instanceName: "DEFAULT",
      ...given,
    };
    checkOptions(o);
    this.#opts = o;
    this.#log = opts.log ?? silentLogger;
    this.#instance = ClientInstance.acquire({ namesrvAddr: opts.namesrvAddr, instanceName: o.instanceName, timeoutMs: o.timeoutMs });
    this.clientId = this.#instance.clientId;
    this.#remoting = this.#instance.remoting;
    this.#namesrv = this.#instance.namesrv;
    if (o.messageModel === "BROADCASTING") this.#localOffsets = new LocalOffsetFile(o.offsetStoreDir, this.group, o.instanceName);
  }

  get messageModel(): "CLUSTERING" | "BROADCASTING" {
    return this.#opts.messageModel;
  }

  /**
   * Subscribes to `topic` by tag expression ("*", "TagA || TagB") or, with type "SQL92", by a
   * property expression evaluated on the broker. A bad SQL92 expression throws
   * SubscriptionParseError here. Every member of a group should subscribe alike.
   */
  subscribe(topic: string, expression = "*", type: "TAG" | "SQL92" = "TAG"): this {
    validateTopic(topic);
    if (type !== "TAG" && type !== "SQL92") throw new InvalidParameterError(`Subscription type must be TAG or SQL92, got ${type}`);
    if (type === "SQL92") compileSql92(expression);
    const e = expression.trim();
    const tags = type === "SQL92" || e === "*" || e === "" ? undefined : new Set(e.split("||").map((t) => t.trim()).filter(Boolean));
    if (tags && tags.size === 0) throw new InvalidParameterError(`Tag expression "${expression}" names no tag`);
    this.#subs.set(topic, { topic, expression: type === "TAG" && !tags ? "*" : e, type, tags });
    if (this.#running) void this.#heartbeat().then(() => this.rebalance());
    return this;
  }

  /** Messages are handed to `listener`, up to consumeConcurrency calls at once. */
  registerMessageListener(listener: MessageListenerConcurrently): this {
    this.#setListener({ orderly: false, fn: listener });
    return this;
  }

  /** One call at a time per queue, in queue order; a queue is consumed by one member only (broker locks). */
  registerOrderlyListener(listener: MessageListenerOrderly): this {
    this.#setListener({ orderly: true, fn: listener });
    return this;
  }

  /**
   * The messages as an async iterator, for `for await (const m of consumer.messages())`. A
   * message counts as consumed when the loop asks for the next one. Leaving the loop (break or
   * throw) leaves the message in hand, and those not yet handed out, unacknowledged: the group
   * delivers them again once this consumer has shut down. Call before start().
   */
  messages(): AsyncIterableIterator<MessageExt> {
    const waiting: { msg: MessageExt; done: (s: ConsumeConcurrentlyStatus | typeof ABANDONED) => void }[] = [];
    let wake: (() => void) | undefined;
    let inHand: ((s: ConsumeConcurrentlyStatus | typeof ABANDONED) => void) | undefined;
    let finished = false;
    // Messages the loop will never see again: neither acknowledged nor sent back, so the group
    // delivers them again once this consumer has gone; their listener calls end at once.
    const abandon = () => {
      inHand?.(ABANDONED);
      inHand = undefined;
      for (const w of waiting.splice(0)) w.done(ABANDONED);
    };
    this.#setListener({
      orderly: false,
      fn: (msgs) =>
        new Promise<ConsumeConcurrentlyStatus>((resolve) => {
          if (finished) return resolve(ABANDONED as unknown as ConsumeConcurrentlyStatus);
          // consumeMessageBatchMaxSize may be above 1: each message is acknowledged on its own
          // turn, and the batch when all are.
          let left = msgs.length;
          let failed = false;
          for (const msg of msgs) {
            waiting.push({
              msg,
              done: (s) => {
                if (s === ABANDONED) return resolve(ABANDONED as unknown as ConsumeConcurrentlyStatus);
                if (s !== "CONSUME_SUCCESS") failed = true;
                if (--left === 0) resolve(failed ? "RECONSUME_LATER" : "CONSUME_SUCCESS");
              },
            });
          }
          wake?.();
        }),
    });
    this.#onStop.push(() => {
      abandon();
      wake?.();
    });
    const stopped = () => this.#started && !this.#running;
    const iterator: AsyncIterableIterator<MessageExt> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async next(): Promise<IteratorResult<MessageExt>> {
        inHand?.("CONSUME_SUCCESS");
        inHand = undefined;
        while (waiting.length === 0) {
          if (finished || stopped()) return { done: true, value: undefined };
          await new Promise<void>((r) => wake = r);
          wake = undefined;
        }
        const w = waiting.shift()!;
        inHand = w.done;
        return { done: false, value: w.msg };
      },
      return(): Promise<IteratorResult<MessageExt>> {
        finished = true;
        abandon();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
    return iterator;
  }

  async start(): Promise<void> {
    if (this.#started) throw new InvalidParameterError("PushConsumer already started");
    if (!this.#listener) throw new InvalidParameterError("Register a message listener (or use messages()) before start()");
    if (this.#subs.size === 0) throw new InvalidParameterError("Subscribe to a topic before start()");
    const o = this.#opts;
    // First: a second consumer of this group in this instance is refused before anything starts.
    const member: ConsumerMember = {
      group: this.group,
      brokers: () => this.#brokerAddrs.values(),
      heartbeatData: () => ({
        groupName: this.group,
        consumeType: "CONSUME_PASSIVELY",
        messageModel: this.#opts.messageModel,
        consumeFromWhere: this.#opts.consumeFromWhere,
        subscriptionDataSet: [...this.#subs.values()].map((s) => ({ topic: s.topic, subString: s.expression, expressionType: s.type })),
      }),
      // The broker says when the group's members change: rebalance now, not at the next interval.
      onMembersChanged: () => {
        if (this.#running) void this.rebalance();
      },
    };
    this.#instance.registerConsumer(member, o.heartbeatBrokerIntervalMs, this.#log);
    this.#member = member;
    this.#started = true;
    this.#running = true;
    if (this.#opts.messageModel === "CLUSTERING") {
      const retry = RETRY_GROUP_TOPIC_PREFIX + this.group;
      this.#subs.set(retry, { topic: retry, expression: "*", type: "TAG", tags: undefined });
    } else {
      this.#localLoaded = this.#localOffsets!.load();
    }
    await this.#heartbeat();
    this.#timers.push(setInterval(() => void this.rebalance(), o.rebalanceIntervalMs));
    this.#timers.push(setInterval(() => void this.persistOffsets(), o.persistConsumerOffsetIntervalMs));
    if (this.#listener.orderly && o.messageModel === "CLUSTERING") {
      this.#timers.push(setInterval(() => void this.#relockAll(), o.lockIntervalMs));
    }
    await this.rebalance();
  }

  /** Recomputes this member's queues now (it also runs on a timer and when the group changes). */
  rebalance(): Promise<void> {
    if (this.#rebalancing) {
      this.#rebalanceAgain = true;
      return this.#rebalancing;
    }
    this.#rebalancing = (async () => {
      do {
        this.#rebalanceAgain = false;
        try {
          await this.#rebalanceOnce();
        } catch (err) {
          this.#log.warn(`rebalance of ${this.group} failed: ${(err as Error).message}`);
        }
      } while (this.#rebalanceAgain && this.#running);
    })().finally(() => this.#rebalancing = undefined);
    return this.#rebalancing;
  }

  /** The queues this member consumes now. */
  assignment(): MessageQueue[] {
    return [...this.#pqs.values()].map((pq) => pq.mq);
  }

  stats(): PushConsumerStats {
    const queues = [...this.#pqs.values()].map((pq) => ({
      mq: pq.mq,
      cachedMessages: pq.count,
      cachedBytes: pq.bytes,
      span: pq.span,
      nextOffset: pq.nextOffset,
      locked: pq.locked,
    }));
    return {
      clientId: this.clientId,
      queues,
      cachedMessages: queues.reduce((n, q) => n + q.cachedMessages, 0),
      cachedBytes: queues.reduce((n, q) => n + q.cachedBytes, 0),
      ...this.#stats,
    };
  }

  /** Stores the offsets that changed: on the brokers (clustering) or in the local file (broadcasting). */
  async persistOffsets(only?: MessageQueue[]): Promise<void> {
    const keys = only ? new Set(only.map(queueKeyOf)) : undefined;
    const changed = this.#offsets.changed(keys ? (mq) => keys.has(queueKeyOf(mq)) : undefined);
    if (changed.length === 0) return;
    if (this.#localOffsets) {
      try {
        this.#localOffsets.save(changed);
        for (const c of changed) this.#offsets.markPersisted(c.mq, c.offset);
      } catch (err) {
        this.#log.warn(`writing ${this.#localOffsets.path} failed: ${(err as Error).message}`);
      }
      return;
    }
    await Promise.all(changed.map(async ({ mq, offset }) => {
      const addr = this.#brokerAddrs.get(mq.brokerName);
      if (!addr) return;
      try {
        const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader.encode({
          consumerGroup: this.group, topic: mq.topic, queueId: mq.queueId, commitOffset: offset,
        })), this.#opts.timeoutMs);
        if (resp.code === ResponseCode.SUCCESS) this.#offsets.markPersisted(mq, offset);
      } catch (err) {
        this.#log.warn(`storing the offset of ${queueKeyOf(mq)} failed: ${(err as Error).message}`);
      }
    }));
  }

  /**
   * Stops pulling, waits up to shutdownGraceMs for listener calls in progress, stores offsets,
   * releases orderly locks and leaves the group (its other members rebalance at once).
   */
  async shutdown(): Promise<void> {
    if (!this.#running) {
      if (!this.#released) this.#instance.release();
      this.#released = true;
      return;
    }
    this.#running = false;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#rebalanceSoon);
    for (const wake of [...this.#sleepers]) wake();
    for (const f of this.#onStop) f();
    this.#work = [];
    this.#workHead = 0;
    const deadline = Date.now() + this.#opts.shutdownGraceMs;
    while ((this.#workers > 0 || this.#orderlyActive > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const pqs = [...this.#pqs.values()];
    for (const pq of pqs) pq.dropped = true;
    await this.persistOffsets();
    if (this.#listener?.orderly && this.#opts.messageModel === "CLUSTERING") await this.#unlock(pqs.map((pq) => pq.mq));
    await this.#instance.unregister("consumer", this.group, this.#brokerAddrs.values(), this.#member);
    this.#pqs.clear();
    this.#released = true;
    this.#instance.release();
  }

  #released = false;
  #member: ConsumerMember | undefined;

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #setListener(l: Listener): void {
    if (this.#listener) throw new InvalidParameterError("A message listener is already registered");
    if (this.#started) throw new InvalidParameterError("Register the listener before start()");
    this.#listener = l;
  }

  get #maxReconsumeTimes(): number {
    return this.#opts.maxReconsumeTimes ?? (this.#listener?.orderly ? Number.MAX_SAFE_INTEGER : PushConsumerDefaults.maxReconsumeTimes);
  }

  // ---- membership and rebalancing -----------------------------------------------------------

  /** The instance's heartbeat, after learning the brokers of the subscribed topics if none is known yet. */
  async #heartbeat(): Promise<void> {
    if (this.#brokerAddrs.size === 0) {
      for (const topic of this.#subs.keys()) await this.#queuesOf(topic).catch(() => {});
    }
    await this.#instance.heartbeat();
  }

  /** Readable queues of a topic from the NameServer; learns broker addresses on the way. */
  async #queuesOf(topic: string): Promise<MessageQueue[]> {
    const route = await this.#namesrv.getRoute(topic);
    let fresh = false;
    for (const b of route.brokerDatas) {
      const addr = readAddr(b);
      if (!addr) continue;
      this.#replicaAddrs.set(b.brokerName, b.brokerAddrs);
      if (this.#brokerAddrs.get(b.brokerName) !== addr) fresh = true;
      this.#brokerAddrs.set(b.brokerName, addr);
    }
    if (fresh && this.#running) await this.#heartbeat();
    const out: MessageQueue[] = [];
    for (const q of route.queueDatas) {
      if ((q.perm & Perm.READ) === 0 || !this.#brokerAddrs.has(q.brokerName)) continue;
      for (let i = 0; i < q.readQueueNums; i++) out.push({ topic, brokerName: q.brokerName, queueId: i });
    }
    return out;
  }

  /** The group's members, as one broker of the topic knows them. */
  async #consumerIds(queues: MessageQueue[]): Promise<string[] | undefined> {
    for (const brokerName of new Set(queues.map((q) => q.brokerName))) {
      const addr = this.#brokerAddrs.get(brokerName);
      if (!addr) continue;
      try {
        const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, ConsumerGroupRequestHeader.encode({ consumerGroup: this.group })), this.#opts.timeoutMs);
        if (resp.code !== ResponseCode.SUCCESS) continue;
        const ids = ConsumerListBody.decode(resp.body, resp.serializeType).consumerIdList;
        if (Array.isArray(ids) && ids.length > 0) return ids;
      } catch {
        // try the next broker
      }
    }
    return undefined;
  }

  async #rebalanceOnce(): Promise<void> {
    this.#stats.rebalances++;
    let retrySoon = false;
    for (const sub of [...this.#subs.values()]) {
      if (!this.#running) return;
      let all: MessageQueue[];
      try {
        all = await this.#queuesOf(sub.topic);
      } catch {
        retrySoon = true; // the topic (a new retry topic, say) may not be routed yet
        continue;
      }
      let mine = all;
      if (this.#opts.messageModel === "CLUSTERING") {
        const ids = await this.#consumerIds(all);
        if (!ids || !ids.includes(this.clientId)) {
          retrySoon = true; // our heartbeat has not reached the broker yet
          await this.#heartbeat();
          continue;
        }
        mine = this.#opts.allocateStrategy(this.clientId, ids, all);
      }
      const wanted = new Set(mine.map(queueKeyOf));
      const drops = [...this.#pqs.values()].filter((pq) => pq.mq.topic === sub.topic && !wanted.has(queueKeyOf(pq.mq)));
      await Promise.all(drops.map((pq) => this.#drop(pq)));
      let fresh = mine.filter((mq) => !this.#pqs.has(queueKeyOf(mq)));
      if (fresh.length > 0 && this.#listener!.orderly && this.#opts.messageModel === "CLUSTERING") {
        // Orderly: a queue is taken only once its broker lock is ours; its previous owner
        // releases the lock after storing its offset, so nothing is consumed out of order.
        const locked = await this.#lock(fresh);
        if (locked.size < fresh.length) retrySoon = true;
        fresh = fresh.filter((mq) => locked.has(queueKeyOf(mq)));
      }
      await Promise.all(fresh.map((mq) => this.#add(mq)));
    }
    if (retrySoon) this.#rebalanceSoonAfterFailure();
  }

  /** One rebalance (with fresh routes) within a second, however many failures ask for it. */
  #rebalanceSoonAfterFailure(): void {
    if (!this.#running || this.#rebalanceSoon !== undefined) return;
    this.#rebalanceSoon = setTimeout(() => {
      this.#rebalanceSoon = undefined;
      void this.rebalance();
    }, Math.min(1000, this.#opts.rebalanceIntervalMs));
  }

  async #add(mq: MessageQueue): Promise<void> {
    let start: number;
    try {
      start = await this.#startOffset(mq);
    } catch (err) {
      this.#log.warn(`no start offset for ${queueKeyOf(mq)}: ${(err as Error).message}`);
      return;
    }
    if (!this.#running || this.#pqs.has(queueKeyOf(mq))) return;
    const pq = new ProcessQueue(mq);
    pq.nextOffset = start;
    if (this.#listener!.orderly && this.#opts.messageModel === "CLUSTERING") {
      pq.locked = true;
      pq.lastLockAt = Date.now();
    }
    // Record where this member starts, so the next owner starts there too even if nothing is consumed.
    if (this.#offsets.get(mq) === undefined) this.#offsets.update(mq, start, false);
    this.#pqs.set(queueKeyOf(mq), pq);
    void this.#pullLoop(pq);
  }

  async #drop(pq: ProcessQueue): Promise<void> {
    pq.dropped = true;
    this.#pqs.delete(queueKeyOf(pq.mq));
    // Orderly: the message being consumed finishes and its offset is committed before the lock goes.
    if (pq.consuming) await pq.consuming;
    await this.persistOffsets([pq.mq]);
    this.#offsets.remove(pq.mq);
    if (this.#listener!.orderly && this.#opts.messageModel === "CLUSTERING") await this.#unlock([pq.mq]);
  }

  async #startOffset(mq: MessageQueue): Promise<number> {
    if (this.#localLoaded) {
      const local = this.#localLoaded.get(queueKeyOf(mq));
      if (local !== undefined) return local;
    } else {
      const req = QueryConsumerOffsetRequestHeader.encode({ consumerGroup: this.group, topic: mq.topic, queueId: mq.queueId, setZeroIfNotFound: false });
      const resp = await this.#brokerCall(mq, RequestCode.QUERY_CONSUMER_OFFSET, req);
      if (resp.code === ResponseCode.SUCCESS) return OffsetResponseHeader.decode(resp).offset;
      if (resp.code !== ResponseCode.QUERY_NOT_FOUND) throw errorFromResponse(resp.code, resp.remark, "QUERY_CONSUMER_OFFSET");
    }
    // No stored offset: consumeFromWhere decides (a retry queue always from its start).
    const where = mq.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) ? "first" : this.#opts.consumeFromWhere;
    const queue = { topic: mq.topic, queueId: mq.queueId };
    const code = where === "first" ? RequestCode.GET_MIN_OFFSET : where === "last" ? RequestCode.GET_MAX_OFFSET : RequestCode.SEARCH_OFFSET_BY_TIMESTAMP;
    const resp = await this.#brokerCall(mq, code, code === RequestCode.SEARCH_OFFSET_BY_TIMESTAMP
      ? SearchOffsetRequestHeader.encode({ ...queue, timestamp: this.#opts.consumeTimestamp ?? Date.now() - 30 * 60_000 })
      : QueueRequestHeader.encode(queue));
    if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, requestCodeName(code));
    return OffsetResponseHeader.decode(resp).offset;
  }

  #brokerCall(mq: MessageQueue, code: number, ext: ExtFields, timeoutMs = this.#opts.timeoutMs, brokerId = 0): Promise<RemotingCommand> {
    // A pull goes where the broker last suggested, if that replica is in the route.
    const addr = (brokerId > 0 ? this.#replicaAddrs.get(mq.brokerName)?.[String(brokerId)] : undefined) ?? this.#brokerAddrs.get(mq.brokerName);
    if (!addr) return Promise.reject(new InvalidParameterError(`No address known for broker ${mq.brokerName}`));
    return this.#remoting.invoke(addr, createRequest(code, ext), timeoutMs);
  }

  // ---- orderly locks ---------------------------------------------------------------------------

  /** Locks queues on their brokers; returns the keys of those now held, and marks their ProcessQueues. */
  async #lock(mqs: MessageQueue[]): Promise<Set<string>> {
    const held = new Set<string>();
    const byBroker = byBrokerName(mqs);
    await Promise.all([...byBroker].map(async ([brokerName, set]) => {
      const addr = this.#brokerAddrs.get(brokerName);
      if (!addr) return;
      try {
        const body = LockBatchBody.encode({ consumerGroup: this.group, clientId: this.clientId, mqSet: set }, SerializeType.CBOR);
        const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.LOCK_BATCH_MQ, undefined, body), this.#opts.timeoutMs);
        if (resp.code !== ResponseCode.SUCCESS) return;
        const ok = LockBatchResultBody.decode(resp.body, resp.serializeType).lockOKMQSet ?? [];
        for (const mq of ok) held.add(queueKeyOf(mq));
      } catch (err) {
        this.#log.warn(`locking queues on ${brokerName} failed: ${(err as Error).message}`);
      }
    }));
    const now = Date.now();
    for (const mq of mqs) {
      const pq = this.#pqs.get(queueKeyOf(mq));
      if (!pq) continue;
      pq.locked = held.has(queueKeyOf(mq));
      if (pq.locked) pq.lastLockAt = now;
    }
    return held;
  }

  async #unlock(mqs: MessageQueue[]): Promise<void> {
    const byBroker = byBrokerName(mqs);
    await Promise.all([...byBroker].map(async ([brokerName, set]) => {
      const addr = this.#brokerAddrs.get(brokerName);
      if (!addr) return;
      const body = LockBatchBody.encode({ consumerGroup: this.group, clientId: this.clientId, mqSet: set }, SerializeType.CBOR);
      await this.#remoting.invoke(addr, createRequest(RequestCode.UNLOCK_BATCH_MQ, undefined, body), this.#opts.timeoutMs).catch(() => {});
    }));
  }

  async #relockAll(): Promise<void> {
    const mqs = [...this.#pqs.values()].filter((pq) => !pq.dropped).map((pq) => pq.mq);
    if (mqs.length > 0) await this.#lock(mqs);
  }

  #lockValid(pq: ProcessQueue): boolean {
    if (this.#opts.messageModel !== "CLUSTERING") return true;
    return pq.locked && Date.now() - pq.lastLockAt <= this.#opts.lockMaxLiveTimeMs;
  }

  // ---- pulling ---------------------------------------------------------------------------------

  /** Pauses (ms) this queue's pulling needs now, or 0. */
  #flowControl(pq: ProcessQueue): number {
    const o = this.#opts;
    const over = pq.count > o.pullThresholdForQueue ||
      pq.bytes > o.pullThresholdSizeForQueueMiB * MiB ||
      (!this.#listener!.orderly && pq.span > o.consumeConcurrentlyMaxSpan);
    if (!over) return 0;
    this.#stats.flowControlPauses++;
    return o.pullDelayWhenFlowControlMs;
  }

  async #pullLoop(pq: ProcessQueue): Promise<void> {
    const o = this.#opts;
    while (!pq.dropped && this.#running) {
      const pause = this.#flowControl(pq);
      if (pause > 0) {
        await this.#sleep(pause);
        continue;
      }
      if (this.#listener!.orderly && !this.#lockValid(pq)) {
        await this.#lock([pq.mq]);
        if (!this.#lockValid(pq)) await this.#sleep(o.pullDelayWhenExceptionMs);
        continue;
      }
      const sub = this.#subs.get(pq.mq.topic);
      if (!sub) return;
      const offset = pq.nextOffset;
      const commitOffset = this.#localOffsets ? undefined : this.#offsets.get(pq.mq);
      let r: PullResult;
      try {
        this.#stats.pulls++;
        r = await pullMessage(this.#remoting, this.#pullAddr(pq), {
          group: this.group,
          mq: pq.mq,
          offset,
          maxMsgNums: o.pullBatchSize,
          expression: sub.expression,
          type: sub.type,
          tags: sub.tags,
          suspendMs: o.brokerSuspendMaxTimeMs,
          commitOffset,
        }, o.timeoutMs);
      } catch (err) {
        if (pq.dropped || !this.#running) return;
        if (err instanceof RemotingError || err instanceof InvalidParameterError) {
          pq.pullFromBrokerId = 0; // the suggested replica may be gone: back to the group's reader
          this.#log.warn(`pull of ${queueKeyOf(pq.mq)} failed: ${(err as Error).message}`);
          this.#rebalanceSoonAfterFailure(); // the broker may be gone: its slave may serve this queue
        } else {
          this.#log.warn(`pull of ${queueKeyOf(pq.mq)} refused: ${(err as Error).message}`);
        }
        await this.#sleep(o.pullDelayWhenExceptionMs);
        continue;
      }
      if (pq.dropped) return;
      this.#onPulled(pq, offset, r);
    }
  }

  /** Where a queue's next pull goes: the replica the broker last suggested, if it is in the route. */
  #pullAddr(pq: ProcessQueue): string {
    const id = pq.pullFromBrokerId;
    const addr = (id > 0 ? this.#replicaAddrs.get(pq.mq.brokerName)?.[String(id)] : undefined) ?? this.#brokerAddrs.get(pq.mq.brokerName);
    if (!addr) throw new InvalidParameterError(`No address known for broker ${pq.mq.brokerName}`);
    return addr;
  }

  #onPulled(pq: ProcessQueue, offset: number, r: PullResult): void {
    const next = r.nextBeginOffset;
    switch (r.status) {
      case "FOUND": {
        pq.pullFromBrokerId = r.suggestWhichBrokerId;
        pq.nextOffset = next;
        for (const m of r.messages) {
          // A retried message shows its original topic (the retry copy keeps it in RETRY_TOPIC).
          const original = m.properties[MessageProperty.RETRY_TOPIC];
          if (original && m.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) m.topic = original;
        }
        const added = pq.put(r.messages);
        if (pq.isEmpty) this.#offsets.update(pq.mq, next, true);
        if (added.length > 0) this.#submit(pq, added);
        return;
      }
      case "NO_NEW_MSG":
      case "NO_MATCHED_MSG":
        pq.nextOffset = next;
        if (pq.isEmpty) this.#offsets.update(pq.mq, next, true);
        return;
      case "OFFSET_ILLEGAL":
        // The offset is outside the queue (retention deleted it, or it was never valid): start
        // again where the broker says, and store that at once.
        this.#log.warn(`offset ${offset} of ${queueKeyOf(pq.mq)} is illegal; moving to ${next}`);
        pq.nextOffset = next;
        this.#offsets.update(pq.mq, next, false);
        void this.persistOffsets([pq.mq]);
        return;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }

  // ---- consuming -------------------------------------------------------------------------------

  #submit(pq: ProcessQueue, msgs: MessageExt[]): void {
    if (this.#listener!.orderly) {
      this.#kickOrderly(pq);
      return;
    }
    const n = this.#opts.consumeMessageBatchMaxSize;
    for (let i = 0; i < msgs.length; i += n) this.#work.push({ pq, msgs: n === 1 ? [msgs[i]] : msgs.slice(i, i + n) });
    while (this.#workers < this.#opts.consumeConcurrency && this.#workHead < this.#work.length) {
      this.#workers++;
      void this.#worker();
    }
  }

  async #worker(): Promise<void> {
    try {
      while (this.#running && this.#workHead < this.#work.length) {
        const req = this.#work[this.#workHead++];
        if (this.#workHead > 1024 && this.#workHead * 2 > this.#work.length) {
          this.#work = this.#work.slice(this.#workHead);
          this.#workHead = 0;
        }
        await this.#consumeConcurrently(req.pq, req.msgs);
      }
    } finally {
      this.#workers--;
    }
  }

  async #consumeConcurrently(pq: ProcessQueue, msgs: MessageExt[]): Promise<void> {
    if (pq.dropped) return;
    const listener = this.#listener!.fn as MessageListenerConcurrently;
    let status: ConsumeConcurrentlyStatus;
    try {
      status = (await listener(msgs, { mq: pq.mq })) ?? "CONSUME_SUCCESS";
      if ((status as unknown) === ABANDONED) return;
      if (status !== "CONSUME_SUCCESS" && status !== "RECONSUME_LATER") {
        this.#log.warn(`listener returned ${String(status)}; treated as RECONSUME_LATER`);
        status = "RECONSUME_LATER";
      }
    } catch (err) {
      this.#log.warn(`listener threw on ${msgs.length} message(s) of ${queueKeyOf(pq.mq)}: ${(err as Error).message}`);
      status = "RECONSUME_LATER";
    }
    // A dropped queue now belongs to another member, which consumes from the stored offset.
    if (pq.dropped) return;
    let done = msgs;
    if (status === "CONSUME_SUCCESS") {
      this.#stats.consumed += msgs.length;
    } else {
      this.#stats.failed += msgs.length;
      if (this.#opts.messageModel === "BROADCASTING") {
        this.#log.warn(`broadcasting: ${msgs.length} failed message(s) of ${queueKeyOf(pq.mq)} dropped (no retry in broadcasting mode)`);
      } else {
        const again: MessageExt[] = [];
        for (const m of msgs) if (!await this.#sendBack(m, 0)) again.push(m);
        if (again.length > 0) {
          // The broker did not take them: consume them again here after a pause.
          done = msgs.filter((m) => !again.includes(m));
          for (const m of again) m.reconsumeTimes++;
          void this.#sleep(this.#opts.sendBackRetryDelayMs).then(() => {
            if (!pq.dropped && this.#running) this.#submit(pq, again);
          });
        }
      }
    }
    const offset = pq.remove(done);
    if (!pq.dropped) this.#offsets.update(pq.mq, offset, true);
  }

  /** CONSUMER_SEND_MSG_BACK to the broker that stored the message; true if it took it. */
  async #sendBack(m: MessageExt, delayLevel: number): Promise<boolean> {
    const addr = this.#brokerAddrs.get(m.brokerName);
    if (!addr) return false;
    try {
      const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, ConsumerSendMsgBackRequestHeader.encode({
        group: this.group,
        offset: m.commitLogOffset,
        delayLevel,
        originMsgId: m.msgId,
        originTopic: m.topic,
        unitMode: false,
        maxReconsumeTimes: this.#maxReconsumeTimes,
      })), this.#opts.timeoutMs);
      if (resp.code !== ResponseCode.SUCCESS) {
        this.#log.warn(`send-back of ${m.msgId} refused: ${responseCodeName(resp.code)} ${resp.remark ?? ""}`);
        return false;
      }
      this.#stats.sentBack++;
      return true;
    } catch (err) {
      this.#log.warn(`send-back of ${m.msgId} failed: ${(err as Error).message}`);
      return false;
    }
  }

  #kickOrderly(pq: ProcessQueue): void {
    if (pq.consuming || pq.dropped || !this.#running) return;
    pq.consuming = this.#consumeOrderly(pq).finally(() => {
      pq.consuming = undefined;
      if (!pq.isEmpty && !pq.dropped && this.#running) this.#kickOrderly(pq);
    });
  }

  /** One queue, one call at a time, in offset order; a failure pauses the queue and retries the same messages. */
  async #consumeOrderly(pq: ProcessQueue): Promise<void> {
    while (this.#orderlyActive >= this.#opts.consumeConcurrency) await new Promise<void>((r) => this.#orderlyWaiting.push(r));
    this.#orderlyActive++;
    try {
      const listener = this.#listener!.fn as MessageListenerOrderly;
      while (!pq.dropped && this.#running) {
        if (!this.#lockValid(pq)) {
          await this.#sleep(Math.min(1000, this.#opts.lockIntervalMs));
          if (!this.#lockValid(pq)) return; // the pull loop re-locks; arrivals kick us again
          continue;
        }
        const msgs = pq.take(this.#opts.consumeMessageBatchMaxSize);
        if (msgs.length === 0) return;
        let status: ConsumeOrderlyStatus;
        try {
          status = (await listener(msgs, { mq: pq.mq })) ?? "SUCCESS";
          if (status !== "SUCCESS" && status !== "SUSPEND_CURRENT_QUEUE_A_MOMENT") status = "SUSPEND_CURRENT_QUEUE_A_MOMENT";
        } catch (err) {
          this.#log.warn(`orderly listener threw on ${queueKeyOf(pq.mq)}: ${(err as Error).message}`);
          status = "SUSPEND_CURRENT_QUEUE_A_MOMENT";
        }
        if (status === "SUCCESS") {
          this.#stats.consumed += msgs.length;
          // Committed even when the queue was dropped meanwhile: the drop waits for this call
          // and stores this offset before it releases the lock.
          this.#offsets.update(pq.mq, pq.commit(), false);
          continue;
        }
        this.#stats.failed += msgs.length;
        if (this.#opts.messageModel === "CLUSTERING" && msgs.some((m) => m.reconsumeTimes >= this.#maxReconsumeTimes)) {
          // Retried as often as allowed: to the dead-letter queue, and the queue moves on.
          let all = true;
          for (const m of msgs) all = await this.#sendBack(m, -1) && all;
          if (all) {
            this.#offsets.update(pq.mq, pq.commit(), false);
            continue;
          }
        } else {
          for (const m of msgs) m.reconsumeTimes++;
        }
        pq.putBack();
        await this.#sleep(this.#opts.suspendCurrentQueueTimeMillis);
      }
    } finally {
      this.#orderlyActive--;
      this.#orderlyWaiting.shift()?.();
    }
  }
}

/** Queues grouped by broker (Map.groupBy is not in Node 20). */
function byBrokerName(mqs: MessageQueue[]): Map<string, MessageQueue[]> {
  const out = new Map<string, MessageQueue[]>();
  for (const mq of mqs) {
    const list = out.get(mq.brokerName);
    if (list) list.push(mq);
    else out.set(mq.brokerName, [mq]);
  }
  return out;
}

function checkOptions(o: Options): void {
  const positive: (keyof Options)[] = [
    "pullBatchSize", "consumeMessageBatchMaxSize", "consumeConcurrency", "pullThresholdForQueue", "pullThresholdSizeForQueueMiB",
    "consumeConcurrentlyMaxSpan", "persistConsumerOffsetIntervalMs", "heartbeatBrokerIntervalMs", "rebalanceIntervalMs",
    "lockIntervalMs", "lockMaxLiveTimeMs", "timeoutMs",
  ];
  for (const k of positive) {
    const v = o[k] as number;
    if (!Number.isFinite(v) || v <= 0) throw new InvalidParameterError(`PushConsumer option ${k} must be a positive number, got ${v}`);
  }
  if (o.pullBatchSize > 1024) throw new InvalidParameterError(`pullBatchSize ${o.pullBatchSize} is above 1024`);
  if (o.consumeMessageBatchMaxSize > 1024) throw new InvalidParameterError(`consumeMessageBatchMaxSize ${o.consumeMessageBatchMaxSize} is above 1024`);
  if (o.consumeConcurrency > 1024) throw new InvalidParameterError(`consumeConcurrency ${o.consumeConcurrency} is above 1024`);
  if (o.maxReconsumeTimes !== undefined && (!Number.isInteger(o.maxReconsumeTimes) || o.maxReconsumeTimes < 0)) {
    throw new InvalidParameterError(`maxReconsumeTimes must be a non-negative integer, got ${o.maxReconsumeTimes}`);
  }
  if (!["CLUSTERING", "BROADCASTING"].includes(o.messageModel)) throw new InvalidParameterError(`messageModel must be CLUSTERING or BROADCASTING, got ${o.messageModel}`);
  if (!["first", "last", "timestamp"].includes(o.consumeFromWhere)) throw new InvalidParameterError(`consumeFromWhere must be first, last or timestamp, got ${o.consumeFromWhere}`);
}
