import {
  BolideError,
  errorFromResponse,
  InvalidParameterError,
  NoPermissionError,
  RemotingError,
  SendFailedError,
  ServiceNotAvailableError,
  TopicNotExistError,
} from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { encodePropertiesBytes, MessageProperty, type Properties, SysFlag, userProperties } from "../common/message.ts";
import { AUTO_CREATE_TOPIC_KEY_TOPIC, validateGroup, validateTopic } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { MASTER_ID, Perm, type TopicRouteData } from "../common/route.ts";
import { deflate } from "../platform/compress.ts";
import { encodeBatch } from "../protocol/message_batch.ts";
import { CancelDelayedMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader } from "../protocol/headers/send_message_header.ts";
import { CheckTransactionStateRequestHeader, EndTransactionRequestHeader } from "../protocol/headers/transaction_header.ts";
import { createRequest, type ExtFields, type RemotingCommand } from "../protocol/remoting_command.ts";
import { parseOffsetMsgId } from "../common/message_id.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { utf8 } from "../util/bytes.ts";
import { FAILURE_LATENCY_MS, LatencyFaultTolerance } from "./latency_fault_tolerance.ts";
import { decodeMessages, type Message, type MessageExt, type MessageQueue } from "./message.ts";
import { ClientInstance, type ProducerMember } from "./client_instance.ts";
import type { NameServerClient } from "./name_server_client.ts";
import { createUniqueId } from "./unique_id.ts";
import { noRouteMessage, type PublishInfo, publishInfoOf } from "./topic_publish_info.ts";

export interface ProducerOptions {
  namesrvAddr: string | string[];
  group: string;
  /** Budget for one send, all attempts included (RocketMQ sendMsgTimeout). */
  sendTimeoutMs?: number;
  /** Extra attempts on another broker for SYNC sends (RocketMQ retryTimesWhenSendFailed). */
  retryTimesWhenSendFailed?: number;
  retryTimesWhenSendAsyncFailed?: number;
  sendLatencyFaultEnable?: boolean;
  /** Bodies above this are ZLIB-compressed (RocketMQ compressMsgBodyOverHowmuch). */
  compressMsgBodyOverHowmuch?: number;
  maxMessageSize?: number;
  /** Queues of a topic created on first send. */
  defaultTopicQueueNums?: number;
  pollNameServerIntervalMs?: number;
  heartbeatBrokerIntervalMs?: number;
  /** Clients with the same NameServers and instance name share connections and heartbeats (one producer per group in each). */
  instanceName?: string;
}

/** What a local transaction decided; UNKNOWN leaves it to a later check-back. */
export type LocalTransactionState = "COMMIT" | "ROLLBACK" | "UNKNOWN";

export interface TransactionListener {
  /** Runs the local transaction for a half message just stored; `arg` is sendMessageInTransaction's. */
  executeLocalTransaction(message: Message, arg: unknown): LocalTransactionState | Promise<LocalTransactionState>;
  /** Asked by the broker about a half message still undecided after transactionTimeout. */
  checkLocalTransaction(message: MessageExt): LocalTransactionState | Promise<LocalTransactionState>;
}

export type TransactionSendResult = SendResult & { localTransactionState: LocalTransactionState };

function checkState(v: unknown): LocalTransactionState {
  if (v === "COMMIT" || v === "ROLLBACK" || v === "UNKNOWN") return v;
  throw new InvalidParameterError(`A transaction listener must answer COMMIT, ROLLBACK or UNKNOWN, got ${String(v)}`);
}

export type SendStatus = "SEND_OK" | "FLUSH_DISK_TIMEOUT" | "FLUSH_SLAVE_TIMEOUT" | "SLAVE_NOT_AVAILABLE";

export interface SendResult {
  status: SendStatus;
  /** The unique id (UNIQ_KEY); comma-joined for a batch. */
  msgId: string;
  offsetMsgId: string;
  messageQueue: MessageQueue;
  queueOffset: number;
}

export interface SendCallback {
  onSuccess(result: SendResult): void;
  onException(error: Error): void;
}

/** Picks the queue for a message: for ordering, the same key must always give the same queue. */
export type MessageQueueSelector<A = unknown> = (queues: MessageQueue[], message: Message, arg: A) => MessageQueue;

