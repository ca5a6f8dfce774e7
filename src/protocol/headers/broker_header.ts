import { defineHeader, field, optional } from "./header_schema.ts";

/** A broker's names and addresses: 1 to 255 characters each. */
const name = () => field.string({ minLength: 1, maxLength: 255 });

export const RegisterBrokerRequestHeader = defineHeader("RegisterBrokerRequestHeader", {
  brokerName: name(),
  brokerAddr: name(),
  clusterName: name(),
  haServerAddr: optional(field.string()),
  brokerId: field.int({ min: 0 }),
  /** How long the NameServer may go without hearing from this broker before dropping it. */
  heartbeatTimeoutMillis: optional(field.int({ min: 1 })),
  compressed: optional(field.bool()),
});

export const RegisterBrokerResponseHeader = defineHeader("RegisterBrokerResponseHeader", {
  haServerAddr: optional(field.string()),
  masterAddr: optional(field.string()),
});

export const UnregisterBrokerRequestHeader = defineHeader("UnregisterBrokerRequestHeader", {
  brokerName: optional(name()),
  brokerAddr: name(),
  clusterName: optional(name()),
  brokerId: optional(field.int({ min: 0 })),
});

/** HA_PULL (Bolide's replication, on the HA port): a slave's end offset, which is also its acknowledgement. */
export const HaPullRequestHeader = defineHeader("HaPullRequestHeader", {
  offset: field.int({ min: 0 }),
  brokerId: field.int({ min: 0 }),
  holdMs: optional(field.int()),
  epoch: optional(field.int({ min: 0 })),
});

export const HaPullResponseHeader = defineHeader("HaPullResponseHeader", {
  offset: optional(field.int({ min: 0 })),
  next: optional(field.int({ min: 0 })),
  masterMaxOffset: optional(field.int({ min: 0 })),
  masterMinOffset: optional(field.int({ min: 0 })),
  /** HA_OFFSET_ILLEGAL in controller mode: the replica must cut its log here. */
  truncateTo: optional(field.int({ min: 0 })),
  /** The master's epoch entries as JSON, when the replica's newest epoch differs. */
  epochs: optional(field.string()),
});

export const ControllerHeartbeatRequestHeader = defineHeader("BrokerHeartbeatRequestHeader", {
  clusterName: field.string(),
  brokerName: field.string(),
  brokerId: field.int({ min: 0 }),
  addr: field.string(),
  haAddr: optional(field.string()),
  epoch: field.int({ min: 0 }),
  maxOffset: field.int({ min: 0 }),
  isMaster: optional(field.bool()),
});

/** The controller's view of a broker group: its answer to heartbeats and to AlterSyncStateSet. */
export const GroupViewResponseHeader = defineHeader("GetReplicaInfoResponseHeader", {
  brokerName: optional(field.string()),
  epoch: field.int({ min: 0 }),
  masterId: field.int({ min: 0 }),
  masterAddr: optional(field.string()),
  masterHaAddr: optional(field.string()),
  epochStartOffset: optional(field.int()),
  /** Broker ids separated by commas. */
  syncStateSet: optional(field.string()),
});

export const AlterSyncStateSetRequestHeader = defineHeader("AlterSyncStateSetRequestHeader", {
  brokerName: field.string(),
  masterId: field.int({ min: 0 }),
  epoch: field.int({ min: 0 }),
  syncStateSet: field.string(),
});

export const NotLeaderResponseHeader = defineHeader("NotLeaderResponseHeader", { leaderAddr: optional(field.string()) });

/** WIPE_WRITE_PERM_OF_BROKER and ADD_WRITE_PERM_OF_BROKER (to each NameServer): one broker group. */
export const WritePermOfBrokerRequestHeader = defineHeader("WipeWritePermOfBrokerRequestHeader", { brokerName: field.string() });

/** WIPE_WRITE_PERM_OF_BROKER's answer: the topics that lost write permission. */
export const WipeWritePermOfBrokerResponseHeader = defineHeader("WipeWritePermOfBrokerResponseHeader", { wipeTopicCount: field.int({ min: 0 }) });

/** ADD_WRITE_PERM_OF_BROKER's answer: the topics that got it back. */
export const AddWritePermOfBrokerResponseHeader = defineHeader("AddWritePermOfBrokerResponseHeader", { addTopicCount: field.int({ min: 0 }) });

/** GET_BROKER_CONFIG's answer: the settings' data version, as RocketMQ's DataVersion JSON. */
export const GetBrokerConfigResponseHeader = defineHeader("GetBrokerConfigResponseHeader", { version: optional(field.string()) });

/** VIEW_BROKER_STATS_DATA: a stats name (TOPIC_PUT_NUMS, GROUP_GET_NUMS, …) and its key (a topic, `topic@group`, the cluster name). */
export const ViewBrokerStatsDataRequestHeader = defineHeader("ViewBrokerStatsDataRequestHeader", { statsName: field.string(), statsKey: field.string() });
