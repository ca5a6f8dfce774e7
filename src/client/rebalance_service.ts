import { errorFromResponse, InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { RETRY_GROUP_TOPIC_PREFIX } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { Perm, readAddr } from "../common/route.ts";
import { ConsumerListBody } from "../protocol/bodies/client_bodies.ts";
import {
  ConsumerGroupRequestHeader,
  OffsetResponseHeader,
  QueryConsumerOffsetRequestHeader,
  QueueRequestHeader,
  SearchOffsetRequestHeader,
} from "../protocol/headers/consumer_header.ts";
import { createRequest, type ExtFields, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import type { RemotingClient } from "../remoting/remoting_client.ts";
import type { AllocateStrategy } from "./allocate_message_queue.ts";
import { type MessageQueue, queueKeyOf } from "./message.ts";
import type { NameServerClient } from "./name_server_client.ts";
import type { OffsetTable } from "./offset_store.ts";
import { ProcessQueue } from "./process_queue.ts";
import type { PushConsumerStats, Subscription } from "./push_consumer_types.ts";
import type { QueueLockService } from "./queue_lock_service.ts";

export interface RebalanceOptions {
  messageModel: "CLUSTERING" | "BROADCASTING";
  allocateStrategy: AllocateStrategy;
  rebalanceIntervalMs: number;
  consumeFromWhere: "first" | "last" | "timestamp";
  consumeTimestamp: number | undefined;
  timeoutMs: number;
}

/** What the rebalance service needs of its push consumer. */
export interface RebalanceHost {
  readonly group: string;
  readonly clientId: string;
  readonly running: boolean;
  readonly orderly: boolean;
  readonly stats: Pick<PushConsumerStats, "rebalances">;
  readonly subs: ReadonlyMap<string, Subscription>;
  readonly pqs: Map<string, ProcessQueue>;
  readonly brokerAddrs: Map<string, string>;
  readonly replicaAddrs: Map<string, Record<string, string>>;
  readonly offsets: OffsetTable;
  /** Broadcasting: the offsets read from the local file at start. */
  readonly localLoaded: Map<string, number> | undefined;
  readonly locks: QueueLockService;
  heartbeat(): Promise<void>;
  persistOffsets(only: MessageQueue[]): Promise<void>;
  /** Starts the pull loop of a queue just taken. */
  startPulling(pq: ProcessQueue): void;
}

/**
 * Which queues this member consumes (RocketMQ's RebalanceImpl): for each subscribed topic, the
 * route and the group's members from a broker, the allocation strategy, then queues dropped
 * (offsets stored, orderly locks released) and taken (from their stored offset, or where
 * consumeFromWhere says). Runs at start, on a timer, when the group changes, and within a second
 * after a failure.
 */
export class RebalanceService {
  #rebalancing: Promise<void> | undefined;
  #rebalanceAgain = false;
  /** Rebalances and offset resets take turns: neither sees the other's queues half changed. */
  #turn: Promise<void> = Promise.resolve();
  #soon: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: RebalanceHost,
    private readonly namesrv: NameServerClient,
    private readonly remoting: RemotingClient,
    private readonly opts: RebalanceOptions,
    private readonly log: Logger,
  ) {}

  /** Cancels a rebalance scheduled after a failure (shutdown). */
  stop(): void {
    clearTimeout(this.#soon);
  }

  /** Recomputes this member's queues now; one at a time, and once more if asked meanwhile. */
  rebalance(): Promise<void> {
    if (this.#rebalancing) {
      this.#rebalanceAgain = true;
      return this.#rebalancing;
    }
    this.#rebalancing = (async () => {
      do {
        this.#rebalanceAgain = false;
        try {
          await this.#inTurn(() => this.#rebalanceOnce());
        } catch (err) {
          this.log.warn(`rebalance of ${this.host.group} failed: ${(err as Error).message}`);
        }
      } while (this.#rebalanceAgain && this.host.running);
    })().finally(() => this.#rebalancing = undefined);
    return this.#rebalancing;
  }

  /**
   * RESET_CONSUMER_CLIENT_OFFSET: each queue of `offsets` this member holds starts again at its
   * new offset. The old process queue is dropped first (what it holds is not consumed, and a
   * call in progress commits nothing), then a fresh one pulls from the new offset, which is
   * stored at once so a commit sent before the reset cannot outlive it.
   */
  resetOffsets(offsets: { mq: MessageQueue; offset: number }[]): Promise<void> {
    return this.#inTurn(async () => {
      const moved: MessageQueue[] = [];
      for (const { mq, offset } of offsets) {
        const old = this.host.pqs.get(queueKeyOf(mq));
        if (!old) continue; // another member holds it and reads the broker's offset
        old.dropped = true;
        if (old.consuming) await old.consuming; // orderly: the call in progress ends first
        const pq = new ProcessQueue(old.mq);
        pq.nextOffset = offset;
        pq.locked = old.locked;
        pq.lastLockAt = old.lastLockAt;
        this.host.offsets.update(old.mq, offset, false);
        this.host.pqs.set(queueKeyOf(mq), pq);
        this.host.startPulling(pq);
        moved.push(old.mq);
      }
      if (moved.length > 0) {
        this.log.info(`${this.host.group}: ${moved.length} queue(s) of ${offsets[0].mq.topic} reset by an operator`);
        await this.host.persistOffsets(moved);
      }
    });
  }

  #inTurn(fn: () => Promise<void>): Promise<void> {
    const run = this.#turn.then(fn);
    this.#turn = run.catch(() => {});
    return run;
  }

  /** Readable queues of a topic from the NameServer; learns broker addresses on the way. */
  async queuesOf(topic: string): Promise<MessageQueue[]> {
    const route = await this.namesrv.getRoute(topic);
    let fresh = false;
    for (const b of route.brokerDatas) {
      const addr = readAddr(b);
      if (!addr) continue;
      this.host.replicaAddrs.set(b.brokerName, b.brokerAddrs);
      if (this.host.brokerAddrs.get(b.brokerName) !== addr) fresh = true;
      this.host.brokerAddrs.set(b.brokerName, addr);
    }
    if (fresh && this.host.running) await this.host.heartbeat();
    const out: MessageQueue[] = [];
    for (const q of route.queueDatas) {
      if ((q.perm & Perm.READ) === 0 || !this.host.brokerAddrs.has(q.brokerName)) continue;
      for (let i = 0; i < q.readQueueNums; i++) out.push({ topic, brokerName: q.brokerName, queueId: i });
    }
    return out;
  }

  /** The group's members, as one broker of the topic knows them. */
  async #consumerIds(queues: MessageQueue[]): Promise<string[] | undefined> {
    for (const brokerName of new Set(queues.map((q) => q.brokerName))) {
      const addr = this.host.brokerAddrs.get(brokerName);
      if (!addr) continue;
      try {
        const resp = await this.remoting.invoke(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, ConsumerGroupRequestHeader.encode({ consumerGroup: this.host.group })), this.opts.timeoutMs);
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
    this.host.stats.rebalances++;
    let retrySoon = false;
    for (const sub of [...this.host.subs.values()]) {
      if (!this.host.running) return;
      let all: MessageQueue[];
      try {
        all = await this.queuesOf(sub.topic);
      } catch {
        retrySoon = true; // the topic (a new retry topic, say) may not be routed yet
        continue;
      }
      let mine = all;
      if (this.opts.messageModel === "CLUSTERING") {
        const ids = await this.#consumerIds(all);
        if (!ids || !ids.includes(this.host.clientId)) {
          retrySoon = true; // our heartbeat has not reached the broker yet
          await this.host.heartbeat();
          continue;
        }
        mine = this.opts.allocateStrategy(this.host.clientId, ids, all);
      }
      const wanted = new Set(mine.map(queueKeyOf));
      const drops = [...this.host.pqs.values()].filter((pq) => pq.mq.topic === sub.topic && !wanted.has(queueKeyOf(pq.mq)));
      await Promise.all(drops.map((pq) => this.#drop(pq)));
      let fresh = mine.filter((mq) => !this.host.pqs.has(queueKeyOf(mq)));
      if (fresh.length > 0 && this.host.orderly && this.opts.messageModel === "CLUSTERING") {
        // Orderly: a queue is taken only once its broker lock is ours; its previous owner
        // releases the lock after storing its offset, so nothing is consumed out of order.
        const locked = await this.host.locks.lock(fresh);
        if (locked.size < fresh.length) retrySoon = true;
        fresh = fresh.filter((mq) => locked.has(queueKeyOf(mq)));
      }
      await Promise.all(fresh.map((mq) => this.#add(mq)));
    }
    if (retrySoon) this.rebalanceSoonAfterFailure();
  }

  /** One rebalance (with fresh routes) within a second, however many failures ask for it. */
  rebalanceSoonAfterFailure(): void {
    if (!this.host.running || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.rebalance();
    }, Math.min(1000, this.opts.rebalanceIntervalMs));
  }

  async #add(mq: MessageQueue): Promise<void> {
    let start: number;
    try {
      start = await this.#startOffset(mq);
    } catch (err) {
      this.log.warn(`no start offset for ${queueKeyOf(mq)}: ${(err as Error).message}`);
      return;
    }
    if (!this.host.running || this.host.pqs.has(queueKeyOf(mq))) return;
    const pq = new ProcessQueue(mq);
    pq.nextOffset = start;
    if (this.host.orderly && this.opts.messageModel === "CLUSTERING") {
      pq.locked = true;
      pq.lastLockAt = Date.now();
    }
    // Record where this member starts, so the next owner starts there too even if nothing is consumed.
    if (this.host.offsets.get(mq) === undefined) this.host.offsets.update(mq, start, false);
    this.host.pqs.set(queueKeyOf(mq), pq);
    this.host.startPulling(pq);
  }

  async #drop(pq: ProcessQueue): Promise<void> {
    pq.dropped = true;
    this.host.pqs.delete(queueKeyOf(pq.mq));
    // Orderly: the message being consumed finishes and its offset is committed before the lock goes.
    if (pq.consuming) await pq.consuming;
    await this.host.persistOffsets([pq.mq]);
    this.host.offsets.remove(pq.mq);
    if (this.host.orderly && this.opts.messageModel === "CLUSTERING") await this.host.locks.unlock([pq.mq]);
  }

  async #startOffset(mq: MessageQueue): Promise<number> {
    if (this.host.localLoaded) {
      const local = this.host.localLoaded.get(queueKeyOf(mq));
      if (local !== undefined) return local;
    } else {
      const req = QueryConsumerOffsetRequestHeader.encode({ consumerGroup: this.host.group, topic: mq.topic, queueId: mq.queueId, setZeroIfNotFound: false });
      const resp = await this.#brokerCall(mq, RequestCode.QUERY_CONSUMER_OFFSET, req);
      if (resp.code === ResponseCode.SUCCESS) return OffsetResponseHeader.decode(resp).offset;
      if (resp.code !== ResponseCode.QUERY_NOT_FOUND) throw errorFromResponse(resp.code, resp.remark, "QUERY_CONSUMER_OFFSET");
    }
    // No stored offset: consumeFromWhere decides (a retry queue always from its start).
    const where = mq.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) ? "first" : this.opts.consumeFromWhere;
    const queue = { topic: mq.topic, queueId: mq.queueId };
    const code = where === "first" ? RequestCode.GET_MIN_OFFSET : where === "last" ? RequestCode.GET_MAX_OFFSET : RequestCode.SEARCH_OFFSET_BY_TIMESTAMP;
    const resp = await this.#brokerCall(mq, code, code === RequestCode.SEARCH_OFFSET_BY_TIMESTAMP
      ? SearchOffsetRequestHeader.encode({ ...queue, timestamp: this.opts.consumeTimestamp ?? Date.now() - 30 * 60_000 })
      : QueueRequestHeader.encode(queue));
    if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, requestCodeName(code));
    return OffsetResponseHeader.decode(resp).offset;
  }

  #brokerCall(mq: MessageQueue, code: number, ext: ExtFields, timeoutMs = this.opts.timeoutMs, brokerId = 0): Promise<RemotingCommand> {
    // A pull goes where the broker last suggested, if that replica is in the route.
    const addr = (brokerId > 0 ? this.host.replicaAddrs.get(mq.brokerName)?.[String(brokerId)] : undefined) ?? this.host.brokerAddrs.get(mq.brokerName);
    if (!addr) return Promise.reject(new InvalidParameterError(`No address known for broker ${mq.brokerName}`));
    return this.remoting.invoke(addr, createRequest(code, ext), timeoutMs);
  }
}
