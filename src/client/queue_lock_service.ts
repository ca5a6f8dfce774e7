import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import { LockBatchBody, LockBatchResultBody } from "../protocol/bodies/client_bodies.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import type { RemotingClient } from "../remoting/remoting_client.ts";
import { type MessageQueue, queueKeyOf } from "./message.ts";
import type { ProcessQueue } from "./process_queue.ts";

export interface QueueLockOptions {
  messageModel: "CLUSTERING" | "BROADCASTING";
  timeoutMs: number;
  /** A lock not renewed for this long is treated as lost. */
  lockMaxLiveTimeMs: number;
}

/**
 * The push consumer's queue locks for orderly consumption (RocketMQ's RebalanceImpl lock
 * part): LOCK_BATCH_MQ and UNLOCK_BATCH_MQ on each queue's broker, and whether the lock a
 * ProcessQueue holds is still valid.
 */
export class QueueLockService {
  constructor(
    private readonly remoting: RemotingClient,
    private readonly group: string,
    private readonly clientId: string,
    private readonly brokerAddrs: ReadonlyMap<string, string>,
    private readonly pqs: ReadonlyMap<string, ProcessQueue>,
    private readonly opts: QueueLockOptions,
    private readonly log: Logger,
  ) {}

  /** Locks queues on their brokers; returns the keys of those now held, and marks their ProcessQueues. */
  async lock(mqs: MessageQueue[]): Promise<Set<string>> {
    const held = new Set<string>();
    const byBroker = byBrokerName(mqs);
    await Promise.all([...byBroker].map(async ([brokerName, set]) => {
      const addr = this.brokerAddrs.get(brokerName);
      if (!addr) return;
      try {
        const body = LockBatchBody.encode({ consumerGroup: this.group, clientId: this.clientId, mqSet: set }, SerializeType.CBOR);
        const resp = await this.remoting.invoke(addr, createRequest(RequestCode.LOCK_BATCH_MQ, undefined, body), this.opts.timeoutMs);
        if (resp.code !== ResponseCode.SUCCESS) return;
        const ok = LockBatchResultBody.decode(resp.body, resp.serializeType).lockOKMQSet ?? [];
        for (const mq of ok) held.add(queueKeyOf(mq));
      } catch (err) {
        this.log.warn(`locking queues on ${brokerName} failed: ${(err as Error).message}`);
      }
    }));
    const now = Date.now();
    for (const mq of mqs) {
      const pq = this.pqs.get(queueKeyOf(mq));
      if (!pq) continue;
      pq.locked = held.has(queueKeyOf(mq));
      if (pq.locked) pq.lastLockAt = now;
    }
    return held;
  }

  async unlock(mqs: MessageQueue[]): Promise<void> {
    const byBroker = byBrokerName(mqs);
    await Promise.all([...byBroker].map(async ([brokerName, set]) => {
      const addr = this.brokerAddrs.get(brokerName);
      if (!addr) return;
      const body = LockBatchBody.encode({ consumerGroup: this.group, clientId: this.clientId, mqSet: set }, SerializeType.CBOR);
      await this.remoting.invoke(addr, createRequest(RequestCode.UNLOCK_BATCH_MQ, undefined, body), this.opts.timeoutMs).catch(() => {});
    }));
  }

  async relockAll(): Promise<void> {
    const mqs = [...this.pqs.values()].filter((pq) => !pq.dropped).map((pq) => pq.mq);
    if (mqs.length > 0) await this.lock(mqs);
  }

  lockValid(pq: ProcessQueue): boolean {
    if (this.opts.messageModel !== "CLUSTERING") return true;
    return pq.locked && Date.now() - pq.lastLockAt <= this.opts.lockMaxLiveTimeMs;
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
