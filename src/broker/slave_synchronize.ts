import { Limits } from "../common/limits.ts";
import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import { ConsumerOffsetTableBody, DelayOffsetTableBody, SubscriptionGroupTableBody, TopicConfigTableBody } from "../protocol/bodies/broker_bodies.ts";
import { UpdateConsumerOffsetRequestHeader } from "../protocol/headers/consumer_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import type { MessageStore } from "../store/message_store.ts";
import type { ConsumerOffsetManager } from "./consumer_offset_manager.ts";
import type { ScheduleMessageService } from "./schedule_message_service.ts";
import type { TopicConfigManager } from "./topic_config_manager.ts";
import type { SubscriptionGroupManager } from "./subscription_group_manager.ts";

interface SlaveCommit {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
}

/**
 * A slave copies its master's topics, consumer offsets and delay progress (RocketMQ's
 * SlaveSynchronize), and carries back to the master the offsets consumers committed on it while
 * they read here. Offsets go through `commitOffset` on master and slave alike.
 */
export class SlaveSynchronize {
  readonly #remoting = new RemotingClient();
  /** Offsets committed on this slave (consumers read here while the master was away), to carry back to it. */
  readonly #slaveCommits = new Map<string, SlaveCommit>();

  constructor(
    private readonly topics: TopicConfigManager,
    /** Where a topic the master deleted loses its queues here too (a promoted slave must not bring it back). */
    private readonly store: Pick<MessageStore, "deleteTopic">,
    private readonly offsets: ConsumerOffsetManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly schedule: ScheduleMessageService,
    /** This broker's role now: whether it is a slave, and its master's address ("" while unknown). */
    private readonly role: { readonly isSlave: boolean; readonly masterAddr: string; readonly stopping: boolean },
    private readonly log: Logger,
  ) {}

  /** A consumer's committed offset; remembered for the master too while this broker is a slave. */
  commitOffset(group: string, topic: string, queueId: number, offset: number): void {
    this.offsets.commit(group, topic, queueId, offset);
    if (!this.role.isSlave) return;
    const key = `${topic}@${group}@${queueId}`;
    if (!this.#slaveCommits.has(key) && this.#slaveCommits.size >= Limits.maxSlaveOffsetCommits) return; // the periodic sync still keeps the slave's own copy
    this.#slaveCommits.set(key, { group, topic, queueId, offset });
  }

  /** One round of copying from the master (nothing while this broker is a master). */
  async sync(): Promise<void> {
    const master = this.role.masterAddr;
    if (!master || this.role.stopping || !this.role.isSlave) return;
    try {
      const call = async (code: number) => {
        const r = await this.#remoting.invoke(master, createRequest(code), Limits.slaveSyncTimeoutMs);
        if (r.code !== ResponseCode.SUCCESS) throw new Error(`${requestCodeName(code)} answered ${r.code}: ${r.remark ?? ""}`);
        return r;
      };
      const topics = await call(RequestCode.GET_ALL_TOPIC_CONFIG);
      for (const gone of this.topics.adopt(TopicConfigTableBody.decode(topics.body, topics.serializeType).topicConfigTable)) this.store.deleteTopic(gone);
      await this.#carryOffsetsBack(master);
      const offsets = await call(RequestCode.GET_ALL_CONSUMER_OFFSET);
      this.offsets.adopt(ConsumerOffsetTableBody.decode(offsets.body, offsets.serializeType).offsetTable ?? {});
      const delay = await call(RequestCode.GET_ALL_DELAY_OFFSET);
      this.schedule.adoptOffsets(DelayOffsetTableBody.decode(delay.body, delay.serializeType).offsetTable ?? {});
      const groups = await call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
      this.groups.adopt(SubscriptionGroupTableBody.decode(groups.body, groups.serializeType).subscriptionGroupTable);
    } catch (err) {
      this.log.warn(`metadata sync from master ${master} failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.#remoting.close();
  }

  /** Sends offsets committed on this slave to the master; those the master took are forgotten here. */
  async #carryOffsetsBack(master: string): Promise<void> {
    for (const [key, c] of [...this.#slaveCommits]) {
      const r = await this.#remoting.invoke(master, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader.encode({
        consumerGroup: c.group,
        topic: c.topic,
        queueId: c.queueId,
        commitOffset: c.offset,
      })), Limits.slaveSyncTimeoutMs);
      if (r.code !== ResponseCode.SUCCESS) throw new Error(`UPDATE_CONSUMER_OFFSET answered ${r.code}: ${r.remark ?? ""}`);
      if (this.#slaveCommits.get(key)?.offset === c.offset) this.#slaveCommits.delete(key);
    }
  }
}
