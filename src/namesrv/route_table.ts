import { InvalidParameterError, SystemBusyError, TopicNotExistError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import {
  type BrokerData,
  type ClusterInfo,
  type DataVersion,
  MASTER_ID,
  Perm,
  type QueueData,
  type TopicConfig,
  type TopicRouteData,
} from "../common/route.ts";

/** What the NameServer remembers of one live broker (keyed by its address). */
export interface BrokerLiveInfo {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  brokerAddr: string;
  haServerAddr: string;
  lastUpdate: number;
  timeoutMs: number;
  dataVersion: DataVersion | undefined;
  /** The connection it registered on: when that closes, the broker leaves every route. */
  connectionId: number;
}

export interface Registration {
  clusterName: string;
  brokerName: string;
  brokerAddr: string;
  brokerId: number;
  haServerAddr: string;
  timeoutMs: number;
  connectionId: number;
  /** The broker's whole topic table, or undefined when the registration carried no body. */
  topics: Record<string, TopicConfig> | undefined;
  dataVersion: DataVersion | undefined;
}

export interface RegisterResult {
  masterAddr?: string;
  haServerAddr?: string;
}

/**
 * The NameServer's tables (RocketMQ's RouteInfoManager): topic → queue data per broker group,
 * broker group → addresses by id, cluster → groups, and liveness per broker address. Every table
 * is bounded by Limits.maxBrokers and Limits.maxTopics.
 */
export class RouteTable {
  readonly #topics = new Map<string, Map<string, QueueData>>();
  readonly #brokers = new Map<string, { cluster: string; brokerName: string; addrs: Map<number, string> }>();
  readonly #clusters = new Map<string, Set<string>>();
  readonly #live = new Map<string, BrokerLiveInfo>();
  /** Broker groups whose queues are handed out without write permission (WIPE_WRITE_PERM_OF_BROKER). */
  readonly #writeWiped = new Set<string>();
  readonly #maxBrokers: number;
  readonly #maxTopics: number;

  constructor(limits: { maxBrokers?: number; maxTopics?: number } = {}) {
    this.#maxBrokers = limits.maxBrokers ?? Limits.maxBrokers;
    this.#maxTopics = limits.maxTopics ?? Limits.maxTopics;
  }

  get brokerCount(): number {
    return this.#live.size;
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  isLive(brokerAddr: string): boolean {
    return this.#live.has(brokerAddr);
  }

  register(r: Registration, now: number): RegisterResult {
    const prev = this.#live.get(r.brokerAddr);
    if (!prev && this.#live.size >= this.#maxBrokers) {
      throw new SystemBusyError(`NameServer holds ${this.#live.size} brokers, its maximum; registration of ${r.brokerAddr} refused`);
    }
    if (r.topics) this.#checkTopicCapacity(r.brokerName, r.topics);

    let cluster = this.#clusters.get(r.clusterName);
    if (!cluster) this.#clusters.set(r.clusterName, cluster = new Set());
    cluster.add(r.brokerName);

    let group = this.#brokers.get(r.brokerName);
    if (!group) this.#brokers.set(r.brokerName, group = { cluster: r.clusterName, brokerName: r.brokerName, addrs: new Map() });
    group.cluster = r.clusterName;
    // An address that changes role (slave promoted to master) must not stay under its old id.
    for (const [id, addr] of group.addrs) if (addr === r.brokerAddr && id !== r.brokerId) group.addrs.delete(id);
    // Another address holding this id has been replaced by the one registering now.
    const replaced = group.addrs.get(r.brokerId);
    if (replaced !== undefined && replaced !== r.brokerAddr) this.#live.delete(replaced);
    group.addrs.set(r.brokerId, r.brokerAddr);

    // A master registering afresh (restarted after maintenance) is writable again, as in RocketMQ,
    // where its first registration replaces the wiped queue data.
    if (!prev && r.brokerId === MASTER_ID) this.#writeWiped.delete(r.brokerName);
    const versionChanged = !prev || !sameVersion(prev.dataVersion, r.dataVersion);
    if (r.brokerId === MASTER_ID && r.topics && versionChanged) this.#replaceTopicsOf(r.brokerName, r.topics);

    this.#live.set(r.brokerAddr, {
      clusterName: r.clusterName,
      brokerName: r.brokerName,
      brokerId: r.brokerId,
      brokerAddr: r.brokerAddr,
      haServerAddr: r.haServerAddr,
      lastUpdate: now,
      timeoutMs: r.timeoutMs,
      dataVersion: r.dataVersion,
      connectionId: r.connectionId,
    });

    if (r.brokerId === MASTER_ID) return {};
    const masterAddr = group.addrs.get(MASTER_ID);
    if (masterAddr === undefined) return {};
    return { masterAddr, haServerAddr: this.#live.get(masterAddr)?.haServerAddr ?? "" };
  }

  /** Removes one broker address from every table; returns whether it was known. */
  unregister(brokerAddr: string): boolean {
    const info = this.#live.get(brokerAddr);
    this.#live.delete(brokerAddr);
    let found = info !== undefined;
    for (const [name, group] of this.#brokers) {
      for (const [id, addr] of group.addrs) {
        if (addr !== brokerAddr) continue;
        group.addrs.delete(id);
        found = true;
      }
      // A group whose master is gone keeps its queues while slaves remain: clients read from them.
      if (group.addrs.size === 0) this.#removeGroup(name, group.cluster);
    }
    return found;
  }

  /** Drops brokers not heard from within their timeout; returns the dropped addresses. */
  expire(now: number): BrokerLiveInfo[] {
    const dropped: BrokerLiveInfo[] = [];
    for (const info of [...this.#live.values()]) {
      if (now - info.lastUpdate > info.timeoutMs) {
        this.unregister(info.brokerAddr);
        dropped.push(info);
      }
    }
    return dropped;
  }

  /** Drops every broker that registered over the connection that just closed. */
  dropConnection(connectionId: number): BrokerLiveInfo[] {
    const dropped: BrokerLiveInfo[] = [];
    for (const info of [...this.#live.values()]) {
      if (info.connectionId === connectionId) {
        this.unregister(info.brokerAddr);
        dropped.push(info);
      }
    }
    return dropped;
  }

  route(topic: string): TopicRouteData {
    const queues = this.#topics.get(topic);
    if (!queues || queues.size === 0) {
      throw new TopicNotExistError(topic, `No topic route info in name server for the topic: ${topic}`);
    }
    const queueDatas: QueueData[] = [];
    const brokerDatas: BrokerData[] = [];
    for (const [brokerName, q] of queues) {
      queueDatas.push(this.#writeWiped.has(brokerName) ? { ...q, perm: q.perm & ~Perm.WRITE } : { ...q });
      const group = this.#brokers.get(brokerName);
      if (group) brokerDatas.push(brokerDataOf(group));
    }
    queueDatas.sort((a, b) => a.brokerName.localeCompare(b.brokerName));
    brokerDatas.sort((a, b) => a.brokerName.localeCompare(b.brokerName));
    return { queueDatas, brokerDatas, filterServerTable: {} };
  }

  /**
   * WIPE_WRITE_PERM_OF_BROKER: routes hand out `brokerName`'s queues without write permission,
   * so producers move to other brokers at their next route refresh while consumers keep reading.
   * The broker's own topic permissions are kept underneath; returns the topics that lost it.
   */
  wipeWritePerm(brokerName: string): number {
    const n = this.#writableTopicsOf(brokerName);
    this.#writeWiped.add(brokerName);
    return n;
  }

  /** ADD_WRITE_PERM_OF_BROKER: the broker's own permissions again; returns the topics writable again. */
  addWritePerm(brokerName: string): number {
    if (!this.#writeWiped.delete(brokerName)) return 0;
    return this.#writableTopicsOf(brokerName);
  }

  /** Broker groups whose write permission is wiped. */
  writeWiped(): string[] {
    return [...this.#writeWiped].sort();
  }

  #writableTopicsOf(brokerName: string): number {
    let n = 0;
    for (const queues of this.#topics.values()) if (((queues.get(brokerName)?.perm ?? 0) & Perm.WRITE) !== 0) n++;
    return n;
  }

  clusterInfo(): ClusterInfo {
    const brokerAddrTable: Record<string, BrokerData> = {};
    for (const [name, group] of this.#brokers) brokerAddrTable[name] = brokerDataOf(group);
    const clusterAddrTable: Record<string, string[]> = {};
    for (const [cluster, names] of this.#clusters) clusterAddrTable[cluster] = [...names].sort();
    return { brokerAddrTable, clusterAddrTable };
  }

  topicList(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /** Removes a topic everywhere, or only from the groups of one cluster. */
  deleteTopic(topic: string, clusterName?: string): boolean {
    const queues = this.#topics.get(topic);
    if (!queues) return false;
    if (clusterName === undefined) return this.#topics.delete(topic);
    const names = this.#clusters.get(clusterName);
    if (!names) return false;
    for (const name of names) queues.delete(name);
    if (queues.size === 0) this.#topics.delete(topic);
    return true;
  }

  #checkTopicCapacity(brokerName: string, topics: Record<string, TopicConfig>): void {
    let added = 0;
    for (const t in topics) if (!this.#topics.has(t)) added++;
    if (this.#topics.size + added > this.#maxTopics) {
      throw new SystemBusyError(
        `NameServer would hold ${this.#topics.size + added} topics, above its maximum of ${this.#maxTopics}; registration of ${brokerName} refused`,
      );
    }
  }

  /** A master's registration carries its whole topic table: topics it no longer lists lose its queues. */
  #replaceTopicsOf(brokerName: string, topics: Record<string, TopicConfig>): void {
    for (const [topic, queues] of this.#topics) {
      if (!(topic in topics) && queues.delete(brokerName) && queues.size === 0) this.#topics.delete(topic);
    }
    for (const [topic, tc] of Object.entries(topics)) {
      let queues = this.#topics.get(topic);
      if (!queues) this.#topics.set(topic, queues = new Map());
      queues.set(brokerName, {
        brokerName,
        readQueueNums: tc.readQueueNums,
        writeQueueNums: tc.writeQueueNums,
        perm: tc.perm,
        topicSysFlag: tc.topicSysFlag ?? 0,
      });
    }
  }

  #removeGroup(brokerName: string, clusterName: string): void {
    this.#brokers.delete(brokerName);
    const names = this.#clusters.get(clusterName);
    names?.delete(brokerName);
    if (names && names.size === 0) this.#clusters.delete(clusterName);
    for (const [topic, queues] of this.#topics) {
      if (queues.delete(brokerName) && queues.size === 0) this.#topics.delete(topic);
    }
  }
}

function brokerDataOf(group: { cluster: string; brokerName: string; addrs: Map<number, string> }): BrokerData {
  const brokerAddrs: Record<string, string> = {};
  for (const [id, addr] of [...group.addrs].sort((a, b) => a[0] - b[0])) brokerAddrs[String(id)] = addr;
  return { cluster: group.cluster, brokerName: group.brokerName, brokerAddrs };
}

function sameVersion(a: DataVersion | undefined, b: DataVersion | undefined): boolean {
  if (!a || !b) return false;
  return a.timestamp === b.timestamp && a.counter === b.counter;
}

/** Checks one topic config from a registration body; throws InvalidParameterError naming the fault. */
export function validateTopicConfig(name: string, tc: unknown): TopicConfig {
  if (typeof tc !== "object" || tc === null) throw new InvalidParameterError(`Topic config of "${name}" is not a map`);
  const t = tc as Record<string, unknown>;
  const count = (key: string): number => {
    const v = t[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > Limits.maxQueueNums) {
      throw new InvalidParameterError(`Topic config of "${name}": ${key} must be an integer from 0 to ${Limits.maxQueueNums}`);
    }
    return v;
  };
  const perm = t.perm ?? 6;
  if (typeof perm !== "number" || !Number.isInteger(perm) || perm < 0 || perm > 15) {
    throw new InvalidParameterError(`Topic config of "${name}": perm must be an integer from 0 to 15`);
  }
  const sys = t.topicSysFlag ?? 0;
  if (typeof sys !== "number" || !Number.isInteger(sys)) {
    throw new InvalidParameterError(`Topic config of "${name}": topicSysFlag must be an integer`);
  }
  return {
    topicName: name,
    readQueueNums: count("readQueueNums"),
    writeQueueNums: count("writeQueueNums"),
    perm,
    topicSysFlag: sys,
    order: t.order === true,
  };
}
