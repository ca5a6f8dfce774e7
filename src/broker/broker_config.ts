import { InvalidParameterError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import type { ServerLimits } from "../remoting/remoting_server.ts";
import type { FlushDiskType } from "../store/store_config.ts";
import { DEFAULT_DELAY_LEVELS, parseDelayLevels } from "./schedule_message_service.ts";

/** Broker settings, with RocketMQ's property names (a RocketMQ operator's broker.conf works). */
export interface BrokerConfig {
  brokerClusterName: string;
  brokerName: string;
  /** 0 = master; above 0 = slave. */
  brokerId: number;
  /** NameServer addresses, ";"-separated. */
  namesrvAddr: string;
  listenPort: number;
  brokerIP1: string;
  storePathRootDir: string;
  flushDiskType: FlushDiskType;
  brokerRole: "ASYNC_MASTER" | "SYNC_MASTER" | "SLAVE";
  autoCreateTopicEnable: boolean;
  autoCreateSubscriptionGroup: boolean;
  defaultTopicQueueNums: number;
  maxMessageSize: number;
  registerNameServerPeriod: number;
  flushConsumerOffsetInterval: number;
  channelExpiredTimeout: number;
  /** Longest a pull may be held waiting for messages, whatever the client asks. */
  maxSuspendTimeoutMillis: number;
  /** Sends queued (received, not yet stored) past which new sends get SYSTEM_BUSY. */
  maxSendBacklog: number;
  commitLogSegmentBytes: number;
  /** Hours a CommitLog segment is kept after its last write (RocketMQ's fileReservedTime; fractions allowed). */
  fileReservedTime: number;
  /** Hours of the day at which expired segments are deleted, "04" or "03;04" (RocketMQ's deleteWhen). */
  deleteWhen: string;
  /** Disk usage (percent) above which expired segments are deleted at any hour (RocketMQ's diskMaxUsedSpaceRatio). */
  diskMaxUsedSpaceRatio: number;
  /** Delay of each level, "1s 5s 10s …" (units ms, s, m, h, d); retries use levels 3 and up. */
  messageDelayLevel: string;
  /** Sends back past which a message goes to the dead-letter queue, unless the consumer says otherwise. */
  maxReconsumeTimes: number;
  flushDelayOffsetInterval: number;
  /** Longest delay a timer message (deliverAt / delayMs) may ask for. */
  timerMaxDelayMs: number;
  /** A timer further out is stored again after this long, so retention never removes it. */
  timerRollIntervalMs: number;
  timerFlushIntervalMs: number;
  timerSegmentBytes: number;
  /** A due delayed or timer message whose topic is not writable now is parked again this much later. */
  putBackRetryMillis: number;
  /** A half message undecided this long gets a check-back. */
  transactionTimeout: number;
  transactionCheckInterval: number;
  /** Check-backs before an undecided half message is parked in TRANS_CHECK_MAX_TIME_TOPIC. */
  transactionCheckMax: number;
  /** Port slaves replicate from; -1 = listenPort + 1 (a free port when listenPort is 0). */
  haListenPort: number;
  /** A slave's master HA address; empty = the one the NameServer reports for this brokerName. */
  haMasterAddress: string;
  /** Replicas, the master included, holding a message before a SYNC_MASTER send is acknowledged. */
  inSyncReplicas: number;
  /** How long a SYNC_MASTER send waits for its slaves before FLUSH_SLAVE_TIMEOUT. */
  slaveTimeout: number;
  haMaxGapNotInSync: number;
  haHousekeepingInterval: number;
  haSendHeartbeatInterval: number;
  haTransferBatchSize: number;
  /** How often a slave copies topics, consumer offsets and delay progress from its master. */
  haMetadataSyncInterval: number;
  /** A slave not caught up for this long leaves the sync state set (controller mode). */
  haMaxTimeSlaveNotCatchup: number;
  /** Automatic failover: roles come from a controller (every brokerId ≥ 1; brokerRole is the master's flavour). */
  enableControllerMode: boolean;
  /** Controller addresses, ";"-separated; empty = the NameServers (each embeds one). */
  controllerAddr: string;
  controllerHeartbeatInterval: number;
  /**
   * An ASYNC master (or a SYNC one with inSyncReplicas 1) that has not reached the controller
   * for this long stops acknowledging sends, so an isolated master never acknowledges alongside
   * a new one. Keep it below the controller's heartbeat timeout (1,500 ms by default).
   */
  controllerLeaseMs: number;
  /** Let consumers that lag far behind read from a slave (RocketMQ's slaveReadEnable). */
  slaveReadEnable: boolean;
  /** "Far behind": more than this percent of the machine's memory behind the log's end … */
  accessMessageInMemoryMaxRatio: number;
  /** … or, when above 0, more than this many bytes. */
  consumeSlowlyLagBytes: number;
  /** The slave such consumers are sent to. */
  whichBrokerWhenConsumeSlowly: number;
  /** A connection with no registered client that sends nothing this long is closed (RocketMQ's name). */
  serverChannelMaxIdleTimeSeconds: number;
  /** Connections accepted at once, in total and from one client address. */
  serverMaxConnections: number;
  serverMaxConnectionsPerAddress: number;
  /** A frame begun must be complete within this; unread answers close their connection after this. */
  serverFrameReadTimeoutMillis: number;
  serverWriteStallTimeoutMillis: number;
  /** Connection memory: incomplete frames and queued answers over all connections. */
  serverMaxBufferedFrameBytes: number;
  serverMaxWriteBacklogBytes: number;
}

type Kind = "string" | "int" | "number" | "bool" | "enum";
interface Setting {
  kind: Kind;
  default: string | number | boolean;
  help: string;
  values?: readonly string[];
  min?: number;
  max?: number;
}

export const BROKER_SETTINGS: Record<keyof BrokerConfig, Setting> = {
  brokerClusterName: { kind: "string", default: "DefaultCluster", help: "cluster this broker belongs to" },
  brokerName: { kind: "string", default: "broker-a", help: "broker group name (master and slaves share it)" },
  brokerId: { kind: "int", default: 0, min: 0, max: 1024, help: "0 for the master, above 0 for a slave" },
  namesrvAddr: { kind: "string", default: "127.0.0.1:9876", help: "NameServer addresses, host:port;host:port" },
  listenPort: { kind: "int", default: 10911, min: 0, max: 65535, help: "port clients connect to (0 picks a free one)" },
  brokerIP1: { kind: "string", default: "127.0.0.1", help: "address this broker listens on and advertises" },
  storePathRootDir: { kind: "string", default: "./data/store", help: "directory of the message store" },
  flushDiskType: { kind: "enum", default: "ASYNC_FLUSH", values: ["ASYNC_FLUSH", "SYNC_FLUSH"], help: "acknowledge after write (ASYNC) or after fdatasync (SYNC)" },
  brokerRole: { kind: "enum", default: "ASYNC_MASTER", values: ["ASYNC_MASTER", "SYNC_MASTER", "SLAVE"], help: "replication role" },
  autoCreateTopicEnable: { kind: "bool", default: true, help: "create topics on first send" },
  autoCreateSubscriptionGroup: { kind: "bool", default: true, help: "create a consumer group's settings at its first heartbeat (off: unknown groups are refused)" },
  defaultTopicQueueNums: { kind: "int", default: 8, min: 1, max: 1024, help: "queues of an auto-created topic" },
  maxMessageSize: { kind: "int", default: 4 * 1024 * 1024, min: 1024, max: 4 * 1024 * 1024, help: "largest message body in bytes" },
  registerNameServerPeriod: { kind: "int", default: 30_000, min: 100, max: 60_000, help: "ms between registrations with each NameServer" },
  flushConsumerOffsetInterval: { kind: "int", default: 5_000, min: 10, max: 600_000, help: "ms between writes of consumerOffset.json" },
  channelExpiredTimeout: { kind: "int", default: 120_000, min: 100, max: 3_600_000, help: "ms after which a silent client is dropped" },
  maxSuspendTimeoutMillis: { kind: "int", default: 30_000, min: 0, max: 300_000, help: "longest a long-polling pull is held" },
  maxSendBacklog: { kind: "int", default: 10_000, min: 1, max: 1_000_000, help: "sends in progress before SYSTEM_BUSY" },
  fileReservedTime: { kind: "number", default: 72, min: 0.001, max: 87_600, help: "hours a CommitLog segment is kept (fractions allowed)" },
  deleteWhen: { kind: "string", default: "04", help: "hours of the day expired segments are deleted at, \"04\" or \"03;04\"" },
  diskMaxUsedSpaceRatio: { kind: "int", default: 75, min: 1, max: 90, help: "disk usage percent above which expired segments are deleted at any hour" },
  commitLogSegmentBytes: { kind: "int", default: 1024 * 1024 * 1024, min: 1024 * 1024, max: 2 ** 40, help: "CommitLog segment size" },
  messageDelayLevel: { kind: "string", default: DEFAULT_DELAY_LEVELS, help: "delay of each delay level (retries back off along them)" },
  maxReconsumeTimes: { kind: "int", default: 16, min: 0, max: 10_000, help: "an auto-created group's retryMaxTimes: retries before a message goes to %DLQ%<group>" },
  flushDelayOffsetInterval: { kind: "int", default: 10_000, min: 10, max: 600_000, help: "ms between writes of delayOffset.json" },
  timerMaxDelayMs: { kind: "int", default: 90 * 86_400_000, min: 1_000, max: 3_650 * 86_400_000, help: "longest delay of a timer message" },
  timerRollIntervalMs: { kind: "int", default: 86_400_000, min: 1_000, max: 30 * 86_400_000, help: "ms after which a far timer is stored again (keep below retention)" },
  timerFlushIntervalMs: { kind: "int", default: 1_000, min: 10, max: 60_000, help: "ms between syncs of the TimerLog" },
  timerSegmentBytes: { kind: "int", default: 48 * 1024 * 1024, min: 48 * 1024, max: 48 * 1024 * 1024 * 64, help: "TimerLog segment size (a multiple of 48)" },
  putBackRetryMillis: { kind: "int", default: Limits.putBackRetryMs, min: 10, max: 3_600_000, help: "ms a due delayed message waits again when its topic is not writable" },
  transactionTimeout: { kind: "int", default: 6_000, min: 10, max: 86_400_000, help: "ms a half message may stay undecided before a check-back" },
  transactionCheckInterval: { kind: "int", default: 30_000, min: 10, max: 3_600_000, help: "ms between check-back rounds" },
  transactionCheckMax: { kind: "int", default: 15, min: 1, max: 1_000, help: "check-backs before a half message is parked" },
  haListenPort: { kind: "int", default: -1, min: -1, max: 65535, help: "replication port (-1: listenPort + 1, or a free port when listenPort is 0)" },
  haMasterAddress: { kind: "string", default: "", help: "slave: the master's HA host:port (default: learned from the NameServer)" },
  inSyncReplicas: { kind: "int", default: 2, min: 1, max: 16, help: "SYNC_MASTER: replicas, the master included, that must hold a message before it is acknowledged" },
  slaveTimeout: { kind: "int", default: 3_000, min: 10, max: 60_000, help: "SYNC_MASTER: ms to wait for slaves before FLUSH_SLAVE_TIMEOUT" },
  haMaxGapNotInSync: { kind: "int", default: 256 * 1024 * 1024, min: 1024, max: 2 ** 40, help: "bytes behind after which a slave is not in sync" },
  haHousekeepingInterval: { kind: "int", default: 20_000, min: 100, max: 600_000, help: "ms of silence after which a slave is dropped" },
  haSendHeartbeatInterval: { kind: "int", default: 5_000, min: 50, max: 60_000, help: "longest a slave's replication pull waits on an idle master" },
  haTransferBatchSize: { kind: "int", default: 256 * 1024, min: 4 * 1024, max: 16 * 1024 * 1024 - 4096, help: "largest chunk of records per replication answer" },
  haMetadataSyncInterval: { kind: "int", default: 10_000, min: 50, max: 600_000, help: "slave: ms between copies of topics, offsets and delay progress from the master" },
  haMaxTimeSlaveNotCatchup: { kind: "int", default: 15_000, min: 100, max: 600_000, help: "controller mode: ms a slave may lag before it leaves the sync state set" },
  enableControllerMode: { kind: "bool", default: false, help: "automatic failover: the controller picks the master (brokerId >= 1 on every replica)" },
  controllerAddr: { kind: "string", default: "", help: "controller addresses host:port;host:port (default: the NameServers)" },
  controllerHeartbeatInterval: { kind: "int", default: 300, min: 20, max: 10_000, help: "controller mode: ms between heartbeats to the controller" },
  controllerLeaseMs: { kind: "int", default: 1_000, min: 50, max: 60_000, help: "controller mode: an ASYNC master out of touch with the controller this long stops acknowledging sends" },
  slaveReadEnable: { kind: "bool", default: false, help: "send consumers that lag far behind to a slave (suggestWhichBrokerId)" },
  accessMessageInMemoryMaxRatio: { kind: "int", default: 40, min: 1, max: 100, help: "far behind = more than this percent of memory behind the log's end" },
  consumeSlowlyLagBytes: { kind: "int", default: 0, min: 0, max: 2 ** 50, help: "far behind = more than this many bytes (0: use accessMessageInMemoryMaxRatio)" },
  whichBrokerWhenConsumeSlowly: { kind: "int", default: 1, min: 1, max: 1024, help: "the slave lagging consumers read from" },
  serverChannelMaxIdleTimeSeconds: { kind: "int", default: Limits.connectionIdleTimeoutMs / 1000, min: 1, max: 86_400, help: "seconds after which a silent connection with no registered client is closed" },
  serverMaxConnections: { kind: "int", default: Limits.maxConnections, min: 1, max: 1_000_000, help: "connections accepted at once" },
  serverMaxConnectionsPerAddress: { kind: "int", default: Limits.maxConnectionsPerAddress, min: 1, max: 1_000_000, help: "connections accepted at once from one client address" },
  serverFrameReadTimeoutMillis: { kind: "int", default: Limits.frameReadTimeoutMs, min: 100, max: 3_600_000, help: "ms within which a frame begun must be complete" },
  serverWriteStallTimeoutMillis: { kind: "int", default: Limits.writeStallTimeoutMs, min: 1_000, max: 3_600_000, help: "ms a client may leave answers unread before its connection is closed" },
  serverMaxBufferedFrameBytes: { kind: "int", default: Limits.maxBufferedFrameBytesTotal, min: Limits.maxFrameBytes, max: 2 ** 40, help: "bytes of incomplete frames held over all connections" },
  serverMaxWriteBacklogBytes: { kind: "int", default: Limits.maxWriteBacklogBytesTotal, min: Limits.maxWriteBacklogBytes, max: 2 ** 40, help: "bytes of answers queued over all connections" },
};

function parseValue(name: string, raw: string, s: Setting): string | number | boolean {
  const v = raw.trim();
  if (s.kind === "int") {
    if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`Setting ${name}: "${v}" is not an integer`);
    const n = Number(v);
    if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
      throw new InvalidParameterError(`Setting ${name}: ${n} is outside ${s.min}..${s.max}`);
    }
    return n;
  }
  if (s.kind === "number") {
    const n = Number(v);
    if (v === "" || !Number.isFinite(n)) throw new InvalidParameterError(`Setting ${name}: "${v}" is not a number`);
    if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
      throw new InvalidParameterError(`Setting ${name}: ${n} is outside ${s.min}..${s.max}`);
    }
    return n;
  }
  if (s.kind === "bool") {
    if (v !== "true" && v !== "false") throw new InvalidParameterError(`Setting ${name}: "${v}" is not true or false`);
    return v === "true";
  }
  if (s.kind === "enum" && !s.values!.includes(v)) {
    throw new InvalidParameterError(`Setting ${name}: "${v}" is not one of ${s.values!.join(", ")}`);
  }
  if (v.length === 0) throw new InvalidParameterError(`Setting ${name} is empty`);
  return v;
}

