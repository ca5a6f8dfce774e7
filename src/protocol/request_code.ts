/** Request codes, with Apache RocketMQ's numbers (reference §1.4). */
export const RequestCode = {
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_MESSAGE: 12,
  QUERY_BROKER_OFFSET: 13,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  UPDATE_AND_CREATE_TOPIC_LIST: 18,
  GET_ALL_TOPIC_CONFIG: 21,
  GET_TOPIC_CONFIG_LIST: 22,
  UPDATE_BROKER_CONFIG: 25,
  GET_BROKER_CONFIG: 26,
  GET_BROKER_RUNTIME_INFO: 28,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  GET_EARLIEST_MSG_STORETIME: 32,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  CONSUMER_SEND_MSG_BACK: 36,
  END_TRANSACTION: 37,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  CHECK_TRANSACTION_STATE: 39,
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  LOCK_BATCH_MQ: 41,
  UNLOCK_BATCH_MQ: 42,
  GET_ALL_CONSUMER_OFFSET: 43,
  GET_ALL_DELAY_OFFSET: 45,
  PUT_KV_CONFIG: 100,
  GET_KV_CONFIG: 101,
  DELETE_KV_CONFIG: 102,
  REGISTER_BROKER: 103,
  UNREGISTER_BROKER: 104,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: 200,
  GET_ALL_SUBSCRIPTIONGROUP_CONFIG: 201,
  GET_TOPIC_STATS_INFO: 202,
  GET_CONSUMER_CONNECTION_LIST: 203,
  GET_PRODUCER_CONNECTION_LIST: 204,
  /** NameServer: take write permission off every queue of a broker group in the routes it hands out. */
  WIPE_WRITE_PERM_OF_BROKER: 205,
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206,
  DELETE_SUBSCRIPTIONGROUP: 207,
  GET_CONSUME_STATS: 208,
  DELETE_TOPIC_IN_BROKER: 215,
  DELETE_TOPIC_IN_NAMESRV: 216,
  /** Broker → consumer: move to these offsets now (body ResetOffsetBody). */
  RESET_CONSUMER_CLIENT_OFFSET: 220,
  /** Admin → broker: reset a group's offsets on a topic by time (and tell its live members). */
  INVOKE_BROKER_TO_RESET_OFFSET: 222,
  GET_CONSUMER_RUNNING_INFO: 307,
  /** NameServer: give a wiped broker's queues their write permission back. */
  ADD_WRITE_PERM_OF_BROKER: 327,
  CONSUME_MESSAGE_DIRECTLY: 309,
  /** One BrokerStatsManager figure (e.g. TOPIC_PUT_NUMS of a topic) over the last minute, hour and day. */
  VIEW_BROKER_STATS_DATA: 315,
  SEND_MESSAGE_V2: 310,
  SEND_BATCH_MESSAGE: 320,
  LITE_PULL_MESSAGE: 361,
  BROKER_HEARTBEAT: 904,
  POP_MESSAGE: 200050,
  ACK_MESSAGE: 200051,
  CHANGE_MESSAGE_INVISIBLETIME: 200053,
  /** Bolide's own: cancel a pending delayed or timer message by topic and unique id. */
  CANCEL_DELAYED_MESSAGE: 900_001,
  /** Bolide's own, on the HA port: a slave's acknowledgement of its CommitLog end and its pull of what follows. */
  HA_PULL: 900_010,
  /** Controller mode: a replica's heartbeat, answered with its group's master, epoch and sync state set. */
  CONTROLLER_HEARTBEAT: 900_020,
  /** Controller mode: every broker group's view (admin). */
  CONTROLLER_GET_GROUPS: 900_021,
  /** RocketMQ's code: the master changes its group's sync state set. */
  CONTROLLER_ALTER_SYNC_STATE_SET: 1001,
} as const;

export type RequestCodeName = keyof typeof RequestCode;

const namesByCode = new Map<number, string>(
  Object.entries(RequestCode).map(([name, code]) => [code, name]),
);

export function requestCodeName(code: number): string {
  return `${namesByCode.get(code) ?? "UNKNOWN"}(${code})`;
}
