/**
 * Every limit and default timing in Bolide, in one place, so their relationships can be checked
 * (see `checkLimits`, run at import). Anything configurable takes its default from here.
 */
export const KiB = 1024;
export const MiB = 1024 * KiB;

export const Limits = {
  /** RocketMQ's frameMaxLength: a frame (excluding its 4-byte length prefix) above this closes the connection. */
  maxFrameBytes: 16 * MiB,
  /** Header bytes are a small part of any frame; a larger header is hostile or broken. */
  maxHeaderBytes: 64 * KiB,
  /** Requests one client connection may have awaiting a response. */
  maxPendingRequestsPerConnection: 65_536,
  /** Requests one server connection may have being processed before it stops reading that socket. */
  maxInFlightRequestsPerConnection: 4_096,
  /** Encoded bytes queued for one socket before its reader pauses (server) or invokes wait (client). */
  maxWriteBacklogBytes: 64 * MiB,
  /**
   * A server's connections together: bytes buffered for incomplete frames, and encoded answers
   * queued for sockets. Past the first, the connection whose frame grew it is closed; past the
   * second, connections stop reading requests and pulls wait until sockets drain. Together they
   * are the server's connection memory budget (default 256 MiB).
   */
  maxBufferedFrameBytesTotal: 128 * MiB,
  maxWriteBacklogBytesTotal: 128 * MiB,
  /** A frame whose length has arrived must be complete within this, or its connection is closed. */
  frameReadTimeoutMs: 30_000,
  /** Queued answers that make no progress this long (the peer does not read) close the connection. */
  writeStallTimeoutMs: 30_000,
  /** While the total write budget is exhausted, a connection stalled this long is closed at once. */
  writeStallUnderPressureMs: 1_000,
  /**
   * A connection with no registered client that sends nothing this long is closed (RocketMQ's
   * serverChannelMaxIdleTimeSeconds, 120 s); connections of registered clients expire with them.
   */
  connectionIdleTimeoutMs: 120_000,
  /** Connections one server accepts at once, in total and from one client address. */
  maxConnections: 20_000,
  maxConnectionsPerAddress: 10_000,
  /** How often a server looks for connections past the deadlines above. */
  connectionSweepIntervalMs: 1_000,
  /** Frames smaller than this are copied together into one write; a larger one is written alone. */
  coalesceWriteBytes: 256 * KiB,
  /** At most this many protocol-error log lines per second per server; the rest are counted. */
  protocolErrorLogsPerSecond: 10,

  defaultInvokeTimeoutMs: 3_000,
  /** Broker: how long a request relayed to a consumer (GET_CONSUMER_RUNNING_INFO) waits for its answer. */
  callConsumerTimeoutMs: 5_000,
  defaultConnectTimeoutMs: 3_000,

  /** NameServer: a broker silent this long leaves every route (RocketMQ DEFAULT_BROKER_CHANNEL_EXPIRED_TIME). */
  brokerChannelExpiredTimeMs: 120_000,
  /** NameServer: how often silent brokers are looked for (RocketMQ 5.x). */
  scanNotActiveBrokerIntervalMs: 5_000,
  /** NameServer: brokers and topics it will hold at most; a registration past these is refused. */
  maxBrokers: 4_096,
  maxTopics: 100_000,
  /** Broker: consumer groups with settings (subscriptionGroup.json); past it a new group is refused. */
  maxSubscriptionGroups: 100_000,
  maxTopicsPerRegistration: 100_000,

  /** Store: largest message body a producer may send (RocketMQ maxMessageSize). */
  maxMessageSize: 4 * MiB,
  /** Store: appends accepted but not yet acknowledged; past this, appends fail with SYSTEM_BUSY. */
  maxPendingAppends: 65_536,
  /** Store: bytes of encoded records gathered into one CommitLog write. */
  commitLogWriteBufferBytes: 8 * MiB,
  /**
   * Store, SYNC_FLUSH: a batch this large is written and its fdatasync started at once, so the
   * disk syncs it while the next appends are encoded (measured best at ~128 KiB on this machine).
   */
  syncFlushBatchBytes: 128 * KiB,
  /** Store: ConsumeQueue units and index entries staged in memory before they are written out. */
  dispatchStageBytes: 1 * MiB,
  /** Store: staged units and entries are written at least this often. */
  dispatchStageIntervalMs: 100,
  /** Store: ConsumeQueue file handles kept open at once. */
  maxOpenConsumeQueueFiles: 1_024,
  /** Store: CommitLog segment handles kept open at once. */
  maxOpenCommitLogSegments: 16,
  /** Store: hash slots of the active IndexFile, held in memory (4 bytes each). */
  indexHashSlots: 1_000_000,
  /** Store: entries per IndexFile (20 bytes each on disk). */
  indexMaxEntries: 4_000_000,
  /** Store: records a recovery scan reads at once; must exceed the largest record. */
  recoveryChunkBytes: 8 * MiB,

  /** Broker: messages and bytes one pull answer carries at most, whatever the client asks. */
  maxPullMessages: 1024,
  maxPullBytes: 4 * MiB,
  /** Broker: messages one QUERY_MESSAGE answer carries at most. */
  maxQueryMessages: 64,
  /** Heartbeats: groups one client may state in one heartbeat, and subscriptions per consumer group. */
  maxGroupsPerHeartbeat: 1_000,
  maxSubscriptionsPerConsumer: 1_000,
  /** Orderly consumption: queues one LOCK_BATCH_MQ may ask for. */
  maxLockQueuesPerRequest: 65_536,
  /** Broker: "topic@group" entries of the consumer offset table. */
  maxOffsetTableEntries: 1_000_000,
  /** Broker: cancelled delayed messages remembered until their level reaches them. */
  maxCancelledScheduled: 100_000,
  /** Broker services: records a delay-level deliverer or the transaction check reads at once. */
  serviceReadBatch: 64,
  /** Delay levels: how often an idle level looks again, and the pause after a failed delivery. */
  scheduleIdleCheckMs: 1_000,
  scheduleRetryAfterFailureMs: 1_000,
  /** Transactions: one check round stops after this long; the next round goes on from there. */
  transactionCheckRoundMs: 60_000,
  /** Timers: units enqueued per read of the timer queue, deliveries in progress at once, load-ahead. */
  timerEnqueueBatch: 256,
  timerMaxDelivering: 512,
  timerLoadAheadMs: 1_000,
  /** Broker: longest a replica's HA pull may be held. */
  maxHaHoldMs: 30_000,
  /** Broker: timeout of a registration with a NameServer (RocketMQ's registerBrokerTimeoutMills). */
  registerBrokerTimeoutMs: 24_000,
  /**
   * Broker: how long UPDATE_AND_CREATE_TOPIC (and the heartbeat that creates a group's retry
   * topic) waits for the NameServers to have the topic before answering anyway.
   */
  topicRegistrationWaitMs: 2_000,
  /** Broker: timeout of UNREGISTER_BROKER at shutdown, and of a slave's metadata requests to its master. */
  unregisterBrokerTimeoutMs: 3_000,
  slaveSyncTimeoutMs: 5_000,
  /** Broker: a replica's HA pull waits this long past its hold; a failed one is retried after at most retry. */
  haPullTimeoutMs: 3_000,
  haPullRetryMs: 1_000,
  /** Broker: silent clients are looked for at least this often. */
  clientExpiryScanMs: 10_000,
  /** Broker: queue locks of orderly consumers expire after this without renewal, and are held at most this many. */
  rebalanceLockExpiryMs: 60_000,
  maxRebalanceLocks: 100_000,
  /** Clients: timeout of UNREGISTER_CLIENT at shutdown. */
  unregisterClientTimeoutMs: 1_000,
  /** Messages one SEND_BATCH_MESSAGE may carry. */
  maxBatchMessages: 10_000,
  /** Timers: a failed delivery is tried again after this. */
  timerRetryAfterFailureMs: 1_000,
  /**
   * Delay levels and timers: a due message whose real topic is not writable now (its permission
   * changed while it waited) is parked again as a timer this much later.
   */
  putBackRetryMs: 10_000,
  /** Store: while the disk is full, an append re-reads its usage at most this often. */
  diskFullRecheckMs: 1_000,
  /** Broker: a metadata file's `.bak` copy is refreshed at most this often. */
  metadataBackupIntervalMs: 60_000,
  /** Broker: long-polling pulls held at once, over every connection, and on one connection. */
  maxHeldPulls: 100_000,
  maxHeldPullsPerConnection: 2_048,
  /** Broker: producer and consumer clients it keeps track of (heartbeats past this get SYSTEM_BUSY). */
  maxBrokerClients: 100_000,

  /** Caches of values that repeat from message to message (bounded, oldest out first). */
  topicCacheEntries: 4_096,
  tagCacheEntries: 4_096,
  hostCacheEntries: 1_024,
  textCacheEntries: 4_096,
  validTopicCacheEntries: 10_000,
  sqlFilterCacheEntries: 1_024,

  /** Queue ids are 0..maxQueueId on the wire and in the store (RocketMQ's short range). */
  maxQueueId: 65_535,
  /** Queues of one topic on one broker (read or write). */
  maxQueueNums: 65_535,
  /** Read or write queues a topic config may declare on one broker (create and update). */
  maxQueuesPerTopic: 1_024,
  /** Admin: queues one TopicStatsTable or ConsumeStats answer may list (read back by the Admin client). */
  maxStatsQueues: 1_000_000,
  /** Broker statistics: keys (topics, topic@group pairs) one stats name counts; each costs about 1 KiB. */
  maxStatsKeys: 10_000,
  /** /metrics: series one metric family shows at most (topics × groups × queues are capped, and the cap counted). */
  maxMetricsSeries: 10_000,
  /** Broker statistics: how often the minute, hour and day samples are looked at. */
  statsSampleMs: 10_000,
  /** Store: a ConsumeQueue's staged units are written once they fill this much. */
  consumeQueueStageBytes: 256 * KiB,
  /** SQL92 filters: longest expression and deepest nesting accepted. */
  maxSql92Length: 4_096,
  maxSql92Depth: 64,

  maxTopicNameLength: 127,
  maxSystemTopicNameLength: 255,
  maxGroupNameLength: 120,
  /** A slave remembers at most this many queues' offsets committed on it, to carry back to its master. */
  maxSlaveOffsetCommits: 100_000,
} as const;

