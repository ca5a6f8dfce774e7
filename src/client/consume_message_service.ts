import type { Logger } from "../common/log.ts";
import { ResponseCode, responseCodeName } from "../common/response_code.ts";
import { ConsumerSendMsgBackRequestHeader } from "../protocol/headers/consumer_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { RemotingClient } from "../remoting/remoting_client.ts";
import { type MessageExt, queueKeyOf } from "./message.ts";
import type { OffsetTable } from "./offset_store.ts";
import type { ProcessQueue } from "./process_queue.ts";
import {
  ABANDONED,
  type ConsumeConcurrentlyStatus,
  type ConsumeOrderlyStatus,
  type Listener,
  type MessageListenerConcurrently,
  type MessageListenerOrderly,
  type PushConsumerStats,
} from "./push_consumer_types.ts";
import type { ConsumeStatusRecorder } from "./consume_status.ts";
import type { ConsumeDirectlyResult } from "../protocol/bodies/stats_bodies.ts";

export interface ConsumeOptions {
  messageModel: "CLUSTERING" | "BROADCASTING";
  consumeMessageBatchMaxSize: number;
  consumeConcurrency: number;
  sendBackRetryDelayMs: number;
  suspendCurrentQueueTimeMillis: number;
  lockIntervalMs: number;
  timeoutMs: number;
}

/** What the consume service needs of its push consumer. */
export interface ConsumeHost {
  readonly running: boolean;
  readonly listener: Listener;
  readonly stats: Pick<PushConsumerStats, "consumed" | "failed" | "sentBack">;
  /** Per-topic rates and times for GET_CONSUMER_RUNNING_INFO. */
  readonly status: ConsumeStatusRecorder;
  readonly offsets: OffsetTable;
  /** The consumer's own limit; undefined: the broker's for the group (its retryMaxTimes), and none for orderly consumption. */
  readonly maxReconsumeTimes: number | undefined;
  readonly brokerAddrs: ReadonlyMap<string, string>;
  lockValid(pq: ProcessQueue): boolean;
  /** A pause that shutdown cuts short. */
  sleep(ms: number): Promise<void>;
}

/**
 * Calls the listener (RocketMQ's ConsumeMessageConcurrentlyService and
 * ConsumeMessageOrderlyService): concurrently, a FIFO of consume requests served by at most
 * consumeConcurrency calls at once; orderly, one call at a time per queue, in offset order.
 * Failures go back to the broker (CONSUMER_SEND_MSG_BACK), or are consumed again locally when
 * it does not take them.
 */
export class ConsumeMessageService {
  /** Concurrent mode: consume requests waiting for a free slot, FIFO. */
  #work: { pq: ProcessQueue; msgs: MessageExt[] }[] = [];
  #workHead = 0;
  #workers = 0;
  /** Orderly mode: queues consuming at once. */
  #orderlyActive = 0;
  readonly #orderlyWaiting: (() => void)[] = [];

  constructor(
    private readonly host: ConsumeHost,
    private readonly remoting: RemotingClient,
    private readonly group: string,
    private readonly opts: ConsumeOptions,
    private readonly log: Logger,
  ) {}

  /** Listener calls in progress. */
  get busy(): boolean {
    return this.#workers > 0 || this.#orderlyActive > 0;
  }

