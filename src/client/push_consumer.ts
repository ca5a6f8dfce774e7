import { InvalidParameterError, RemotingError } from "../common/errors.ts";
import { Limits, MiB, PushConsumerDefaults } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { MessageProperty } from "../common/message.ts";
import { RETRY_GROUP_TOPIC_PREFIX, validateGroup, validateTopic } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { compileSql92 } from "../common/sql92_filter.ts";
import { env } from "../platform/runtime.ts";
import { UpdateConsumerOffsetRequestHeader } from "../protocol/headers/consumer_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { allocateAveragely } from "./allocate_message_queue.ts";
import { decodeMessages, type MessageExt, type MessageQueue, queueKeyOf } from "./message.ts";
import { ClientInstance, type ConsumerMember } from "./client_instance.ts";
import { ConsumeMessageService } from "./consume_message_service.ts";
import { QueueLockService } from "./queue_lock_service.ts";
import { RebalanceService } from "./rebalance_service.ts";
import {
  ABANDONED,
  type ConsumeConcurrentlyStatus,
  type Listener,
  type MessageListenerConcurrently,
  type MessageListenerOrderly,
  type Options,
  type PushConsumerOptions,
  type PushConsumerStats,
  type Subscription,
} from "./push_consumer_types.ts";

export type {
  ConsumeConcurrentlyStatus,
  ConsumeContext,
  ConsumeOrderlyStatus,
  MessageListenerConcurrently,
  MessageListenerOrderly,
  PushConsumerOptions,
  PushConsumerStats,
} from "./push_consumer_types.ts";
import { type PullRequest, pullRequest, type PullResult, readPullResult } from "./pull_api.ts";
import type { NameServerClient } from "./name_server_client.ts";
import { LocalOffsetFile, OffsetTable } from "./offset_store.ts";
import { ProcessQueue } from "./process_queue.ts";
import { ConsumeStatusRecorder } from "./consume_status.ts";
import { runningInfoOf } from "./consumer_running_info.ts";


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
  readonly #rebalance: RebalanceService;
  readonly #locks: QueueLockService;
  readonly #consume: ConsumeMessageService;
  #stats = { pulls: 0, flowControlPauses: 0, consumed: 0, failed: 0, sentBack: 0, rebalances: 0 };
  readonly #status = new ConsumeStatusRecorder();
  readonly #startedAt = Date.now();
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
    this.#locks = new QueueLockService(this.#remoting, this.group, this.clientId, this.#brokerAddrs, this.#pqs, o, this.#log);
    const running = () => this.#running;
    const listener = () => this.#listener!;
    this.#consume = new ConsumeMessageService({
      get running() {
        return running();
      },
      get listener() {
        return listener();
      },
      // Unset, the broker applies the group's retryMaxTimes (16 unless an operator changed it).
      maxReconsumeTimes: o.maxReconsumeTimes,
      stats: this.#stats,
      status: this.#status,
      offsets: this.#offsets,
      brokerAddrs: this.#brokerAddrs,
      lockValid: (pq) => this.#locks.lockValid(pq),
      sleep: (ms) => this.#sleep(ms),
    }, this.#remoting, this.group, o, this.#log);
    const localLoaded = () => this.#localLoaded;
    this.#rebalance = new RebalanceService({
      group: this.group,
      clientId: this.clientId,
      get running() {
        return running();
      },
      get orderly() {
        return listener().orderly;
      },
      get localLoaded() {
        return localLoaded();
      },
      stats: this.#stats,
      subs: this.#subs,
      pqs: this.#pqs,
      brokerAddrs: this.#brokerAddrs,
      replicaAddrs: this.#replicaAddrs,
      offsets: this.#offsets,
      locks: this.#locks,
      heartbeat: () => this.#heartbeat(),
      persistOffsets: (mqs) => this.persistOffsets(mqs),
      startPulling: (pq) => void this.#pullLoop(pq),
    }, this.#namesrv, this.#remoting, o, this.#log);
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
      runningInfo: () => runningInfoOf({
        options: { ...this.#opts, consumeType: "CONSUME_PASSIVELY", startedAt: this.#startedAt, orderly: this.#listener?.orderly ?? false },
        subscriptions: [...this.#subs.values()].map((s) => ({ topic: s.topic, subString: s.expression, expressionType: s.type })),
        queues: [...this.#pqs.values()],
        committed: (mq) => this.#offsets.get(mq),
        status: this.#status,
      }),
      consumeDirectly: (record, brokerName) => {
        const [m] = decodeMessages(record, brokerName, Limits.maxMessageSize);
        if (!m) return Promise.reject(new InvalidParameterError("CONSUME_MESSAGE_DIRECTLY: the body is not a message record"));
        const original = m.properties[MessageProperty.RETRY_TOPIC];
        if (original && m.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) m.topic = original; // as a pull shows it
        return this.#consume.consumeDirectly(m);
      },
      resetOffsets: (topic, offsets) => this.#running ? this.#rebalance.resetOffsets(offsets.filter((e) => e.mq.topic === topic)) : Promise.resolve(),
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
      this.#timers.push(setInterval(() => void this.#locks.relockAll(), o.lockIntervalMs));
    }
    await this.rebalance();
  }

  /** Recomputes this member's queues now (it also runs on a timer and when the group changes). */
  rebalance(): Promise<void> {
    return this.#rebalance.rebalance();
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
    this.#rebalance.stop();
    for (const wake of [...this.#sleepers]) wake();
    for (const f of this.#onStop) f();
    this.#consume.clear();
    const deadline = Date.now() + this.#opts.shutdownGraceMs;
    while (this.#consume.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const pqs = [...this.#pqs.values()];
    for (const pq of pqs) pq.dropped = true;
    await this.persistOffsets();
    if (this.#listener?.orderly && this.#opts.messageModel === "CLUSTERING") await this.#locks.unlock(pqs.map((pq) => pq.mq));
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

  // ---- membership and rebalancing -----------------------------------------------------------

  /** The instance's heartbeat, after learning the brokers of the subscribed topics if none is known yet. */
  async #heartbeat(): Promise<void> {
    if (this.#brokerAddrs.size === 0) {
      for (const topic of this.#subs.keys()) await this.#rebalance.queuesOf(topic).catch(() => {});
    }
    await this.#instance.heartbeat();
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
      if (this.#listener!.orderly && !this.#locks.lockValid(pq)) {
        await this.#locks.lock([pq.mq]);
        if (!this.#locks.lockValid(pq)) await this.#sleep(o.pullDelayWhenExceptionMs);
        continue;
      }
      const sub = this.#subs.get(pq.mq.topic);
      if (!sub) return;
      const offset = pq.nextOffset;
      const commitOffset = this.#localOffsets ? undefined : this.#offsets.get(pq.mq);
      let r: PullResult;
      try {
        this.#stats.pulls++;
        const addr = this.#pullAddr(pq);
        const req: PullRequest = {
          group: this.group,
          mq: pq.mq,
          offset,
          maxMsgNums: o.pullBatchSize,
          expression: sub.expression,
          type: sub.type,
          tags: sub.tags,
          suspendMs: o.brokerSuspendMaxTimeMs,
          commitOffset,
        };
        const call = pullRequest(req, o.timeoutMs);
        const began = Date.now();
        r = readPullResult(await this.#remoting.invoke(addr, call.command, call.waitMs), req, addr);
        pq.lastPullAt = Date.now();
        pq.refusedWith = undefined;
        // A held pull's wait is not its round trip: only pulls that found messages are timed.
        if (r.messages.length > 0) this.#status.pulled(pq.mq.topic, r.messages.length, pq.lastPullAt - began);
      } catch (err) {
        if (pq.dropped || !this.#running) return;
        if (err instanceof RemotingError || err instanceof InvalidParameterError) {
          pq.pullFromBrokerId = 0; // the suggested replica may be gone: back to the group's reader
          this.#log.warn(`pull of ${queueKeyOf(pq.mq)} failed: ${(err as Error).message}`);
          this.#rebalance.rebalanceSoonAfterFailure(); // the broker may be gone: its slave may serve this queue
        } else if (pq.refusedWith !== (err as Error).message) {
          // E.g. the group may not consume (consumeEnable=false): said once, retried quietly.
          pq.refusedWith = (err as Error).message;
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
        if (added.length > 0) this.#consume.submit(pq, added);
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
