import { errorFromResponse, InvalidParameterError, TopicNotExistError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { parseProperties } from "../common/properties.ts";
import { fromUtf8 } from "../util/bytes.ts";
import { encodeProperties, MessageProperty, SysFlag } from "../common/message.ts";
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, validateGroup, validateTopic } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { type ClusterInfo, MASTER_ID, Perm, PERM_READ_WRITE, type TopicConfig, type TopicRouteData } from "../common/route.ts";
import {
  KVTableBody,
  type SubscriptionGroupConfig,
  SubscriptionGroupConfigBody,
  type SubscriptionGroupSettings,
  subscriptionGroupSettings,
  SubscriptionGroupTableBody,
  TopicConfigTableBody,
} from "../protocol/bodies/broker_bodies.ts";
import { ConsumerConnectionBody, ProducerConnectionBody } from "../protocol/bodies/client_bodies.ts";
import { ConsumeMessageDirectlyResultRequestHeader, ConsumerGroupRequestHeader, DeleteSubscriptionGroupRequestHeader, GetConsumerRunningInfoRequestHeader, ProducerGroupRequestHeader, ResetOffsetRequestHeader } from "../protocol/headers/consumer_header.ts";
import { SendMessageRequestHeader } from "../protocol/headers/send_message_header.ts";
import { ViewBrokerStatsDataRequestHeader } from "../protocol/headers/broker_header.ts";
import {
  BrokerStatsDataBody,
  ConsumeMessageDirectlyResultBody,
  type ConsumerRunningInfo,
  ConsumerRunningInfoBody,
  type ConsumeStats,
  ConsumeStatsBody,
  ResetOffsetBody,
  type ResetOffsetTable,
  type TopicStatsTable,
  TopicStatsTableBody,
} from "../protocol/bodies/stats_bodies.ts";
import { CreateTopicRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsRequestHeader, GetTopicStatsInfoRequestHeader } from "../protocol/headers/topic_header.ts";
import { createRequest, type ExtFields, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import { type BrokerReplica, type BrokerTarget, replicasOf } from "./broker_targets.ts";
import { ClientInstance } from "./client_instance.ts";
import { MessageQuery } from "./message_query.ts";
import { PullConsumer } from "./pull_consumer.ts";
import { parseOffsetMsgId } from "../common/message_id.ts";
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
  /** Queues consumers read (default `queues`); more than writeQueueNums while shrinking a topic. */
  readQueueNums?: number;
  /** Queues producers write (default `queues`). */
  writeQueueNums?: number;
  /** Read-write by default (6); 4 read-only, 2 write-only. */
  perm?: number;
  order?: boolean;
  /** Only the masters of this cluster (default: every master). */
  cluster?: string;
}

/** What `updateTopic` changes; the rest of each broker's config stays. */
export interface TopicChanges {
  readQueueNums?: number;
  writeQueueNums?: number;
  /** 6 read-write, 4 read-only, 2 write-only. */
  perm?: number;
  order?: boolean;
}

function checkTopicShape(t: { readQueueNums?: number; writeQueueNums?: number; perm?: number }): void {
  for (const k of ["readQueueNums", "writeQueueNums"] as const) {
    const v = t[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > Limits.maxQueuesPerTopic)) throw new InvalidParameterError(`${k} must be an integer from 1 to ${Limits.maxQueuesPerTopic}, got ${v}`);
  }
  if (t.perm !== undefined && ![2, 4, 6].includes(t.perm & ~Perm.INHERIT)) throw new InvalidParameterError(`perm must be 2 (W), 4 (R) or 6 (RW), got ${t.perm}`);
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

export type { BrokerReplica, BrokerTarget, SubscriptionGroupConfig, SubscriptionGroupSettings };