  /** Forgets the requests not started yet (shutdown). */
  /**
   * CONSUME_MESSAGE_DIRECTLY (an operator debugging a message): the listener gets `msg` alone,
   * outside any queue's order; nothing is committed, sent back or counted. Says how it went in
   * RocketMQ's terms.
   */
  async consumeDirectly(msg: MessageExt): Promise<{ order: boolean; autoCommit: boolean; consumeResult: ConsumeDirectlyResult; remark?: string; spentTimeMills: number }> {
    const began = Date.now();
    const { orderly, fn } = this.host.listener;
    const ctx = { mq: { topic: msg.topic, brokerName: msg.brokerName, queueId: msg.queueId } };
    let consumeResult: ConsumeDirectlyResult;
    let remark: string | undefined;
    try {
      if (orderly) {
        const status = (await (fn as MessageListenerOrderly)([msg], ctx)) ?? "SUCCESS";
        consumeResult = status === "SUCCESS" ? "CR_SUCCESS" : "CR_LATER";
      } else {
        const status = (await (fn as MessageListenerConcurrently)([msg], ctx)) ?? "CONSUME_SUCCESS";
        consumeResult = status === "CONSUME_SUCCESS" ? "CR_SUCCESS" : (status as unknown) === ABANDONED ? "CR_RETURN_NULL" : "CR_LATER";
      }
    } catch (err) {
      consumeResult = "CR_THROW_EXCEPTION";
      remark = (err as Error).stack ?? String(err);
    }
    return { order: orderly, autoCommit: true, consumeResult, remark, spentTimeMills: Date.now() - began };
  }

  clear(): void {
    this.#work = [];
    this.#workHead = 0;
  }

  submit(pq: ProcessQueue, msgs: MessageExt[]): void {
    if (this.host.listener.orderly) {
      this.#kickOrderly(pq);
      return;
    }
    const n = this.opts.consumeMessageBatchMaxSize;
    for (let i = 0; i < msgs.length; i += n) this.#work.push({ pq, msgs: n === 1 ? [msgs[i]] : msgs.slice(i, i + n) });
    while (this.#workers < this.opts.consumeConcurrency && this.#workHead < this.#work.length) {
      this.#workers++;
      void this.#worker();
    }
  }

  async #worker(): Promise<void> {
    try {
      while (this.host.running && this.#workHead < this.#work.length) {
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
    const listener = this.host.listener.fn as MessageListenerConcurrently;
    let status: ConsumeConcurrentlyStatus;
    const began = Date.now();
    try {
      status = (await listener(msgs, { mq: pq.mq })) ?? "CONSUME_SUCCESS";
      if ((status as unknown) === ABANDONED) return;
      if (status !== "CONSUME_SUCCESS" && status !== "RECONSUME_LATER") {
        this.log.warn(`listener returned ${String(status)}; treated as RECONSUME_LATER`);
        status = "RECONSUME_LATER";
      }
    } catch (err) {
      this.log.warn(`listener threw on ${msgs.length} message(s) of ${queueKeyOf(pq.mq)}: ${(err as Error).message}`);
      status = "RECONSUME_LATER";
    }
    pq.lastConsumeAt = Date.now();
    this.host.status.consumed(pq.mq.topic, status === "CONSUME_SUCCESS", msgs.length, pq.lastConsumeAt - began);
    // A dropped queue now belongs to another member, which consumes from the stored offset.
    if (pq.dropped) return;
    let done = msgs;
    if (status === "CONSUME_SUCCESS") {
      this.host.stats.consumed += msgs.length;
    } else {
      this.host.stats.failed += msgs.length;
      if (this.opts.messageModel === "BROADCASTING") {
        this.log.warn(`broadcasting: ${msgs.length} failed message(s) of ${queueKeyOf(pq.mq)} dropped (no retry in broadcasting mode)`);
      } else {
        const again: MessageExt[] = [];
        for (const m of msgs) if (!await this.#sendBack(m, 0)) again.push(m);
        if (again.length > 0) {
          // The broker did not take them: consume them again here after a pause.
          done = msgs.filter((m) => !again.includes(m));
          for (const m of again) m.reconsumeTimes++;
          void this.host.sleep(this.opts.sendBackRetryDelayMs).then(() => {
            if (!pq.dropped && this.host.running) this.submit(pq, again);
          });
        }
      }
    }
    const offset = pq.remove(done);
    if (!pq.dropped) this.host.offsets.update(pq.mq, offset, true);
  }

  /** CONSUMER_SEND_MSG_BACK to the broker that stored the message; true if it took it. */
  async #sendBack(m: MessageExt, delayLevel: number): Promise<boolean> {
    const addr = this.host.brokerAddrs.get(m.brokerName);
    if (!addr) return false;
    try {
      const resp = await this.remoting.invoke(addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, ConsumerSendMsgBackRequestHeader.encode({
        group: this.group,
        offset: m.commitLogOffset,
        delayLevel,
        originMsgId: m.msgId,
        originTopic: m.topic,
        unitMode: false,
        maxReconsumeTimes: this.host.maxReconsumeTimes,
      })), this.opts.timeoutMs);
      if (resp.code !== ResponseCode.SUCCESS) {
        this.log.warn(`send-back of ${m.msgId} refused: ${responseCodeName(resp.code)} ${resp.remark ?? ""}`);
        return false;
      }
      this.host.stats.sentBack++;
      return true;
    } catch (err) {
      this.log.warn(`send-back of ${m.msgId} failed: ${(err as Error).message}`);
      return false;
    }
  }

