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