/** One master's live producers of a group (GET_PRODUCER_CONNECTION_LIST). */
export type ProducerConnection = ReturnType<typeof ProducerConnectionBody.decode> & MasterBroker;

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

  /**
   * Creates (or replaces) `topic` on every master (of `cluster`); the brokers it was created on.
   * `readQueueNums`/`writeQueueNums` default to `queues` (8).
   */
  async createTopic(topic: string, opts: TopicCreation = {}): Promise<MasterBroker[]> {
    validateTopic(topic);
    const queues = opts.queues ?? 8;
    const readQueueNums = opts.readQueueNums ?? queues;
    const writeQueueNums = opts.writeQueueNums ?? queues;
    checkTopicShape({ readQueueNums, writeQueueNums, perm: opts.perm });
    const brokers = await this.masters(opts.cluster);
    if (brokers.length === 0) throw new InvalidParameterError(`no master broker is registered${opts.cluster ? ` in cluster ${opts.cluster}` : ""}`);
    const header = CreateTopicRequestHeader.encode({ topic, readQueueNums, writeQueueNums, perm: opts.perm ?? PERM_READ_WRITE, order: opts.order });
    for (const b of brokers) await this.#call(b.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, header);
    return brokers;
  }

  /**
   * Changes `topic` where it exists (mqadmin updateTopic / updateTopicPerm): what `changes`
   * names, on every master (of `cluster`) that holds it; the rest of each broker's config is
   * kept. Throws TopicNotExistError if no master holds it. Returns each broker's new config.
   */
  async updateTopic(topic: string, changes: TopicChanges, cluster?: string): Promise<(MasterBroker & { config: TopicConfig })[]> {
    validateTopic(topic);
    checkTopicShape(changes);
    const out: (MasterBroker & { config: TopicConfig })[] = [];
    for (const b of await this.masters(cluster)) {
      const r = await this.#call(b.addr, RequestCode.GET_ALL_TOPIC_CONFIG);
      const now = TopicConfigTableBody.decode(r.body, r.serializeType).topicConfigTable[topic];
      if (!now) continue;
      const config: TopicConfig = { ...now, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
      checkTopicShape(config);
      await this.#call(b.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader.encode({
        topic, readQueueNums: config.readQueueNums, writeQueueNums: config.writeQueueNums, perm: config.perm, topicSysFlag: config.topicSysFlag, order: config.order,
      }));
      out.push({ ...b, config });
    }
    if (out.length === 0) throw new TopicNotExistError(topic, `topic ${topic} is on no master broker${cluster ? ` of cluster ${cluster}` : ""}`);
    return out;
  }

  /**
   * Takes write permission off every queue of broker group `brokerName` in the routes of every
   * NameServer (WIPE_WRITE_PERM_OF_BROKER; mqadmin wipeWritePerm): producers move to the other
   * brokers at their next route refresh, consumers keep reading, so the broker drains before
   * maintenance. Lasts until `addWritePerm` or the master's next start. Returns each
   * NameServer's count of topics that lost write permission.
   */
  async wipeWritePerm(brokerName: string): Promise<{ namesrv: string; topics: number }[]> {
    await this.#knownBroker(brokerName);
    return this.#instance.namesrv.writePermOfBroker(brokerName, true);
  }

  /** Undoes `wipeWritePerm` (ADD_WRITE_PERM_OF_BROKER): the broker's own topic permissions again. */
  async addWritePerm(brokerName: string): Promise<{ namesrv: string; topics: number }[]> {
    await this.#knownBroker(brokerName);
    return this.#instance.namesrv.writePermOfBroker(brokerName, false);
  }

  async #knownBroker(brokerName: string): Promise<void> {
    const info = await this.clusterInfo();
    if (!info.brokerAddrTable[brokerName]) {
      throw new InvalidParameterError(`broker ${brokerName} is not registered with the NameServer (known: ${Object.keys(info.brokerAddrTable).sort().join(", ") || "none"})`);
    }
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

  /**
   * The live producers of `group` on every master (GET_PRODUCER_CONNECTION_LIST; mqadmin
   * producerConnection): each broker's list. Throws ResponseError (SYSTEM_ERROR, "not exist",
   * as RocketMQ answers) if no master has one.
   */
  async producerConnections(group: string): Promise<ProducerConnection[]> {
    validateGroup(group);
    const out: ProducerConnection[] = [];
    let none: RemotingCommand | undefined;
    for (const b of await this.masters()) {
      const r = await this.#invoke(b.addr, RequestCode.GET_PRODUCER_CONNECTION_LIST, ProducerGroupRequestHeader.encode({ producerGroup: group }));
      if (r.code === ResponseCode.SUCCESS) out.push({ ...b, ...ProducerConnectionBody.decode(r.body, r.serializeType) });
      else if (r.code === ResponseCode.SYSTEM_ERROR) none = r;
      else throw errorFromResponse(r.code, r.remark, "GET_PRODUCER_CONNECTION_LIST", b.addr);
    }
    if (out.length === 0) throw errorFromResponse(ResponseCode.SYSTEM_ERROR, none?.remark ?? `the producer group[${group}] not exist`, "GET_PRODUCER_CONNECTION_LIST");
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
    return (await this.consumeProgress(group, topic)).offsetTable;
  }

  /** `consumeStats` with the group's consume TPS (messages its pulls got per second over the last minute, summed over the masters). */
  async consumeProgress(group: string, topic?: string): Promise<ConsumeStats> {
    validateGroup(group);
    if (topic) validateTopic(topic);
    const out: ConsumeStats = { offsetTable: [], consumeTps: 0 };
    for (const b of topic ? await this.#mastersOf(topic) : await this.masters()) {
      const r = await this.#call(b.addr, RequestCode.GET_CONSUME_STATS, GetConsumeStatsRequestHeader.encode({ consumerGroup: group, topic }));
      const stats = ConsumeStatsBody.decode(r.body, r.serializeType);
      out.offsetTable.push(...stats.offsetTable);
      out.consumeTps += stats.consumeTps;
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
   * Gives one stored message to one member's listener once more (CONSUME_MESSAGE_DIRECTLY;
   * mqadmin consumeMessage), for debugging: nothing is committed or retried. `msgId` is an offset
   * msgId, or a unique id with `topic`. Returns how the listener took it (CR_SUCCESS, CR_LATER,
   * CR_THROW_EXCEPTION with the stack as remark, …).
   */
  async consumeMessageDirectly(group: string, clientId: string, msgId: string, topic?: string): Promise<ReturnType<typeof ConsumeMessageDirectlyResultBody.decode>> {
    validateGroup(group);
    let offsetMsgId = msgId;
    if (topic !== undefined) {
      validateTopic(topic);
      const query = new MessageQuery({ namesrvAddr: this.#instance.namesrv.addrs as string[], timeoutMs: this.#timeoutMs });
      try {
        const m = await query.getByUniqueId(topic, msgId);
        if (!m) throw errorFromResponse(ResponseCode.NO_MESSAGE, `no message of ${topic} has unique id ${msgId}`, "CONSUME_MESSAGE_DIRECTLY");
        offsetMsgId = m.offsetMsgId;
      } finally {
        query.close();
      }
    }
    const { addr } = parseOffsetMsgId(offsetMsgId);
    const r = await this.#call(addr, RequestCode.CONSUME_MESSAGE_DIRECTLY, ConsumeMessageDirectlyResultRequestHeader.encode({ consumerGroup: group, clientId, msgId: offsetMsgId }), Limits.callConsumerTimeoutMs + this.#timeoutMs);
    return ConsumeMessageDirectlyResultBody.decode(r.body, r.serializeType);
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

  /**
   * One of a broker's statistics over the last minute, hour and day (VIEW_BROKER_STATS_DATA):
   * `statsName` TOPIC_PUT_NUMS / TOPIC_PUT_SIZE (key: a topic), GROUP_GET_NUMS / GROUP_GET_SIZE /
   * SNDBCK_PUT_NUMS (key: `topic@group`), BROKER_PUT_NUMS / BROKER_GET_NUMS (key: the cluster
   * name). A figure never counted there is an error (SYSTEM_ERROR, as RocketMQ answers).
   */
  async brokerStats(addr: string, statsName: string, statsKey: string): Promise<ReturnType<typeof BrokerStatsDataBody.decode>> {
    const r = await this.#call(addr, RequestCode.VIEW_BROKER_STATS_DATA, ViewBrokerStatsDataRequestHeader.encode({ statsName, statsKey }));
    return BrokerStatsDataBody.decode(r.body, r.serializeType);
  }

  /** Every setting of the broker at `addr` as text values (GET_BROKER_CONFIG). */
  async brokerConfig(addr: string): Promise<Record<string, string>> {
    const r = await this.#call(addr, RequestCode.GET_BROKER_CONFIG);
    return parseProperties(fromUtf8(r.body ?? new Uint8Array()), "GET_BROKER_CONFIG answer");
  }

  /**
   * Changes settings of running brokers (UPDATE_BROKER_CONFIG; mqadmin updateBrokerConfig): the
   * live ones change at once and are written to each broker's properties file; any other is
   * refused with INVALID_PARAMETER naming it and why, and then that broker changes nothing.
   * `target`: one address, every replica of a broker group, or every broker of a cluster.
   * Brokers are changed one by one; the first refusal stops there. Returns what changed where.
   */
  async updateBrokerConfig(changes: Record<string, string | number | boolean>, target: BrokerTarget): Promise<(BrokerReplica & { changed: string[] })[]> {
    const lines = Object.entries(changes).map(([k, v]) => {
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(k) || /[\r\n]/.test(String(v))) throw new InvalidParameterError(`not a setting: ${JSON.stringify(k)}=${JSON.stringify(String(v))}`);
      return `${k}=${v}`;
    });
    if (lines.length === 0) throw new InvalidParameterError("name at least one setting to change");
    const out: (BrokerReplica & { changed: string[] })[] = [];
    for (const b of await this.replicas(target)) {
      const r = await this.#call(b.addr, RequestCode.UPDATE_BROKER_CONFIG, undefined, undefined, new TextEncoder().encode(lines.join("\n") + "\n"));
      out.push({ ...b, changed: Object.keys(parseProperties(fromUtf8(r.body ?? new Uint8Array()), "UPDATE_BROKER_CONFIG answer")) });
    }
    return out;
  }

  /** The brokers `target` names (masters and slaves), from the cluster table; throws if none. */
  async replicas(target: BrokerTarget): Promise<BrokerReplica[]> {
    return replicasOf(await this.clusterInfo(), target);
  }

  /**
   * Every broker with its cluster, role and runtime figures (mqadmin clusterList): the runtime
   * is undefined for a broker that does not answer GET_BROKER_RUNTIME_INFO within 2 s.
   */
  async clusterState(): Promise<(BrokerReplica & { cluster: string; role: "MASTER" | "SLAVE"; runtime: Record<string, string> | undefined })[]> {
    const info = await this.clusterInfo();
    const clusterOf = new Map(Object.entries(info.clusterAddrTable).flatMap(([cluster, names]) => names.map((n) => [n, cluster] as const)));
    let brokers: BrokerReplica[] = [];
    try {
      brokers = replicasOf(info, {});
    } catch {
      // none registered: an empty cluster, which callers report
    }
    return await Promise.all(brokers.map(async (b) => ({
      ...b,
      cluster: clusterOf.get(b.brokerName) ?? "",
      role: b.brokerId === MASTER_ID ? "MASTER" as const : "SLAVE" as const,
      runtime: await this.brokerRuntimeInfo(b.addr, 2_000).catch(() => undefined),
    })));
  }

  /** The masters that serve `topic`, by its route. */
  async #mastersOf(topic: string): Promise<MasterBroker[]> {
    const route = await this.topicRoute(topic);
    return route.brokerDatas.map((b) => ({ brokerName: b.brokerName, addr: b.brokerAddrs[String(MASTER_ID)] })).filter((b) => b.addr);
  }

  /**
   * Dead letters of `group` (%DLQ%<group>), oldest first, from queue offset `from` (0), at most
   * `count` (100, up to 100,000); nothing is committed. Empty when the group has none.
   */
  async deadLetters(group: string, opts: { from?: number; count?: number } = {}): Promise<MessageExt[]> {
    validateGroup(group);
    return await this.messagesAt(DLQ_GROUP_TOPIC_PREFIX + group, opts).catch((err) => {
      if (err instanceof TopicNotExistError) return [];
      throw err;
    });
  }

  /**
   * Messages of `topic` read by offset, nothing committed (mqadmin queryMsgByOffset and
   * printMsgByQueue): from queue offset `from` (0) of one queue (`brokerName` and `queueId`), or
   * of every queue, at most `count` (100, up to 100,000).
   */
  async messagesAt(topic: string, opts: { brokerName?: string; queueId?: number; from?: number; count?: number } = {}): Promise<MessageExt[]> {
    validateTopic(topic);
    const count = opts.count ?? 100;
    const from = opts.from ?? 0;
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new InvalidParameterError(`count must be an integer from 1 to 100000, got ${count}`);
    if (!Number.isSafeInteger(from) || from < 0) throw new InvalidParameterError(`from must be an offset ≥ 0, got ${from}`);
    const reader = new PullConsumer({ namesrvAddr: [...this.#instance.namesrv.addrs], group: "bolide-admin-reader", consumeFromWhere: "first", timeoutMs: this.#timeoutMs });
    try {
      const queues = (await reader.queuesOf(topic)).filter((q) => (opts.brokerName === undefined || q.brokerName === opts.brokerName) && (opts.queueId === undefined || q.queueId === opts.queueId));
      if (queues.length === 0) throw new InvalidParameterError(`${topic} has no queue ${opts.brokerName ?? "*"}:${opts.queueId ?? "*"}`);
      await reader.assign(queues);
      for (const q of queues) reader.seek(q, from);
      const out: MessageExt[] = [];
      for (;;) {
        const got = await reader.poll(300, Math.min(256, count - out.length));
        if (got.length === 0 || out.push(...got) >= count) return out.slice(0, count);
      }
    } finally {
      await reader.shutdown();
    }
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