/**
 * A push consumer's defaults (RocketMQ's DefaultMQPushConsumer, reference §3.3–3.4). The three
 * thresholds bound what one queue may hold in client memory.
 */
export const PushConsumerDefaults = {
  pullBatchSize: 32,
  consumeMessageBatchMaxSize: 1,
  consumeConcurrency: 20,
  pullThresholdForQueue: 1000,
  pullThresholdSizeForQueueMiB: 100,
  consumeConcurrentlyMaxSpan: 2000,
  suspendCurrentQueueTimeMillis: 1000,
  persistConsumerOffsetIntervalMs: 5000,
  heartbeatBrokerIntervalMs: 30_000,
  rebalanceIntervalMs: 20_000,
  lockIntervalMs: 20_000,
  lockMaxLiveTimeMs: 30_000,
  brokerSuspendMaxTimeMs: 15_000,
  pullDelayWhenFlowControlMs: 50,
  pullDelayWhenExceptionMs: 3000,
  sendBackRetryDelayMs: 5000,
  shutdownGraceMs: 3000,
} as const;

export function checkLimits(l: typeof Limits = Limits): void {
  const fail = (why: string) => {
    throw new RangeError(`Bolide limits are inconsistent: ${why}`);
  };
  if (l.maxHeaderBytes >= l.maxFrameBytes) fail("maxHeaderBytes must be below maxFrameBytes");
  if (l.maxFrameBytes > 0xffffff * 16 + 4) fail("maxFrameBytes beyond the int32 frame length");
  if (l.maxWriteBacklogBytes < l.maxFrameBytes) fail("maxWriteBacklogBytes must hold one largest frame");
  if (l.maxBufferedFrameBytesTotal < l.maxFrameBytes) fail("maxBufferedFrameBytesTotal must hold one largest frame");
  if (l.maxWriteBacklogBytesTotal < l.maxWriteBacklogBytes) fail("maxWriteBacklogBytesTotal below one connection's backlog");
  if (l.maxConnectionsPerAddress > l.maxConnections) fail("maxConnectionsPerAddress above maxConnections");
  if (l.writeStallUnderPressureMs > l.writeStallTimeoutMs) fail("writeStallUnderPressureMs above writeStallTimeoutMs");
  if (l.connectionSweepIntervalMs > Math.min(l.frameReadTimeoutMs, l.writeStallUnderPressureMs, l.connectionIdleTimeoutMs)) {
    fail("connections are swept less often than their shortest deadline");
  }
  if (l.maxHeldPullsPerConnection > l.maxInFlightRequestsPerConnection) fail("more held pulls per connection than requests in flight");
  if (l.coalesceWriteBytes > l.maxWriteBacklogBytes) fail("coalesceWriteBytes must be below maxWriteBacklogBytes");
  if (l.scanNotActiveBrokerIntervalMs > l.brokerChannelExpiredTimeMs) fail("scan interval longer than expiry");
  if (l.maxTopicNameLength > l.maxSystemTopicNameLength) fail("topic name limits reversed");
  if (l.commitLogWriteBufferBytes < l.maxMessageSize + 64 * KiB) fail("write buffer must hold the largest record");
  if (l.recoveryChunkBytes < l.maxMessageSize + 64 * KiB) fail("recovery chunk must hold the largest record");
  if (l.maxFrameBytes < l.maxMessageSize + l.maxHeaderBytes) fail("a frame must carry the largest message");
  if (l.maxPullBytes + l.maxHeaderBytes > l.maxFrameBytes) fail("a pull answer must fit in one frame");
  if (l.maxHeldPulls > l.maxBrokerClients * l.maxInFlightRequestsPerConnection) fail("more held pulls than clients could send");
  if (l.maxQueueId > 0xffff || l.maxQueueNums > l.maxQueueId) fail("queue ids are RocketMQ's short range");
}

checkLimits();