  #kickOrderly(pq: ProcessQueue): void {
    if (pq.consuming || pq.dropped || !this.host.running) return;
    pq.consuming = this.#consumeOrderly(pq).finally(() => {
      pq.consuming = undefined;
      if (!pq.isEmpty && !pq.dropped && this.host.running) this.#kickOrderly(pq);
    });
  }

  /** One queue, one call at a time, in offset order; a failure pauses the queue and retries the same messages. */
  async #consumeOrderly(pq: ProcessQueue): Promise<void> {
    while (this.#orderlyActive >= this.opts.consumeConcurrency) await new Promise<void>((r) => this.#orderlyWaiting.push(r));
    this.#orderlyActive++;
    try {
      const listener = this.host.listener.fn as MessageListenerOrderly;
      while (!pq.dropped && this.host.running) {
        if (!this.host.lockValid(pq)) {
          await this.host.sleep(Math.min(1000, this.opts.lockIntervalMs));
          if (!this.host.lockValid(pq)) return; // the pull loop re-locks; arrivals kick us again
          continue;
        }
        const msgs = pq.take(this.opts.consumeMessageBatchMaxSize);
        if (msgs.length === 0) return;
        let status: ConsumeOrderlyStatus;
        const began = Date.now();
        try {
          status = (await listener(msgs, { mq: pq.mq })) ?? "SUCCESS";
          if (status !== "SUCCESS" && status !== "SUSPEND_CURRENT_QUEUE_A_MOMENT") status = "SUSPEND_CURRENT_QUEUE_A_MOMENT";
        } catch (err) {
          this.log.warn(`orderly listener threw on ${queueKeyOf(pq.mq)}: ${(err as Error).message}`);
          status = "SUSPEND_CURRENT_QUEUE_A_MOMENT";
        }
        pq.lastConsumeAt = Date.now();
        this.host.status.consumed(pq.mq.topic, status === "SUCCESS", msgs.length, pq.lastConsumeAt - began);
        if (status === "SUCCESS") {
          this.host.stats.consumed += msgs.length;
          // Committed even when the queue was dropped meanwhile: the drop waits for this call
          // and stores this offset before it releases the lock.
          this.host.offsets.update(pq.mq, pq.commit(), false);
          continue;
        }
        this.host.stats.failed += msgs.length;
        if (this.opts.messageModel === "CLUSTERING" && msgs.some((m) => m.reconsumeTimes >= (this.host.maxReconsumeTimes ?? Number.MAX_SAFE_INTEGER))) {
          // Retried as often as allowed: to the dead-letter queue, and the queue moves on.
          let all = true;
          for (const m of msgs) all = await this.#sendBack(m, -1) && all;
          if (all) {
            this.host.offsets.update(pq.mq, pq.commit(), false);
            continue;
          }
        } else {
          for (const m of msgs) m.reconsumeTimes++;
        }
        pq.putBack();
        await this.host.sleep(this.opts.suspendCurrentQueueTimeMillis);
      }
    } finally {
      this.#orderlyActive--;
      this.#orderlyWaiting.shift()?.();
    }
  }
}