export { parseProperties } from "../common/properties.ts";

/**
 * Builds the configuration from layers, later ones winning: defaults, a properties file, then
 * environment variables (BOLIDE_<name>), then flags. Unknown or malformed settings throw,
 * naming the setting.
 */
export function brokerConfig(...layers: Record<string, string | undefined>[]): BrokerConfig {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(BROKER_SETTINGS)) out[name] = s.default;
  for (const layer of layers) {
    for (const [name, raw] of Object.entries(layer)) {
      if (raw === undefined) continue;
      const s = (BROKER_SETTINGS as Record<string, Setting>)[name];
      if (!s) throw new InvalidParameterError(`Unknown setting "${name}" (run "bolide broker --help" for the list)`);
      out[name] = parseValue(name, raw, s);
    }
  }
  parseDelayLevels(out.messageDelayLevel as string);
  if (!/^\d{1,2}(;\d{1,2})*$/.test(out.deleteWhen as string) || (out.deleteWhen as string).split(";").some((h) => Number(h) > 23)) {
    throw new InvalidParameterError(`Setting deleteWhen: "${out.deleteWhen}" is not hours of the day such as "04" or "03;04"`);
  }
  if ((out.timerSegmentBytes as number) % 48 !== 0) throw new InvalidParameterError(`Setting timerSegmentBytes: ${out.timerSegmentBytes} is not a multiple of 48`);
  if (out.enableControllerMode) {
    if ((out.brokerId as number) < 1) throw new InvalidParameterError(`Setting brokerId: controller mode needs a replica id >= 1 (the master registers as 0), got ${out.brokerId}`);
    if (out.brokerRole === "SLAVE") throw new InvalidParameterError("Setting brokerRole: in controller mode it is the master's flavour, SYNC_MASTER or ASYNC_MASTER; the controller decides who is master");
  } else if ((out.brokerRole === "SLAVE") !== ((out.brokerId as number) > 0)) {
    throw new InvalidParameterError(`Settings brokerRole and brokerId disagree: a SLAVE has brokerId > 0 and a master brokerId 0 (got ${out.brokerRole}, ${out.brokerId})`);
  }
  return out as unknown as BrokerConfig;
}