/** A built-in selector: hash of the argument (a business key) modulo the queue count. */
export const selectByHash: MessageQueueSelector<string | number> = (queues, _m, arg) => {
  const s = String(arg);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return queues[Math.abs(h) % queues.length];
};

interface PreparedMessage {
  topic: string;
  body: Uint8Array;
  properties: Uint8Array;
  flag: number;
  sysFlag: number;
  uniqId: string;
}

const RETRY_CODES: ReadonlySet<number> = new Set([
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.SYSTEM_ERROR,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.NO_PERMISSION,
  ResponseCode.GO_AWAY,
]);

/**
 * RocketMQ's producer: looks routes up on the NameServers, picks a queue (round robin, or a
 * selector for ordering), sends SYNC (promise), ASYNC (callback) or ONEWAY, retries on another
 * broker within the send timeout, and can avoid slow brokers.
 */
export class Producer {
  readonly group: string;
  readonly #opts: Required<Omit<ProducerOptions, "namesrvAddr" | "group" | "instanceName">>;
  readonly #instance: ClientInstance;
  readonly #remoting: RemotingClient;
  readonly #namesrv: NameServerClient;
  readonly #routes = new Map<string, PublishInfo>();
  /** The brokers each topic's last route named (kept when the route goes), to say they are gone. */
  readonly #servedBy = new Map<string, string[]>();
  readonly #faults = new LatencyFaultTolerance();
  #roundRobin = Math.floor(Math.random() * 1024);
  #timers: ReturnType<typeof setInterval>[] = [];
  #started = false;

