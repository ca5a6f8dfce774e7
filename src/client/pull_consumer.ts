import { BolideError, errorFromResponse, InvalidParameterError, RemotingError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { validateGroup, validateTopic } from "../common/names.ts";
import { compileSql92 } from "../common/sql92_filter.ts";
import { ResponseCode } from "../common/response_code.ts";
import { Perm, readAddr } from "../common/route.ts";
import {
  OffsetResponseHeader,
  QueryConsumerOffsetRequestHeader,
  QueueRequestHeader,
  SearchOffsetRequestHeader,
  UpdateConsumerOffsetRequestHeader,
} from "../protocol/headers/consumer_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { type MessageExt, type MessageQueue, queueKeyOf } from "./message.ts";
import { ClientInstance } from "./client_instance.ts";
import { type PullRequest, pullRequest, readPullResult } from "./pull_api.ts";
import type { NameServerClient } from "./name_server_client.ts";

export interface PullConsumerOptions {
  namesrvAddr: string | string[];
  group: string;
  /** Where a queue with no committed offset starts: its first or its next new message. */
  consumeFromWhere?: "first" | "last";
  /** How long a pull is held on the broker waiting for messages. */
  brokerSuspendMaxTimeMs?: number;
  pullBatchSize?: number;
  timeoutMs?: number;
  /** Clients with the same NameServers and instance name share connections. */
  instanceName?: string;
}

interface QueueState {
  mq: MessageQueue;
  /** Next offset to pull. */
  next: number | undefined;
  /** Offset after the last message handed to the user (what commit() stores). */
  consumed: number | undefined;
  buffered: MessageExt[];
  inFlight: Promise<void> | undefined;
  /** Why the broker refused this queue's last pull; the next poll throws it (and pulls again after). */
  error: BolideError | undefined;
  tags: Set<string> | undefined;
  expression: string;
  type: "TAG" | "SQL92";
  /** The pull in flight: where it went and by when a live broker answers it (its hold, and then some). */
  pulling?: { addr: string; dueAt: number };
  /** Why the last pull got no answer (the connection failed or it timed out), cleared by an answer. */
  unanswered?: { addr: string; reason: string };
}

/**
 * A pull consumer: you choose the queues (`subscribe` takes them all, `assign` some), `poll()`
 * returns what arrived, and offsets are yours to `seek` and `commit` (kept on the broker).
 * Each queue has at most one pull in flight, held on the broker by long polling, and at most one
 * pull's worth of messages buffered, so memory stays bounded.
 */
export class PullConsumer {
  readonly group: string;
  readonly #instance: ClientInstance;
  readonly #remoting: RemotingClient;
  readonly #namesrv: NameServerClient;
  readonly #opts: Required<Omit<PullConsumerOptions, "namesrvAddr" | "group" | "instanceName">>;
  readonly #queues = new Map<string, QueueState>();
  readonly #brokerAddrs = new Map<string, string>();
  #wake: (() => void) | undefined;
  #closed = false;
  #rr = 0;

  constructor(opts: PullConsumerOptions) {
    validateGroup(opts.group);
    this.group = opts.group;
    this.#instance = ClientInstance.acquire({ namesrvAddr: opts.namesrvAddr, instanceName: opts.instanceName, timeoutMs: opts.timeoutMs });
    this.#remoting = this.#instance.remoting;
    this.#namesrv = this.#instance.namesrv;
    this.#opts = {
      consumeFromWhere: opts.consumeFromWhere ?? "last",
      brokerSuspendMaxTimeMs: opts.brokerSuspendMaxTimeMs ?? 15_000,
      pullBatchSize: opts.pullBatchSize ?? 32,
      timeoutMs: opts.timeoutMs ?? Limits.defaultInvokeTimeoutMs,
    };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Every readable queue of `topic`, filtered by a tag expression ("*", "A || B"), or with
   * `type` "SQL92" by a property expression evaluated on the broker ("a > 5 AND region = 'eu'").
   * A bad SQL92 expression throws SubscriptionParseError here, before anything is pulled.
   */
  async subscribe(topic: string, expression = "*", type: "TAG" | "SQL92" = "TAG"): Promise<MessageQueue[]> {
    if (type === "SQL92") compileSql92(expression);
    const queues = await this.queuesOf(topic);
    await this.assign(queues, expression, type);
    return queues;
  }

  async queuesOf(topic: string): Promise<MessageQueue[]> {
    validateTopic(topic);
    const route = await this.#namesrv.getRoute(topic);
    const out: MessageQueue[] = [];
    for (const b of route.brokerDatas) {
      const addr = readAddr(b);
      if (addr) this.#brokerAddrs.set(b.brokerName, addr);
    }
    for (const q of route.queueDatas) {
      if ((q.perm & Perm.READ) === 0) continue;
      for (let i = 0; i < q.readQueueNums; i++) out.push({ topic, brokerName: q.brokerName, queueId: i });
    }
    return out;
  }

  async assign(queues: MessageQueue[], expression = "*", type: "TAG" | "SQL92" = "TAG"): Promise<void> {
    if (type === "SQL92") compileSql92(expression);
    const tags = type === "SQL92" || expression.trim() === "*" || expression.trim() === ""
      ? undefined
      : new Set(expression.split("||").map((t) => t.trim()).filter(Boolean));
    for (const mq of queues) {
      if (!this.#brokerAddrs.has(mq.brokerName)) await this.queuesOf(mq.topic);
      const key = queueKeyOf(mq);
      if (!this.#queues.has(key)) this.#queues.set(key, { mq, next: undefined, consumed: undefined, buffered: [], inFlight: undefined, error: undefined, tags, expression, type });
    }
  }

  assignment(): MessageQueue[] {
    return [...this.#queues.values()].map((q) => q.mq);
  }

  /** Moves a queue's position: the next poll returns messages from `offset`. */
  seek(mq: MessageQueue, offset: number): void {
    const q = this.#state(mq);
    q.next = offset;
    q.consumed = offset;
    q.buffered = [];
  }

  /** Returns up to `maxMessages` messages, waiting up to `timeoutMs` for some to arrive. */
  async poll(timeoutMs = 1000, maxMessages = 32): Promise<MessageExt[]> {
    if (this.#queues.size === 0) throw new InvalidParameterError("Nothing to poll: subscribe or assign queues first");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = this.#drain(maxMessages);
      if (out.length > 0) return out;
      this.#throwRefusal();
      for (const q of this.#queues.values()) if (!q.inFlight) q.inFlight = this.#pull(q, Math.max(0, deadline - Date.now()));
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#closed) return [];
    }
  }

  /** Stores the consumed position of every assigned queue on its broker. */
  async commit(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.consumed === undefined ? undefined : this.commitOffset(q.mq, q.consumed)));
  }

  async commitOffset(mq: MessageQueue, offset: number): Promise<void> {
    const resp = await this.#remoting.invoke(this.#addr(mq), createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader.encode({
      consumerGroup: this.group, topic: mq.topic, queueId: mq.queueId, commitOffset: offset,
    })), this.#opts.timeoutMs);
    this.#check(resp.code, resp.remark, "UPDATE_CONSUMER_OFFSET");
  }

  /** The offset committed for a queue, or undefined if none. */
  async committed(mq: MessageQueue): Promise<number | undefined> {
    const resp = await this.#remoting.invoke(this.#addr(mq), createRequest(RequestCode.QUERY_CONSUMER_OFFSET, QueryConsumerOffsetRequestHeader.encode({
      consumerGroup: this.group, topic: mq.topic, queueId: mq.queueId, setZeroIfNotFound: false,
    })), this.#opts.timeoutMs);
    if (resp.code === ResponseCode.QUERY_NOT_FOUND) return undefined;
    this.#check(resp.code, resp.remark, "QUERY_CONSUMER_OFFSET");
    return OffsetResponseHeader.decode(resp).offset;
  }

  maxOffset(mq: MessageQueue): Promise<number> {
    return this.#offsetQuery(RequestCode.GET_MAX_OFFSET, mq);
  }

  minOffset(mq: MessageQueue): Promise<number> {
    return this.#offsetQuery(RequestCode.GET_MIN_OFFSET, mq);
  }

  async offsetForTimestamp(mq: MessageQueue, timestamp: number): Promise<number> {
    const req = SearchOffsetRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId, timestamp });
    const resp = await this.#remoting.invoke(this.#addr(mq), createRequest(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, req), this.#opts.timeoutMs);
    this.#check(resp.code, resp.remark, "SEARCH_OFFSET_BY_TIMESTAMP");
    return OffsetResponseHeader.decode(resp).offset;
  }

  /** Stops polling; pulls it holds on brokers end at once (its connections may serve other clients). */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    await this.#instance.unregister("consumer", this.group, this.#brokerAddrs.values());
    this.#instance.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #offsetQuery(code: number, mq: MessageQueue): Promise<number> {
    const req = QueueRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId });
    const resp = await this.#remoting.invoke(this.#addr(mq), createRequest(code, req), this.#opts.timeoutMs);
    this.#check(resp.code, resp.remark, requestCodeName(code));
    return OffsetResponseHeader.decode(resp).offset;
  }

  #drain(max: number): MessageExt[] {
    const out: MessageExt[] = [];
    const states = [...this.#queues.values()];
    for (let i = 0; i < states.length && out.length < max; i++) {
      const q = states[(this.#rr + i) % states.length];
      while (q.buffered.length > 0 && out.length < max) {
        const m = q.buffered.shift()!;
        out.push(m);
        q.consumed = m.queueOffset + 1;
      }
    }
    this.#rr++;
    return out;
  }

  async #start(q: QueueState): Promise<number> {
    if (q.next !== undefined) return q.next;
    const committed = await this.committed(q.mq);
    q.next = committed ?? (this.#opts.consumeFromWhere === "first" ? await this.minOffset(q.mq) : await this.maxOffset(q.mq));
    q.consumed ??= q.next;
    return q.next;
  }

  async #pull(q: QueueState, holdMs: number): Promise<void> {
    try {
      q.pulling = { addr: this.#addr(q.mq), dueAt: Date.now() }; // the offset lookup first, if any
      const offset = await this.#start(q);
      const suspend = Math.min(holdMs, this.#opts.brokerSuspendMaxTimeMs);
      const addr = this.#addr(q.mq);
      const req: PullRequest = {
        group: this.group,
        mq: q.mq,
        offset,
        maxMsgNums: this.#opts.pullBatchSize,
        expression: q.expression,
        type: q.type,
        tags: q.tags,
        suspendMs: suspend,
      };
      const call = pullRequest(req, this.#opts.timeoutMs);
      q.pulling = { addr, dueAt: Date.now() + suspend };
      const r = readPullResult(await this.#remoting.invoke(addr, call.command, call.waitMs), req, addr);
      q.unanswered = undefined;
      if (q.next !== offset) return; // a seek happened meanwhile: this answer is stale
      if (r.status === "NO_NEW_MSG") return;
      q.buffered.push(...r.messages);
      q.next = r.nextBeginOffset;
      if (q.buffered.length === 0) q.consumed = r.nextBeginOffset;
    } catch (err) {
      // The broker may be down or restarting: the next poll pulls again (from the same offset).
      // A refusal (no permission, no such topic, a bad filter) is the caller's to hear of, not
      // to retry blindly; so is anything else (a queue with no known broker).
      if (!(err instanceof RemotingError)) q.error = err instanceof BolideError ? err : new BolideError(ResponseCode.SYSTEM_ERROR, String(err), { cause: err });
      else {
        if (q.pulling) q.unanswered = { addr: q.pulling.addr, reason: (err as Error).message };
        await new Promise((r) => setTimeout(r, Math.min(100, holdMs)));
      }
    } finally {
      q.pulling = undefined;
      q.inFlight = undefined;
      this.#wake?.();
    }
  }

  /**
   * Brokers that do not answer: the last request for a queue there (its offset lookup or its
   * pull) failed to connect or timed out, or one has gone `graceMs` past when a live broker
   * answers it (a pull's hold; a stopped process keeps its socket open and says nothing).
   */
  unansweredBrokers(graceMs = 1_000): { addr: string; reason: string }[] {
    const out = new Map<string, string>();
    const now = Date.now();
    for (const q of this.#queues.values()) {
      if (q.unanswered) out.set(q.unanswered.addr, q.unanswered.reason);
      else if (q.pulling && now >= q.pulling.dueAt + graceMs) out.set(q.pulling.addr, `no answer ${now - q.pulling.dueAt} ms after it was due`);
    }
    return [...out].map(([addr, reason]) => ({ addr, reason }));
  }

  /** Throws (once) the first refusal a queue's pull got, so it is reported rather than retried forever. */
  #throwRefusal(): void {
    for (const q of this.#queues.values()) {
      const err = q.error;
      if (!err) continue;
      q.error = undefined;
      throw err;
    }
  }

  #state(mq: MessageQueue): QueueState {
    const q = this.#queues.get(queueKeyOf(mq));
    if (!q) throw new InvalidParameterError(`Queue ${queueKeyOf(mq)} is not assigned to this consumer`);
    return q;
  }

  #addr(mq: MessageQueue): string {
    const a = this.#brokerAddrs.get(mq.brokerName);
    if (!a) throw new InvalidParameterError(`No address known for broker ${mq.brokerName}: subscribe or assign first`);
    return a;
  }

  #check(code: number, remark: string | undefined, what: string): void {
    if (code !== ResponseCode.SUCCESS) throw errorFromResponse(code, remark, what);
  }
}