/** The settings as help text, one per line. */
export function brokerSettingsHelp(): string {
  return Object.entries(BROKER_SETTINGS)
    // A help text that names its own default (one that is learned, not a value) is not given a second.
    .map(([name, s]) => `  ${name.padEnd(30)} ${s.help}${/\(default/.test(s.help) ? "" : ` (default ${s.default}${s.values ? `; ${s.values.join("|")}` : ""})`}`)
    .join("\n");
}

/** The limits of the broker's remoting server, from its settings. */
export function serverLimits(c: BrokerConfig): Partial<ServerLimits> {
  return {
    connectionIdleTimeoutMs: c.serverChannelMaxIdleTimeSeconds * 1000,
    maxConnections: c.serverMaxConnections,
    maxConnectionsPerAddress: Math.min(c.serverMaxConnectionsPerAddress, c.serverMaxConnections),
    frameReadTimeoutMs: c.serverFrameReadTimeoutMillis,
    writeStallTimeoutMs: c.serverWriteStallTimeoutMillis,
    writeStallUnderPressureMs: Math.min(Limits.writeStallUnderPressureMs, c.serverWriteStallTimeoutMillis),
    connectionSweepIntervalMs: Math.min(Limits.connectionSweepIntervalMs, c.serverFrameReadTimeoutMillis, c.serverChannelMaxIdleTimeSeconds * 1000),
    maxBufferedFrameBytesTotal: c.serverMaxBufferedFrameBytes,
    maxWriteBacklogBytesTotal: c.serverMaxWriteBacklogBytes,
  };
}
