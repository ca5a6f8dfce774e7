import { errorFromResponse, InvalidParameterError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { encodeProperties, MessageProperty, SysFlag } from "../common/message.ts";
import { RETRY_GROUP_TOPIC_PREFIX, validateGroup, validateTopic } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { type ClusterInfo, MASTER_ID, PERM_READ_WRITE, type TopicRouteData } from "../common/route.ts";
import {
  KVTableBody,
  type SubscriptionGroupConfig,
  SubscriptionGroupConfigBody,
  type SubscriptionGroupSettings,
  subscriptionGroupSettings,
  SubscriptionGroupTableBody,
} from "../protocol/bodies/broker_bodies.ts";
import { ConsumerConnectionBody } from "../protocol/bodies/client_bodies.ts";
import {
  ConsumerGroupRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  GetConsumerRunningInfoRequestHeader,
  ResetOffsetRequestHeader,
} from "../protocol/headers/consumer_header.ts";
import { SendMessageRequestHeader } from "../protocol/headers/send_message_header.ts";
import {
  type ConsumerRunningInfo,
  ConsumerRunningInfoBody,
  type ConsumeStats,
  ConsumeStatsBody,
  ResetOffsetBody,
  type ResetOffsetTable,
  type TopicStatsTable,
  TopicStatsTableBody,
} from "../protocol/bodies/stats_bodies.ts";
import {
  CreateTopicRequestHeader,
  DeleteTopicRequestHeader,
  GetConsumeStatsRequestHeader,
  GetTopicStatsInfoRequestHeader,
} from "../protocol/headers/topic_header.ts";
import { createRequest, type ExtFields, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import { ClientInstance } from "./client_instance.ts";
import type { MessageExt } from "./message.ts";

export interface AdminOptions {
  namesrvAddr: string | string[];
  timeoutMs?: number;
  /** Clients with the same NameServers and instance name share connections. */
  instanceName?: string;
}

export interface TopicCreation {
  /** Read and write queues on each broker (default 8). */
  queues?: number;
  /** Read-write by default (6); 4 read-only, 2 write-only. */
  perm?: number;
  order?: boolean;
  /** Only the masters of this cluster (default: every master). */
  cluster?: string;
}

/** A broker group's master as the cluster table names it. */
export interface MasterBroker {
  brokerName: string;
  addr: string;
}

/** One master's consumer groups and their settings (GET_ALL_SUBSCRIPTIONGROUP_CONFIG). */
export interface BrokerGroups extends MasterBroker {
  groups: SubscriptionGroupConfig[];
}

export type { SubscriptionGroupConfig, SubscriptionGroupSettings };

/** One broker's view of a consumer group's members (GET_CONSUMER_CONNECTION_LIST). */
export type ConsumerConnection = ReturnType<typeof ConsumerConnectionBody.decode> & MasterBroker;

/**
 * Where `resetOffsets` moves a group: the start or the end of each queue, the first message
 * stored at or after a time (ms since the epoch, or a Date), or one queue to an exact offset.
 */
export type ResetPoint = "earliest" | "latest" | number | Date | { brokerName: string; queueId: number; offset: number };

/** What one master did for `resetOffsets`: the offset each of its queues moved to. */
export interface OffsetReset extends MasterBroker {
  offsets: ResetOffsetTable["offsetTable"];
}

/**
 * The operator's client (RocketMQ's MQAdmin): cluster state, topics, consumer groups and dead
 * letters, over the same admin request codes RocketMQ's tools use. The CLI and the HTTP admin
 * both go through it.
 *
 * @example
 * ```ts
 * await using admin = new Admin({ namesrvAddr: "127.0.0.1:9876" });
 * await admin.createTopic("Orders", { queues: 8 });
 * console.log(await admin.clusterInfo());
 * ```
 */
export class Admin {
  readonly #instance: ClientInstance;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(opts: AdminOptions) {
    this.#instance = ClientInstance.acquire({ namesrvAddr: opts.namesrvAddr, instanceName: opts.instanceName, timeoutMs: opts.timeoutMs });
    this.#timeoutMs = opts.timeoutMs ?? Limits.defaultInvokeTimeoutMs;
  }

  clusterInfo(): Promise<ClusterInfo> {
    return this.#instance.namesrv.getClusterInfo();
  }

  topicList(): Promise<string[]> {
    return this.#instance.namesrv.getTopicList();
  }

  topicRoute(topic: string): Promise<TopicRouteData> {
    validateTopic(topic);
    return this.#instance.namesrv.getRoute(topic);
  }

  /** Every master broker, optionally of one cluster, by broker name. */
  async masters(cluster?: string): Promise<MasterBroker[]> {
    const info = await this.clusterInfo();
    const names = cluster ? info.clusterAddrTable[cluster] ?? [] : Object.keys(info.brokerAddrTable);
    const out: MasterBroker[] = [];
    for (const brokerName of names) {
      const addr = info.brokerAddrTable[brokerName]?.brokerAddrs[String(MASTER_ID)];
      if (addr) out.push({ brokerName, addr });
    }
    return out;
  }

  /** Creates (or updates) `topic` on every master (of `cluster`); the brokers it was created on. */
  async createTopic(topic: string, opts: TopicCreation = {}): Promise<MasterBroker[]> {
    validateTopic(topic);
    const queues = opts.queues ?? 8;
    if (!Number.isInteger(queues) || queues < 1 || queues > 1024) throw new InvalidParameterError(`queues must be an integer from 1 to 1024, got ${queues}`);
    const brokers = await this.masters(opts.cluster);
    if (brokers.length === 0) throw new InvalidParameterError(`no master broker is registered${opts.cluster ? ` in cluster ${opts.cluster}` : ""}`);
    const header = CreateTopicRequestHeader.encode({ topic, readQueueNums: queues, writeQueueNums: queues, perm: opts.perm ?? PERM_READ_WRITE, order: opts.order });
    for (const b of brokers) await this.#call(b.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, header);
    return brokers;
  }

  /** Deletes `topic` on every master (of `cluster`) and its route on every NameServer; the brokers that held it. */
  async deleteTopic(topic: string, cluster?: string): Promise<MasterBroker[]> {
    validateTopic(topic);
    const held: MasterBroker[] = [];
    for (const b of await this.masters(cluster)) {
      const r = await this.#invoke(b.addr, RequestCode.DELETE_TOPIC_IN_BROKER, DeleteTopicRequestHeader.encode({ topic }));
      if (r.code === ResponseCode.SUCCESS) held.push(b);
      else if (r.code !== ResponseCode.TOPIC_NOT_EXIST) throw errorFromResponse(r.code, r.remark, "DELETE_TOPIC_IN_BROKER", b.addr);
    }
    await this.#instance.namesrv.deleteTopic(topic, cluster);
    return held;
  }

  /** A broker's runtime figures (GET_BROKER_RUNTIME_INFO). */
  async brokerRuntimeInfo(addr: string, timeoutMs = this.#timeoutMs): Promise<Record<string, string>> {
    const r = await this.#call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, undefined, timeoutMs);
    return KVTableBody.decode(r.body, r.serializeType).table;
  }

  /** The members of `group` as each master sees them; masters where it is not online are left out. */
  async consumerConnections(group: string): Promise<ConsumerConnection[]> {
    validateGroup(group);
    const out: ConsumerConnection[] = [];
    for (const b of await this.masters()) {
      const r = await this.#invoke(b.addr, RequestCode.GET_CONSUMER_CONNECTION_LIST, ConsumerGroupRequestHeader.encode({ consumerGroup: group }));
      if (r.code === ResponseCode.CONSUMER_NOT_ONLINE) continue;
      if (r.code !== ResponseCode.SUCCESS) throw errorFromResponse(r.code, r.remark, "GET_CONSUMER_CONNECTION_LIST", b.addr);
      out.push({ ...b, ...ConsumerConnectionBody.decode(r.body, r.serializeType) });
    }
    return out;
  }

  /** Each queue's min and max offset and last update time, from every master that has `topic` (GET_TOPIC_STATS_INFO). */
  async topicStats(topic: string): Promise<TopicStatsTable["offsetTable"]> {
    validateTopic(topic);
    const out: TopicStatsTable["offsetTable"] = [];
    for (const b of await this.#mastersOf(topic)) {
      const r = await this.#call(b.addr, RequestCode.GET_TOPIC_STATS_INFO, GetTopicStatsInfoRequestHeader.encode({ topic }));
      out.push(...TopicStatsTableBody.decode(r.body, r.serializeType).offsetTable);
    }
    return out;
  }

  /**
   * A consumer group's progress on every master (GET_CONSUME_STATS): per queue the broker's
   * max offset, the group's committed offset and the store time of the last message consumed;
   * the lag is their difference. On `topic` only, or on every topic the group consumes.
   */
  async consumeStats(group: string, topic?: string): Promise<ConsumeStats["offsetTable"]> {
    validateGroup(group);
    if (topic) validateTopic(topic);
    const out: ConsumeStats["offsetTable"] = [];
    for (const b of topic ? await this.#mastersOf(topic) : await this.masters()) {
      const r = await this.#call(b.addr, RequestCode.GET_CONSUME_STATS, GetConsumeStatsRequestHeader.encode({ consumerGroup: group, topic }));
      out.push(...ConsumeStatsBody.decode(r.body, r.serializeType).offsetTable);
    }
    return out;
  }

  /**
   * What a member of `group` is doing (GET_CONSUMER_RUNNING_INFO, relayed by a broker it is
   * connected to): its settings, subscriptions, each queue it holds and each topic's rates.
   * `clientId` as consumerConnections lists it.
   */
  async consumerRunningInfo(group: string, clientId: string): Promise<ConsumerRunningInfo> {
    validateGroup(group);
    const at = (await this.consumerConnections(group)).find((c) => c.connectionSet.some((x) => x.clientId === clientId));
    if (!at) throw errorFromResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer ${clientId} of group ${group} is not online`, "GET_CONSUMER_RUNNING_INFO", "");
    const r = await this.#call(at.addr, RequestCode.GET_CONSUMER_RUNNING_INFO, GetConsumerRunningInfoRequestHeader.encode({ consumerGroup: group, clientId }), Limits.callConsumerTimeoutMs + this.#timeoutMs);
    return ConsumerRunningInfoBody.decode(r.body, r.serializeType);
  }

  /**
   * Creates or changes consumer group `settings.groupName` on every master (of `cluster`)
   * (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP); fields left out keep their value on each broker, or
   * take the broker's defaults for a new group. Slaves copy it from their master. Returns the brokers.
   */
  async updateGroup(settings: SubscriptionGroupSettings, cluster?: string): Promise<MasterBroker[]> {
    const s = subscriptionGroupSettings(settings, "settings");
    validateGroup(s.groupName);
    const brokers = await this.masters(cluster);
    if (brokers.length === 0) throw new InvalidParameterError(`no master broker is registered${cluster ? ` in cluster ${cluster}` : ""}`);
    for (const b of brokers) await this.#call(b.addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, undefined, undefined, SubscriptionGroupConfigBody.encode(s, SerializeType.CBOR));
    return brokers;
  }

  /** Every master's (of `cluster`) consumer groups and their settings, by name. */
  async groups(cluster?: string): Promise<BrokerGroups[]> {
    const out: BrokerGroups[] = [];
    for (const b of await this.masters(cluster)) {
      const r = await this.#call(b.addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
      const table = SubscriptionGroupTableBody.decode(r.body, r.serializeType).subscriptionGroupTable;
      out.push({ ...b, groups: Object.values(table).sort((x, y) => x.groupName < y.groupName ? -1 : 1) });
    }
    return out;
  }

  /**
   * Deletes consumer group `group`'s settings on every master (of `cluster`) (DELETE_SUBSCRIPTIONGROUP),
   * with `cleanOffset` its committed offsets too; the brokers that held it. A group with live
   * members is recreated by their next heartbeat while autoCreateSubscriptionGroup is on.
   */
  async deleteGroup(group: string, opts: { cluster?: string; cleanOffset?: boolean } = {}): Promise<MasterBroker[]> {
    validateGroup(group);
    const held: MasterBroker[] = [];
    for (const b of await this.masters(opts.cluster)) {
      const r = await this.#invoke(b.addr, RequestCode.DELETE_SUBSCRIPTIONGROUP, DeleteSubscriptionGroupRequestHeader.encode({ groupName: group, cleanOffset: opts.cleanOffset }));
      if (r.code === ResponseCode.SUCCESS) held.push(b);
      else if (r.code !== ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST) throw errorFromResponse(r.code, r.remark, "DELETE_SUBSCRIPTIONGROUP", b.addr);
    }
    return held;
  }

  /**
   * Moves consumer group `group`'s offsets on `topic` (INVOKE_BROKER_TO_RESET_OFFSET on every
   * master of the topic). Each broker commits the new offsets, so this works for a group with
   * no live member, and tells the live members, which continue from there at once. With
   * `force: false` an offset only moves back. `onBroker` hears of each broker as it is done.
   * Throws SUBSCRIPTION_GROUP_NOT_EXIST if no broker knows the group.
   */
  async resetOffsets(group: string, topic: string, to: ResetPoint, opts: { force?: boolean; onBroker?: (r: OffsetReset) => void } = {}): Promise<OffsetReset[]> {
    validateGroup(group);
    validateTopic(topic);
    const exact = typeof to === "object" && !(to instanceof Date) ? to : undefined;
    const timestamp = to === "earliest" ? 0 : to === "latest" ? -1 : to instanceof Date ? to.getTime() : typeof to === "number" ? to : 0;
    if (!Number.isSafeInteger(timestamp) || timestamp < -1) throw new InvalidParameterError(`a reset time must be a date or ms since the epoch, got ${String(to)}`);
    if (exact && (!Number.isInteger(exact.queueId) || exact.queueId < 0 || !Number.isSafeInteger(exact.offset) || exact.offset < 0)) {
      throw new InvalidParameterError(`an exact reset needs a queueId and an offset ≥ 0, got ${JSON.stringify(exact)}`);
    }
    let brokers = await this.#mastersOf(topic);
    if (exact) brokers = brokers.filter((b) => b.brokerName === exact.brokerName);
    if (brokers.length === 0) throw new InvalidParameterError(exact ? `broker ${exact.brokerName} does not serve ${topic}` : `no master broker serves ${topic}`);
    const header = ResetOffsetRequestHeader.encode({ topic, group, timestamp, isForce: opts.force ?? true, queueId: exact?.queueId, offset: exact?.offset });
    const out: OffsetReset[] = [];
    let refusal: RemotingCommand | undefined;
    for (const b of brokers) {
      const r = await this.#invoke(b.addr, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, header);
      if (r.code === ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST) {
        refusal = r; // this broker never saw the group; another may have
        continue;
      }
      if (r.code !== ResponseCode.SUCCESS) throw errorFromResponse(r.code, r.remark, "INVOKE_BROKER_TO_RESET_OFFSET", b.addr);
      const done = { ...b, offsets: ResetOffsetBody.decode(r.body, r.serializeType).offsetTable };
      out.push(done);
      opts.onBroker?.(done);
    }
    if (out.length === 0 && refusal) throw errorFromResponse(refusal.code, refusal.remark, "INVOKE_BROKER_TO_RESET_OFFSET", brokers[0].addr);
    return out;
  }

  /** The masters that serve `topic`, by its route. */
  async #mastersOf(topic: string): Promise<MasterBroker[]> {
    const route = await this.topicRoute(topic);
    return route.brokerDatas.map((b) => ({ brokerName: b.brokerName, addr: b.brokerAddrs[String(MASTER_ID)] })).filter((b) => b.addr);
  }

  /**
   * Puts a dead letter of `group` back on %RETRY%<group> with reconsumeTimes 0, so that group
   * (and no other) consumes it again; its origin properties are dropped. Returns the broker it went to.
   */
  async resendDeadLetter(group: string, m: MessageExt): Promise<MasterBroker> {
    validateGroup(group);
    const retry = RETRY_GROUP_TOPIC_PREFIX + group;
    const route = await this.topicRoute(retry);
    const brokers = route.brokerDatas.map((b) => ({ brokerName: b.brokerName, addr: b.brokerAddrs[String(MASTER_ID)] })).filter((b) => b.addr);
    const target = brokers.find((b) => b.brokerName === m.brokerName) ?? brokers[0];
    if (!target) throw new InvalidParameterError(`no broker serves ${retry}; is a consumer of ${group} running?`);
    const props = { ...m.properties };
    delete props[MessageProperty.DLQ_ORIGIN_TOPIC];
    delete props[MessageProperty.DLQ_ORIGIN_MESSAGE_ID];
    await this.#call(target.addr, RequestCode.SEND_MESSAGE, SendMessageRequestHeader.encode({
      producerGroup: "bolide-admin",
      topic: retry,
      queueId: 0,
      sysFlag: m.sysFlag & ~SysFlag.COMPRESSED, // the body was decompressed when read
      bornTimestamp: Date.now(),
      flag: 0,
      properties: encodeProperties(props),
      reconsumeTimes: 0,
    }), undefined, m.body);
    return target;
  }

  shutdown(): Promise<void> {
    if (!this.#closed) this.#instance.release();
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #invoke(addr: string, code: number, header?: ExtFields, timeoutMs = this.#timeoutMs, body?: Uint8Array): Promise<RemotingCommand> {
    if (this.#closed) return Promise.reject(new InvalidParameterError("Admin was shut down"));
    return this.#instance.remoting.invoke(addr, createRequest(code, header, body), timeoutMs);
  }

  /** A request that must succeed: any other answer throws the error of its code. */
  async #call(addr: string, code: number, header?: ExtFields, timeoutMs = this.#timeoutMs, body?: Uint8Array): Promise<RemotingCommand> {
    const r = await this.#invoke(addr, code, header, timeoutMs, body);
    if (r.code !== ResponseCode.SUCCESS) throw errorFromResponse(r.code, r.remark, requestCodeName(code), addr);
    return r;
  }
}
