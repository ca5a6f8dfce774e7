/** Route and topic types shared by the NameServer, brokers and clients (RocketMQ's shapes). */

/** Permission bits of a topic or broker (RocketMQ PermName). */
export const Perm = {
  PRIORITY: 8,
  READ: 4,
  WRITE: 2,
  INHERIT: 1,
} as const;
export const PERM_READ_WRITE = Perm.READ | Perm.WRITE;

/** brokerId of a group's master; slaves have ids above it. */
export const MASTER_ID = 0;

export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag?: number;
  order?: boolean;
}

export interface DataVersion {
  timestamp: number;
  counter: number;
}

/** Body of REGISTER_BROKER: the broker's whole topic table, versioned. */
export interface RegisterBrokerBody {
  topicConfigSerializeWrapper: {
    topicConfigTable: Record<string, TopicConfig>;
    dataVersion: DataVersion;
  };
  filterServerList?: string[];
}

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId (as a decimal string, as in RocketMQ's JSON) → "host:port". */
  brokerAddrs: Record<string, string>;
}

/**
 * Where a consumer reads a broker group: its master, or while the group has none (the master is
 * down), its lowest-numbered slave, which holds the master's replicated log.
 */
export function readAddr(b: BrokerData): string | undefined {
  const master = b.brokerAddrs[String(MASTER_ID)];
  if (master) return master;
  const ids = Object.keys(b.brokerAddrs).map(Number).filter((id) => Number.isInteger(id) && id > 0).sort((x, y) => x - y);
  return ids.length > 0 ? b.brokerAddrs[String(ids[0])] : undefined;
}

export interface TopicRouteData {
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Record<string, string[]>;
}

export interface ClusterInfo {
  brokerAddrTable: Record<string, BrokerData>;
  clusterAddrTable: Record<string, string[]>;
}

export interface TopicList {
  topicList: string[];
}