  constructor(opts: ProducerOptions) {
    validateGroup(opts.group);
    this.group = opts.group;
    this.#opts = {
      sendTimeoutMs: opts.sendTimeoutMs ?? 3_000,
      retryTimesWhenSendFailed: opts.retryTimesWhenSendFailed ?? 2,
      retryTimesWhenSendAsyncFailed: opts.retryTimesWhenSendAsyncFailed ?? 2,
      sendLatencyFaultEnable: opts.sendLatencyFaultEnable ?? false,
      compressMsgBodyOverHowmuch: opts.compressMsgBodyOverHowmuch ?? 4096,
      maxMessageSize: opts.maxMessageSize ?? Limits.maxMessageSize,
      defaultTopicQueueNums: opts.defaultTopicQueueNums ?? 4,
      pollNameServerIntervalMs: opts.pollNameServerIntervalMs ?? 30_000,
      heartbeatBrokerIntervalMs: opts.heartbeatBrokerIntervalMs ?? 30_000,
    };
    this.#instance = ClientInstance.acquire({ namesrvAddr: opts.namesrvAddr, instanceName: opts.instanceName });
    this.#remoting = this.#instance.remoting;
    this.#namesrv = this.#instance.namesrv;
  }

  start(): Promise<void> {
    if (this.#started) return Promise.resolve();
    if (this.#closed) return Promise.reject(new InvalidParameterError(`Producer of ${this.group} was shut down; make a new one`));
    const member: ProducerMember = {
      group: this.group,
      brokers: () => this.#brokers(),
      checkTransaction: this.#checkTransaction && ((req) => this.#checkTransaction!(req)),
    };
    this.#instance.registerProducer(member, this.#opts.heartbeatBrokerIntervalMs);
    this.#member = member;
    this.#started = true;
    this.#timers.push(setInterval(() => void this.#refreshRoutes(), this.#opts.pollNameServerIntervalMs));
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    if (this.#started) await this.#instance.unregister("producer", this.group, this.#brokers(), this.#member);
    this.#started = false;
    this.#instance.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #closed = false;
  #member: ProducerMember | undefined;

  /** The brokers this producer talks to: masters of the topics it sent to (and all masters, for a transaction producer). */
  #brokers(): Set<string> {
    const brokers = new Set<string>(this.#extraBrokers);
    for (const r of this.#routes.values()) for (const a of r.brokerAddrs.values()) brokers.add(a);
    return brokers;
  }

  /** SYNC send; with a callback it is ASYNC (the promise resolves too). With a selector, the selector picks the queue. */
  send(message: Message, callback?: SendCallback): Promise<SendResult>;
  send<A>(message: Message, selector: MessageQueueSelector<A>, arg: A): Promise<SendResult>;
  send(message: Message, selectorOrCallback?: SendCallback | MessageQueueSelector<unknown>, arg?: unknown): Promise<SendResult> {
    if (typeof selectorOrCallback === "function") return this.#sendSelected(message, selectorOrCallback, arg);
    const p = this.#send(message, selectorOrCallback ? this.#opts.retryTimesWhenSendAsyncFailed : this.#opts.retryTimesWhenSendFailed);
    if (selectorOrCallback) {
      p.then((r) => selectorOrCallback.onSuccess(r), (e) => selectorOrCallback.onException(e));
      p.catch(() => {}); // the callback has it
    }
    return p;
  }

  /** Fire and forget: no answer, no retry. Resolves once the request is handed to the socket. */
  async sendOneway(message: Message): Promise<void> {
    const prepared = this.#prepare(message);
    const info = await this.#publishInfo(message.topic);
    const mq = this.#pickQueue(info, undefined);
    const req = this.#request(prepared, mq, info);
    req.flag |= 2;
    await this.#remoting.invokeOneway(info.brokerAddrs.get(mq.brokerName)!, req, this.#opts.sendTimeoutMs);
  }

  /** Sends messages of one topic as one request, to one queue. */
  async sendBatch(messages: Message[]): Promise<SendResult> {
    if (messages.length === 0) throw new InvalidParameterError("Batch is empty");
    const topic = messages[0].topic;
    if (messages.some((m) => m.topic !== topic)) throw new InvalidParameterError("A batch holds messages of one topic only");
    if (messages.some((m) => m.delayTimeLevel || m.deliverAt !== undefined || m.delayMs !== undefined)) {
      throw new InvalidParameterError("A batch cannot hold delayed or timer messages; send them one by one");
    }
    const prepared = messages.map((m) => this.#prepare(m, false));
    const body = encodeBatch(prepared.map((p) => ({ flag: p.flag, body: p.body, properties: p.properties })));
    if (body.byteLength > this.#opts.maxMessageSize) {
      throw new InvalidParameterError(`Batch is ${body.byteLength} bytes; at most ${this.#opts.maxMessageSize} allowed`);
    }
    const result = await this.#attempts(topic, this.#opts.retryTimesWhenSendFailed, (info, mq) => {
      const req = createRequest(RequestCode.SEND_BATCH_MESSAGE, this.#header(topic, mq, 0, 0, new Uint8Array(0), info), body);
      return req;
    });
    return { ...result, msgId: prepared.map((p) => p.uniqId).join(",") };
  }

  async #sendSelected(message: Message, selector: MessageQueueSelector<unknown>, arg: unknown): Promise<SendResult> {
    const prepared = this.#prepare(message);
    const info = await this.#publishInfo(message.topic);
    const mq = selector(info.queues, message, arg);
    if (!mq || !info.queues.some((q) => q.brokerName === mq.brokerName && q.queueId === mq.queueId)) {
      throw new InvalidParameterError(`The selector returned a queue that is not in the route of ${message.topic}`);
    }
    // Ordered sends stay on their queue: no retry elsewhere (RocketMQ does the same).
    const r = await this.#sendTo(info, mq, this.#request(prepared, mq, info), this.#opts.sendTimeoutMs);
    return { ...r, msgId: prepared.uniqId };
  }

  #send(message: Message, retries: number): Promise<SendResult> {
    let prepared: PreparedMessage;
    try {
      prepared = this.#prepare(message);
    } catch (err) {
      return Promise.reject(err);
    }
    const build = (info: PublishInfo, mq: MessageQueue) => this.#request(prepared, mq, info);
    const info = this.#routes.get(message.topic);
    const mq = info && this.#pickQueue(info, undefined);
    const addr = mq && info.brokerAddrs.get(mq.brokerName);
    if (!info || !mq || !addr) {
      return this.#attempts(message.topic, retries, build).then((r) => ({ ...r, msgId: prepared.uniqId }));
    }
    // The common case, a known route: one request, no async layers. A failure goes on to the
    // retry loop with what is left of the timeout, away from the broker that failed.
    const deadline = Date.now() + this.#opts.sendTimeoutMs;
    const started = Date.now();
    return this.#remoting.invoke(addr, build(info, mq), this.#opts.sendTimeoutMs).then((resp) => {
      const r = this.#result(addr, mq, resp);
      if (this.#opts.sendLatencyFaultEnable) this.#faults.update(mq.brokerName, Date.now() - started);
      r.msgId = prepared.uniqId;
      return r;
    }).catch((err) => {
      const failure = this.#failure(message.topic, mq, err);
      if (retries === 0) throw new SendFailedError(failure.code, message.topic, [failure.text]);
      return this.#attempts(message.topic, retries - 1, build, { deadline, lastBroker: mq.brokerName, failures: [failure.text], lastCode: failure.code })
        .then((r) => ({ ...r, msgId: prepared.uniqId }));
    });
  }

  /** Records a failed attempt; rethrows what no retry can fix. */
  #failure(topic: string, mq: MessageQueue, err: unknown): { code: number; text: string } {
    if (this.#opts.sendLatencyFaultEnable) this.#faults.update(mq.brokerName, FAILURE_LATENCY_MS);
    const code = (err as BolideError).code ?? ResponseCode.SYSTEM_ERROR;
    if (!(err instanceof RemotingError) && !RETRY_CODES.has(code)) throw err;
    this.#routes.delete(topic); // the route may be stale: look it up again
    return { code, text: `${mq.brokerName}: ${(err as Error).message}` };
  }

  async #attempts(
    topic: string,
    retries: number,
    build: (info: PublishInfo, mq: MessageQueue) => RemotingCommand,
    state: { deadline: number; lastBroker: string | undefined; failures: string[]; lastCode: number } = {
      deadline: Date.now() + this.#opts.sendTimeoutMs,
      lastBroker: undefined,
      failures: [],
      lastCode: ResponseCode.SYSTEM_ERROR,
    },
  ): Promise<SendResult> {
    const { deadline, failures } = state;
    let lastBroker = state.lastBroker;
    let lastCode = state.lastCode;
    for (let attempt = 0; attempt <= retries; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) {
        failures.push(`send timeout of ${this.#opts.sendTimeoutMs} ms used up`);
        break;
      }
      const info = (attempt === 0 && failures.length === 0 ? this.#routes.get(topic) : undefined) ??
        await this.#publishInfo(topic, attempt > 0 || failures.length > 0);
      const mq = this.#pickQueue(info, lastBroker);
      lastBroker = mq.brokerName;
      const started = Date.now();
      try {
        const result = await this.#sendTo(info, mq, build(info, mq), left);
        if (this.#opts.sendLatencyFaultEnable) this.#faults.update(mq.brokerName, Date.now() - started);
        return result;
      } catch (err) {
        const f = this.#failure(topic, mq, err);
        lastCode = f.code;
        failures.push(f.text);
      }
    }
    throw new SendFailedError(lastCode, topic, failures);
  }

  async #sendTo(info: PublishInfo, mq: MessageQueue, req: RemotingCommand, timeoutMs: number): Promise<SendResult> {
    const addr = info.brokerAddrs.get(mq.brokerName);
    if (!addr) throw new ServiceNotAvailableError(`broker ${mq.brokerName} has no master address in the route`);
    return this.#result(addr, mq, await this.#remoting.invoke(addr, req, timeoutMs));
  }

  /** A send answer as a SendResult; codes that are not a kind of success throw with the broker's remark. */
  #result(addr: string, mq: MessageQueue, resp: RemotingCommand): SendResult {
    const status: SendStatus | undefined = resp.code === ResponseCode.SUCCESS
      ? "SEND_OK"
      : resp.code === ResponseCode.FLUSH_DISK_TIMEOUT
      ? "FLUSH_DISK_TIMEOUT"
      : resp.code === ResponseCode.FLUSH_SLAVE_TIMEOUT
      ? "FLUSH_SLAVE_TIMEOUT"
      : resp.code === ResponseCode.SLAVE_NOT_AVAILABLE
      ? "SLAVE_NOT_AVAILABLE"
      : undefined;
    if (!status) throw errorFromResponse(resp.code, resp.remark, `send to ${mq.topic}`, addr);
    const h = SendMessageResponseHeader.decode(resp);
    return {
      status,
      msgId: "",
      offsetMsgId: h.msgId,
      messageQueue: { topic: mq.topic, brokerName: mq.brokerName, queueId: h.queueId },
      queueOffset: h.queueOffset,
    };
  }

  #prepare(m: Message, compress = true, transactional = false): PreparedMessage {
    validateTopic(m.topic);
    let body = typeof m.body === "string" ? utf8(m.body) : m.body;
    if (!(body instanceof Uint8Array) || body.byteLength === 0) throw new InvalidParameterError("Message body is empty");
    if (body.byteLength > this.#opts.maxMessageSize) {
      throw new InvalidParameterError(`Message body is ${body.byteLength} bytes; at most ${this.#opts.maxMessageSize} allowed`);
    }
    let sysFlag = 0;
    if (compress && body.byteLength > this.#opts.compressMsgBodyOverHowmuch) {
      // Only a smaller form is sent: random bytes deflate to more than they were, and a body
      // of exactly maxMessageSize must stay sendable.
      const deflated = deflate(body, 5);
      if (deflated.byteLength < body.byteLength) {
        body = deflated;
        sysFlag |= SysFlag.COMPRESSED;
      }
    }
    const props: Properties = userProperties(m.properties);
    const uniqId = createUniqueId();
    if (m.tags) props[MessageProperty.TAGS] = m.tags;
    const keys = Array.isArray(m.keys) ? m.keys.join(" ") : m.keys;
    if (keys) props[MessageProperty.KEYS] = keys;
    props[MessageProperty.UNIQ_KEY] = uniqId;
    props[MessageProperty.WAIT_STORE_MSG_OK] = "true";
    delayProperties(m, props);
    if (transactional) {
      props[MessageProperty.TRANSACTION_PREPARED] = "true";
      props[MessageProperty.PRODUCER_GROUP] = this.group;
      sysFlag |= SysFlag.TRANSACTION_PREPARED_TYPE;
    }
    // Properties travel as UTF-8 bytes: the broker writes them into the record as they are.
    return { body, properties: encodePropertiesBytes(props), flag: m.flag ?? 0, sysFlag, uniqId, topic: m.topic };
  }

  /**
   * Cancels a delayed or timer message sent to `topic` (by the `msgId` its send returned) while
   * it is still pending. Returns false when no broker of the topic holds it pending: it was
   * delivered already, cancelled before, or the id is unknown.
   */
  async cancelDelayed(topic: string, msgId: string): Promise<boolean> {
    validateTopic(topic);
    if (!/^[0-9A-F]{32}$/i.test(msgId)) throw new InvalidParameterError(`"${String(msgId).slice(0, 40)}" is not a message id (32 hex digits)`);
    const route = await this.#namesrv.getRoute(topic);
    let cancelled = false;
    for (const b of route.brokerDatas) {
      const addr = b.brokerAddrs[String(MASTER_ID)];
      if (!addr) continue;
      const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.CANCEL_DELAYED_MESSAGE, CancelDelayedMessageRequestHeader.encode({ topic, uniqKey: msgId.toUpperCase() })), this.#opts.sendTimeoutMs);
      if (resp.code === ResponseCode.SUCCESS) cancelled = true;
      else if (resp.code !== ResponseCode.QUERY_NOT_FOUND) throw errorFromResponse(resp.code, resp.remark, "CANCEL_DELAYED_MESSAGE", addr);
    }
    return cancelled;
  }

  // ---- transactions (used by TransactionProducer) ---------------------------------------------

  /**
   * Sends `message` as a half message (invisible to consumers), runs the local transaction,
   * then tells the broker to commit or roll back. An UNKNOWN outcome, a throw, or a lost
   * END_TRANSACTION leave the decision to the broker's check-back.
   */
  protected async sendInTransaction(message: Message, arg: unknown, listener: TransactionListener): Promise<TransactionSendResult> {
    if (message.delayTimeLevel || message.deliverAt !== undefined || message.delayMs !== undefined) {
      throw new InvalidParameterError("Transactional messages cannot be delayed");
    }
    const prepared = this.#prepare(message, true, true);
    const sent = await this.#attempts(message.topic, this.#opts.retryTimesWhenSendFailed, (info, mq) => this.#request(prepared, mq, info));
    sent.msgId = prepared.uniqId;
    if (sent.status !== "SEND_OK") {
      // Not durable as asked: do not run the local transaction on it; the half message is
      // rolled back so it can never be committed by a check-back.
      await this.#endTransaction(sent, "ROLLBACK", false).catch(() => {});
      return { ...sent, localTransactionState: "ROLLBACK" };
    }
    let state: LocalTransactionState;
    try {
      state = checkState(await listener.executeLocalTransaction(message, arg));
    } catch {
      state = "UNKNOWN";
    }
    if (state !== "UNKNOWN") await this.#endTransaction(sent, state, false).catch(() => {});
    return { ...sent, localTransactionState: state };
  }

  /** Answers the broker's CHECK_TRANSACTION_STATE with `listener.checkLocalTransaction`. */
  protected handleTransactionChecks(listener: TransactionListener): void {
    this.#checkTransaction = (req) => {
      const [msg] = decodeMessages(req.body, "", this.#opts.maxMessageSize);
      if (!msg || msg.properties[MessageProperty.PRODUCER_GROUP] !== this.group) return;
      const offsetMsgId = CheckTransactionStateRequestHeader.decode(req).offsetMsgId ?? msg.offsetMsgId;
      void (async () => {
        let state: LocalTransactionState;
        try {
          state = checkState(await listener.checkLocalTransaction(msg));
        } catch {
          state = "UNKNOWN";
        }
        if (state === "UNKNOWN") return;
        await this.#endTransaction({ offsetMsgId, queueOffset: msg.queueOffset, msgId: msg.msgId }, state, true);
      })().catch(() => {});
    };
  }

  /** Answers the check-backs of this producer's half messages (a transaction producer's). */
  #checkTransaction: ((req: RemotingCommand) => void) | undefined;

  async #endTransaction(sent: Pick<SendResult, "offsetMsgId" | "queueOffset" | "msgId">, state: "COMMIT" | "ROLLBACK", fromCheck: boolean): Promise<void> {
    const { addr, offset } = parseOffsetMsgId(sent.offsetMsgId);
    await this.#remoting.invokeOneway(addr, createRequest(RequestCode.END_TRANSACTION, EndTransactionRequestHeader.encode({
      producerGroup: this.group,
      tranStateTableOffset: sent.queueOffset,
      commitLogOffset: offset,
      commitOrRollback: state === "COMMIT" ? SysFlag.TRANSACTION_COMMIT_TYPE : SysFlag.TRANSACTION_ROLLBACK_TYPE,
      fromTransactionCheck: fromCheck,
      msgId: sent.msgId,
    })), this.#opts.sendTimeoutMs);
  }

  #request(p: PreparedMessage, mq: MessageQueue, info: PublishInfo): RemotingCommand {
    return createRequest(RequestCode.SEND_MESSAGE, this.#header(p.topic, mq, p.sysFlag, p.flag, p.properties, info), p.body);
  }

  #header(topic: string, mq: MessageQueue, sysFlag: number, flag: number, properties: Uint8Array, info: PublishInfo): ExtFields {
    return SendMessageRequestHeader.encode({
      producerGroup: this.group,
      topic,
      queueId: mq.queueId,
      sysFlag,
      bornTimestamp: Date.now(),
      flag,
      properties,
      reconsumeTimes: 0,
      defaultTopic: info.viaDefaultTopic ? AUTO_CREATE_TOPIC_KEY_TOPIC : undefined,
      defaultTopicQueueNums: info.viaDefaultTopic ? this.#opts.defaultTopicQueueNums : undefined,
    });
  }

  #pickQueue(info: PublishInfo, avoidBroker: string | undefined): MessageQueue {
    const n = info.queues.length;
    for (let i = 0; i < n; i++) {
      const mq = info.queues[this.#roundRobin++ % n];
      if (mq.brokerName === avoidBroker && info.brokerAddrs.size > 1) continue;
      if (this.#opts.sendLatencyFaultEnable && !this.#faults.isAvailable(mq.brokerName)) continue;
      return mq;
    }
    // Every broker is avoided: take the next one anyway (the least bad choice).
    return info.queues[this.#roundRobin++ % n];
  }

  async #publishInfo(topic: string, refresh = false): Promise<PublishInfo> {
    const cached = this.#routes.get(topic);
    if (cached && !refresh) return cached;
    let route: TopicRouteData;
    let viaDefaultTopic = false;
    try {
      route = await this.#namesrv.getRoute(topic);
    } catch (err) {
      if (!(err instanceof TopicNotExistError)) {
        if (cached) return cached; // keep sending on the last known route while NameServers are away
        throw err;
      }
      try {
        route = await this.#namesrv.getRoute(AUTO_CREATE_TOPIC_KEY_TOPIC);
        viaDefaultTopic = true;
      } catch {
        throw new TopicNotExistError(topic, noRouteMessage(topic, this.#servedBy.get(topic)));
      }
    }
    const info = publishInfoOf(topic, route, viaDefaultTopic, this.#opts.defaultTopicQueueNums);
    if (info.queues.length === 0) {
      // A master that serves the topic without WRITE is a permission, not an outage.
      const readOnly = route.queueDatas.filter((q) => (q.perm & Perm.WRITE) === 0 && info.brokerAddrs.has(q.brokerName));
      if (readOnly.length > 0) {
        throw new NoPermissionError(`Topic ${topic} is not writable (perm ${readOnly[0].perm} on ${readOnly.map((q) => q.brokerName).join(", ")})`);
      }
      throw new TopicNotExistError(topic, `No writable queue for topic ${topic}: no master broker is up`);
    }
    this.#routes.set(topic, info);
    if (!viaDefaultTopic) this.#servedBy.set(topic, [...info.brokerAddrs.keys()]);
    if (this.#started) void this.#heartbeat();
    return info;
  }

  async #refreshRoutes(): Promise<void> {
    for (const topic of [...this.#routes.keys()]) await this.#publishInfo(topic, true).catch(() => {});
  }

  /**
   * Heartbeats to every master of the cluster, not only those of topics sent to so far: a
   * transactional producer that restarts must be reachable for check-backs before it sends.
   */
  protected async heartbeatEveryBroker(): Promise<void> {
    const info = await this.#namesrv.getClusterInfo();
    for (const b of Object.values(info.brokerAddrTable)) {
      const addr = b.brokerAddrs[String(MASTER_ID)];
      if (addr) this.#extraBrokers.add(addr);
    }
    await this.#heartbeat();
  }

  readonly #extraBrokers = new Set<string>();

  #heartbeat(): Promise<void> {
    return this.#instance.heartbeat();
  }
}

/**
 * Sets the delay properties of `m` (checked here, so a bad value fails before sending):
 * DELAY for a level, TIMER_DELIVER_MS for an absolute time, TIMER_DELAY_MS for a delay the
 * broker's clock applies. At most one of the three.
 */
function delayProperties(m: Message, props: Properties): void {
  const given = [m.delayTimeLevel, m.deliverAt, m.delayMs].filter((v) => v !== undefined).length;
  if (given === 0) return;
  if (given > 1) throw new InvalidParameterError("Give at most one of delayTimeLevel, deliverAt and delayMs");
  if (m.delayTimeLevel !== undefined) {
    if (!Number.isInteger(m.delayTimeLevel) || m.delayTimeLevel < 0) {
      throw new InvalidParameterError(`delayTimeLevel must be an integer ≥ 0, got ${m.delayTimeLevel}`);
    }
    if (m.delayTimeLevel > 0) props[MessageProperty.DELAY_TIME_LEVEL] = String(m.delayTimeLevel);
  } else if (m.deliverAt !== undefined) {
    const at = m.deliverAt instanceof Date ? m.deliverAt.getTime() : m.deliverAt;
    if (!Number.isFinite(at) || at < 0) throw new InvalidParameterError(`deliverAt must be a time (ms since the epoch or a Date), got ${String(m.deliverAt)}`);
    props[MessageProperty.TIMER_DELIVER_MS] = String(Math.round(at));
  } else {
    const ms = m.delayMs!;
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidParameterError(`delayMs must be a number of ms ≥ 0, got ${ms}`);
    props.TIMER_DELAY_MS = String(Math.round(ms));
  }
}
