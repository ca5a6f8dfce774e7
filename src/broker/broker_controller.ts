import { InvalidParameterError, MessageIllegalError, SystemBusyError, TopicNotExistError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { createOffsetMsgId } from "../common/message_id.ts";
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, validateGroup, validateTopic } from "../common/names.ts";
import { decodeProperties, hasProperty, MessageProperty, type Properties, SysFlag, transactionType } from "../common/message.ts";
import { decodeRecord } from "../common/message_record.ts";
import { ResponseCode } from "../common/response_code.ts";
import { Perm, PERM_READ_WRITE, type TopicConfig } from "../common/route.ts";
import { nodeFileSystem, type FileSystem } from "../platform/file_system.ts";
import { rssBytes, totalMemoryBytes } from "../platform/runtime.ts";
import { decodeBody, encodeBody } from "../protocol/body_codec.ts";
import { decodeBatch } from "../protocol/message_batch.ts";
import { registerBrokerRequest, unregisterBrokerRequest, type BrokerIdentity } from "../protocol/namesrv_requests.ts";
import {
  createRequest,
  createResponse,
  extBool,
  extBytesOrString,
  extInt,
  extString,
  type ExtValue,
  type RemotingCommand,
  successResponse,
} from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import type { RemotingConnection } from "../remoting/remoting_connection.ts";
import { RemotingServer } from "../remoting/remoting_server.ts";
import { concatBytes, fromUtf8 } from "../util/bytes.ts";
import { MessageStore, type PutMessageRequest } from "../store/message_store.ts";
import { type BrokerConfig, brokerConfig } from "./broker_config.ts";
import { ClientManager, type ConsumerData, type SubscriptionData } from "./client_manager.ts";
import { parseDelayLevels, SCHEDULE_TOPIC, ScheduleMessageService, toScheduled } from "./schedule_message_service.ts";
import { ConsumerOffsetManager } from "./consumer_offset_manager.ts";
import { PullHoldService } from "./pull_hold_service.ts";
import { type LockedQueue, RebalanceLockManager } from "./rebalance_lock_manager.ts";
import { sqlFilter, tagFilter } from "./tag_filter.ts";
import { TIMER_DELAY_MS, TIMER_OUT_MS, TIMER_TOPIC, TimerMessageService, unitDeliverMs } from "./timer_message_service.ts";
import { TopicConfigManager } from "./topic_config_manager.ts";
import { HAMaster, HASlave, type ReplicationStatus } from "./ha_service.ts";
import { EpochFile } from "./epoch_file.ts";
import { committedOf, HALF_TOPIC, OP_TOPIC, PARK_TOPIC, TransactionalMessageService } from "./transactional_message_service.ts";

/** SEND_MESSAGE_V2's one-letter header names (RocketMQ §1.4), mapped to SEND_MESSAGE's. */
const V2_NAMES: Record<string, string> = {
  a: "producerGroup", b: "topic", c: "defaultTopic", d: "defaultTopicQueueNums", e: "queueId", f: "sysFlag",
  g: "bornTimestamp", h: "flag", i: "properties", j: "reconsumeTimes", k: "unitMode", l: "maxReconsumeTimes", m: "batch",
};

/** Properties that make a message delayed (see #delayed). */
const DELAY_PROPERTIES = [MessageProperty.DELAY_TIME_LEVEL, MessageProperty.TIMER_DELIVER_MS, TIMER_DELAY_MS];

/** Per-pull caps, whatever the client asks. */
const MAX_PULL_MESSAGES = 1024;
const MAX_PULL_BYTES = 4 * 1024 * 1024;
const MAX_HELD_PULLS = 100_000;
const MAX_CLIENTS = 100_000;

/**
 * A broker: the message store behind a remoting server, registered with every NameServer.
 * `start()` opens the store and listens; `shutdown()` stops accepting, finishes in-flight
 * requests, flushes, persists offsets and unregisters.
 */
export class BrokerController {
  readonly config: BrokerConfig;
  readonly #log: Logger;
  readonly #fs: FileSystem;
  #store!: MessageStore;
  #topics!: TopicConfigManager;
  #offsets!: ConsumerOffsetManager;
  #schedule!: ScheduleMessageService;
  #timer!: TimerMessageService;
  #tx!: TransactionalMessageService;
  /** Groups whose members were last seen subscribing differently (warned once per change). */
  readonly #inconsistentGroups = new Set<string>();
  readonly #holds = new PullHoldService(MAX_HELD_PULLS);
  readonly #clients = new ClientManager(MAX_CLIENTS);
  readonly #locks = new RebalanceLockManager();
  readonly #server: RemotingServer;
  readonly #namesrvClient = new RemotingClient();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #addr = "";
  /** Replication: a master serves HA_PULL on its HA port; a slave runs the pull loop. */
  #haServer: RemotingServer | undefined;
  #haAddr = "";
  #haMaster: HAMaster | undefined;
  #haSlave: HASlave | undefined;
  readonly #haClient = new RemotingClient();
  /** A slave's master, as the NameServer last reported it (main and HA addresses). */
  #masterAddr = "";
  #masterHaAddr = "";
  /** Controller mode: whether the controller made this broker the master, its epochs, and its lease. */
  #ctlMaster = false;
  #epochs: EpochFile | undefined;
  #leaseUntil = 0;
  #heartbeating = false;
  #controllerFirst: string | undefined;
  /** Controller mode, as master: the sync state set the controller last confirmed. */
  #syncStateSet: number[] = [];
  #roleChange: Promise<void> = Promise.resolve();
  #sendsInFlight = 0;
  #shuttingDown = false;
  #registerScheduled = false;

  constructor(config: Partial<BrokerConfig> | BrokerConfig, opts: { log?: Logger; fs?: FileSystem } = {}) {
    this.config = { ...brokerConfig(), ...config };
    this.#log = opts.log ?? silentLogger;
    this.#fs = opts.fs ?? nodeFileSystem;
    this.#server = new RemotingServer({ host: this.config.brokerIP1, port: this.config.listenPort, log: this.#log });
    const p = (code: number, fn: (req: RemotingCommand, conn: RemotingConnection) => RemotingCommand | Promise<RemotingCommand>) =>
      this.#server.registerProcessor(code, (req, ctx) => fn(req, ctx.connection));
    p(RequestCode.SEND_MESSAGE, (r, c) => this.#send(r, c, false));
    p(RequestCode.SEND_MESSAGE_V2, (r, c) => this.#send(r, c, true));
    p(RequestCode.SEND_BATCH_MESSAGE, (r, c) => this.#send(r, c, true));
    p(RequestCode.PULL_MESSAGE, (r, c) => this.#pull(r, c));
    p(RequestCode.QUERY_CONSUMER_OFFSET, (r) => this.#queryOffset(r));
    p(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => this.#updateOffset(r));
    p(RequestCode.GET_MAX_OFFSET, (r) => successResponse({ offset: this.#store.maxOffset(...this.#topicQueue(r)) }));
    p(RequestCode.GET_MIN_OFFSET, (r) => successResponse({ offset: this.#store.minOffset(...this.#topicQueue(r)) }));
    p(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, (r) =>
      successResponse({ offset: this.#store.offsetForTimestamp(...this.#topicQueue(r), extInt(r, "timestamp")) }));
    p(RequestCode.GET_EARLIEST_MSG_STORETIME, (r) => successResponse({ timestamp: this.#store.earliestMessageTime(...this.#topicQueue(r)) ?? 0 }));
    p(RequestCode.HEART_BEAT, (r, c) => this.#heartbeat(r, c));
    p(RequestCode.UNREGISTER_CLIENT, (r, c) => {
      this.#clients.unregister(c, extString(r, "producerGroup", false), extString(r, "consumerGroup", false));
      return successResponse();
    });
    p(RequestCode.CONSUMER_SEND_MSG_BACK, (r) => this.#sendBack(r));
    p(RequestCode.GET_CONSUMER_CONNECTION_LIST, (r) => {
      const group = extString(r, "consumerGroup");
      validateGroup(group);
      const view = this.#clients.groupView(group);
      if (view.members.length === 0) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] not online`);
      return successResponse(undefined, encodeBody(view, typeOf(r)));
    });
    p(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (r) =>
      successResponse(undefined, encodeBody({ consumerIdList: this.#clients.consumersOf(extString(r, "consumerGroup")) }, typeOf(r))));
    p(RequestCode.LOCK_BATCH_MQ, (r) => {
      const b = this.#lockBody(r);
      const locked = this.#locks.tryLock(b.consumerGroup, b.clientId, b.mqSet);
      return successResponse(undefined, encodeBody({ lockOKMQSet: locked }, typeOf(r)));
    });
    p(RequestCode.UNLOCK_BATCH_MQ, (r) => {
      const b = this.#lockBody(r);
      this.#locks.unlock(b.consumerGroup, b.clientId, b.mqSet);
      return successResponse();
    });
    p(RequestCode.UPDATE_AND_CREATE_TOPIC, (r) => this.#createTopic(r));
    p(RequestCode.DELETE_TOPIC_IN_BROKER, (r) => this.#deleteTopic(r));
    p(RequestCode.GET_ALL_TOPIC_CONFIG, (r) => successResponse(undefined, encodeBody(this.#topics.registerBody().topicConfigSerializeWrapper, typeOf(r))));
    p(RequestCode.QUERY_MESSAGE, (r) => this.#queryMessage(r));
    p(RequestCode.CANCEL_DELAYED_MESSAGE, (r) => this.#cancelDelayed(r));
    p(RequestCode.END_TRANSACTION, (r) => this.#endTransaction(r));
    p(RequestCode.VIEW_MESSAGE_BY_ID, (r) => {
      const raw = this.#store.readRecord(extInt(r, "offset"));
      return raw ? successResponse(undefined, raw) : createResponse(ResponseCode.QUERY_NOT_FOUND, `no message at CommitLog offset ${extInt(r, "offset")}`);
    });
    p(RequestCode.GET_BROKER_RUNTIME_INFO, (r) => successResponse(undefined, encodeBody({ table: this.runtimeInfo() }, typeOf(r))));
    // A slave's log is its master's copy: anything that would append to it is refused.
    for (const code of [
      RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE, RequestCode.CONSUMER_SEND_MSG_BACK,
      RequestCode.END_TRANSACTION, RequestCode.CANCEL_DELAYED_MESSAGE, RequestCode.UPDATE_AND_CREATE_TOPIC, RequestCode.DELETE_TOPIC_IN_BROKER,
    ]) {
      const inner = this.#server.processorOf(code)!;
      this.#server.registerProcessor(code, (req, ctx) => {
        if (this.#isSlave) {
          return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, `broker ${this.config.brokerName}[${this.config.brokerId}] is a slave: ${requestCodeName(code)} goes to its master`);
        }
        if (this.#fenced) {
          return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, `broker ${this.config.brokerName}[${this.config.brokerId}] lost the controller: a new master may be elected, so it acknowledges nothing`);
        }
        return inner(req, ctx);
      });
    }
    p(RequestCode.GET_ALL_CONSUMER_OFFSET, (r) => successResponse(undefined, encodeBody({ offsetTable: this.#offsets.table() }, typeOf(r))));
    p(RequestCode.GET_ALL_DELAY_OFFSET, (r) => successResponse(undefined, encodeBody({ offsetTable: this.#schedule.offsetTable() }, typeOf(r))));
    // Members of a consumer group are told at once when it changes, so they rebalance now
    // rather than at their next periodic rebalance (RocketMQ's NOTIFY_CONSUMER_IDS_CHANGED).
    this.#clients.onConsumerGroupChange((group) => {
      this.#checkSubscriptions(group);
      for (const conn of this.#clients.connectionsOf(group)) {
        conn.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group })).catch(() => {});
      }
    });
    // A client that goes away frees its held pulls at once rather than at the end of their hold.
    this.#server.onPeerEnd((conn) => this.#holds.release(conn));
    this.#server.onDisconnect((conn) => {
      this.#clients.remove(conn);
      this.#holds.release(conn);
    });
  }

  /** "host:port" clients use (after start). */
  get addr(): string {
    return this.#addr;
  }

  get store(): MessageStore {
    return this.#store;
  }

  get identity(): BrokerIdentity {
    return {
      clusterName: this.config.brokerClusterName,
      brokerName: this.config.brokerName,
      brokerAddr: this.#addr,
      // In controller mode the elected master registers as 0 and the others under their own ids.
      brokerId: this.config.enableControllerMode && this.#ctlMaster ? 0 : this.config.brokerId,
      haServerAddr: this.#haAddr,
    };
  }

  async start(): Promise<string> {
    const c = this.config;
    validateGroup(c.brokerName);
    this.#store = MessageStore.open({
      storePathRootDir: c.storePathRootDir,
      flushDiskType: c.flushDiskType,
      maxMessageSize: c.maxMessageSize,
      commitLogSegmentBytes: c.commitLogSegmentBytes,
      fs: this.#fs,
    }, this.#log.child("store"));
    try {
      const configDir = `${c.storePathRootDir}/config`;
      this.#fs.mkdirp(configDir);
      this.#topics = new TopicConfigManager(this.#fs, `${configDir}/topics.json`, c);
      this.#offsets = new ConsumerOffsetManager(this.#fs, `${configDir}/consumerOffset.json`);
      this.#schedule = new ScheduleMessageService(
        this.#store,
        parseDelayLevels(c.messageDelayLevel),
        this.#fs,
        `${configDir}/delayOffset.json`,
        (req) => this.#deliverScheduled(req),
        this.#log.child("schedule"),
      );
      this.#timer = new TimerMessageService(
        this.#store,
        this.#fs,
        {
          dir: `${c.storePathRootDir}/timerlog`,
          segmentBytes: c.timerSegmentBytes,
          maxDelayMs: c.timerMaxDelayMs,
          flushIntervalMs: c.timerFlushIntervalMs,
          rollIntervalMs: c.timerRollIntervalMs,
        },
        (req) => this.#deliverScheduled(req),
        this.#log.child("timer"),
      );
      this.#tx = new TransactionalMessageService(
        this.#store,
        this.#fs,
        `${configDir}/transactionOffset.json`,
        c,
        (req) => {
          // Parked half messages are in a topic of their own, readable like any, for an operator.
          if (req.topic === PARK_TOPIC) this.#systemTopic(PARK_TOPIC);
          return this.#store.putMessage(this.#fitQueue(req));
        },
        ({ raw, put, producerGroup }) => {
          const conns = this.#clients.producerConnectionsOf(producerGroup);
          if (conns.length === 0) return false;
          const conn = conns[Math.floor(Math.random() * conns.length)];
          const msgId = decodeRecord(raw).properties[MessageProperty.UNIQ_KEY] ?? "";
          conn.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, {
            commitLogOffset: put.physicalOffset,
            tranStateTableOffset: put.queueOffset,
            offsetMsgId: createOffsetMsgId(this.#addr, put.physicalOffset),
            msgId,
            transactionId: msgId,
          }, raw)).catch(() => {});
          return true;
        },
        this.#log.child("transaction"),
      );
      this.#store.onMessageArrived((topic, queueId, maxOffset) => {
        if (topic === SCHEDULE_TOPIC) this.#schedule.arrived(queueId);
        else if (topic === TIMER_TOPIC) this.#timer.arrived();
        else this.#holds.notify(topic, queueId, maxOffset);
      });
      const { host, port } = await this.#server.start();
      this.#addr = `${c.brokerIP1 === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
      if (c.enableControllerMode) this.#epochs = new EpochFile(this.#fs, `${configDir}/epoch.json`);
      if (c.enableControllerMode || c.brokerRole !== "SLAVE") await this.#startHAMaster();
    } catch (err) {
      await this.#server.stop(0);
      await this.#store.close();
      throw err;
    }
    this.#store.config.storeHost = this.#addr;
    this.#topics.onChange(() => this.#registerSoon());
    await this.registerAll();
    this.#timers.push(setInterval(() => void this.registerAll(), c.registerNameServerPeriod));
    this.#timers.push(setInterval(() => this.#persistOffsets(), c.flushConsumerOffsetInterval));
    this.#timers.push(setInterval(() => this.#schedule.persist(), c.flushDelayOffsetInterval));
    if (c.enableControllerMode) {
      // The controller decides the role: until it says master, this broker is a slave.
      this.#timers.push(setInterval(() => void this.#controllerHeartbeat(), c.controllerHeartbeatInterval));
      this.#timers.push(setInterval(() => void this.#syncMetadata(), c.haMetadataSyncInterval));
      await this.#controllerHeartbeat();
    } else if (c.brokerRole === "SLAVE") {
      // A slave delivers nothing itself (its master does, and the results replicate here).
      this.#startHASlave();
      this.#timers.push(setInterval(() => void this.#syncMetadata(), c.haMetadataSyncInterval));
      void this.#syncMetadata();
    } else {
      this.#schedule.start();
      this.#timer.start();
      this.#tx.start();
    }
    this.#timers.push(setInterval(() => this.#clients.expire(c.channelExpiredTimeout), Math.min(10_000, c.channelExpiredTimeout)));
    this.#log.info(`broker ${c.brokerName}[${c.brokerId}] of ${c.brokerClusterName} listening on ${this.#addr}`);
    return this.#addr;
  }

  /** Registers with every NameServer now (they share nothing, so each gets the whole table). */
  async registerAll(): Promise<void> {
    const addrs = this.config.namesrvAddr.split(";").map((s) => s.trim()).filter(Boolean);
    const body = this.#topics.registerBody();
    await Promise.all(addrs.map(async (ns) => {
      try {
        const resp = await this.#namesrvClient.invoke(ns, registerBrokerRequest({ ...this.identity, heartbeatTimeoutMillis: Limits.brokerChannelExpiredTimeMs }, body), 24_000);
        if (resp.code !== ResponseCode.SUCCESS) this.#log.warn(`registration with ${ns} refused: ${resp.remark}`);
        else if (this.#isSlave && !this.config.enableControllerMode) this.#learnMaster(extString(resp, "masterAddr", false), extString(resp, "haServerAddr", false));
      } catch (err) {
        this.#log.warn(`registration with ${ns} failed: ${(err as Error).message}`);
      }
    }));
  }

  #registerSoon(): void {
    if (this.#registerScheduled || this.#shuttingDown) return;
    this.#registerScheduled = true;
    queueMicrotask(() => {
      this.#registerScheduled = false;
      void this.registerAll();
    });
  }

  async shutdown(graceMs = 5_000): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const t of this.#timers) clearInterval(t);
    this.#holds.wakeAll();
    await this.#stopHA();
    await this.#server.stop(graceMs);
    this.#schedule.stop();
    this.#tx.stop();
    await this.#timer.stop();
    await this.#store.close();
    this.#persistOffsets();
    const addrs = this.config.namesrvAddr.split(";").map((s) => s.trim()).filter(Boolean);
    await Promise.all(addrs.map((ns) => this.#namesrvClient.invoke(ns, unregisterBrokerRequest(this.identity), 3_000).catch(() => {})));
    this.#namesrvClient.close();
    this.#log.info(`broker ${this.config.brokerName} stopped`);
  }

  /** For tests: die as a killed process would (no flush, no unregistration). */
  async kill(): Promise<void> {
    this.#shuttingDown = true;
    for (const t of this.#timers) clearInterval(t);
    this.#namesrvClient.close();
    await this.#stopHA();
    this.#schedule.stop(false);
    this.#tx.stop(false);
    await this.#timer.stop(false);
    await this.#server.stop(0);
    this.#store.kill();
  }

  runtimeInfo(): Record<string, string> {
    return {
      brokerName: this.config.brokerName,
      brokerId: String(this.config.brokerId),
      commitLogMinOffset: String(this.#store.commitLogMinOffset),
      commitLogMaxOffset: String(this.#store.commitLogMaxOffset),
      dispatchedOffset: String(this.#store.dispatchedOffset),
      sendsInFlight: String(this.#sendsInFlight),
      heldPulls: String(this.#holds.heldCount),
      pullsFound: String(this.#pullsFound),
      clients: String(this.#clients.size),
      diskFull: String(this.#store.isDiskFull),
      scheduledPending: this.#schedule.pending().join(","),
      timersPending: String(this.#timer.pending),
      transactionHalfBacklog: String(this.#tx.halfBacklog),
      rssBytes: String(rssBytes()),
      brokerRole: this.config.enableControllerMode ? (this.#ctlMaster ? `${this.config.brokerRole} (elected)` : "SLAVE (controller)") : this.config.brokerRole,
      haServerAddr: this.#haAddr,
      ...(this.config.enableControllerMode ? { controllerEpoch: String(this.#epochs?.lastEpoch ?? 0), fenced: String(this.#fenced) } : {}),
      ...(this.#haMaster && !this.#isSlave ? { haInSyncSlaves: String(this.#haMaster.inSyncCount()), haSlaves: JSON.stringify(this.#haMaster.slaves()) } : {}),
      ...(this.#haSlave ? { haMasterAddr: this.#masterAddr, haReplication: JSON.stringify(this.#haSlave.status()) } : {}),
    };
  }

  // ---- replication -----------------------------------------------------------------------------

  async #startHAMaster(): Promise<void> {
    const c = this.config;
    this.#haMaster = new HAMaster(this.#store, {
      inSyncReplicas: c.inSyncReplicas,
      slaveTimeoutMs: c.slaveTimeout,
      maxGapNotInSync: c.haMaxGapNotInSync,
      housekeepingMs: c.haHousekeepingInterval,
      transferBatchBytes: c.haTransferBatchSize,
    }, this.#log.child("ha"), this.#epochs, () => !this.#isSlave);
    // listenPort 0 (a free port) means a free HA port too: actual + 1 may well be taken.
    const port = c.haListenPort >= 0 ? c.haListenPort : c.listenPort === 0 ? 0 : c.listenPort + 1;
    this.#haServer = new RemotingServer({ host: c.brokerIP1, port, log: this.#log.child("ha") });
    this.#haServer.registerProcessor(RequestCode.HA_PULL, (req, ctx) => this.#haMaster!.pull(req, ctx.connection.remoteAddr));
    const ha = await this.#haServer.start();
    this.#haAddr = `${c.brokerIP1 === "0.0.0.0" ? "127.0.0.1" : ha.host}:${ha.port}`;
    this.#timers.push(setInterval(() => this.#haMaster?.housekeep(), Math.max(50, c.haHousekeepingInterval / 4)));
  }

  /** Replication stops: waiting SYNC sends answered, the slave loop ended, the HA port closed. */
  async #stopHA(): Promise<void> {
    this.#haMaster?.stop();
    await this.#haSlave?.stop();
    await this.#haServer?.stop(0);
    this.#haClient.close();
  }

  #startHASlave(): void {
    const c = this.config;
    this.#haSlave = new HASlave(this.#store, {
      brokerId: c.brokerId,
      masterHaAddr: () => c.haMasterAddress || this.#masterHaAddr || undefined,
      holdMs: c.haSendHeartbeatInterval,
      timeoutMs: 3_000,
      retryMs: Math.min(1_000, c.haSendHeartbeatInterval),
      epochs: this.#epochs,
    }, this.#log.child("ha"));
    this.#haSlave.start();
  }

  /** Whether this broker is a slave now (by configuration, or by the controller's choice). */
  get #isSlave(): boolean {
    return this.config.enableControllerMode ? !this.#ctlMaster : this.config.brokerRole === "SLAVE";
  }

  /**
   * Controller mode: a master whose lease ran out may have been replaced, so it acknowledges
   * nothing — unless every SEND_OK needs a slave's copy (SYNC_MASTER, inSyncReplicas ≥ 2): a
   * slave stops copying before it takes over, so this master cannot acknowledge alongside it,
   * and writes go on while the controller itself is down.
   */
  get #fenced(): boolean {
    const c = this.config;
    if (!c.enableControllerMode || !this.#ctlMaster || Date.now() <= this.#leaseUntil) return false;
    return !(c.brokerRole === "SYNC_MASTER" && c.inSyncReplicas >= 2);
  }

  // ---- controller mode ---------------------------------------------------------------------------

  async #controllerHeartbeat(): Promise<void> {
    if (this.#heartbeating || this.#shuttingDown) return;
    this.#heartbeating = true;
    const c = this.config;
    try {
      const listed = (c.controllerAddr || c.namesrvAddr).split(";").map((a) => a.trim()).filter(Boolean);
      // The controller that answered last (or the leader a follower named) first.
      const addrs = this.#controllerFirst ? [this.#controllerFirst, ...listed.filter((a) => a !== this.#controllerFirst)] : listed;
      for (let i = 0; i < addrs.length; i++) {
        const addr = addrs[i];
        const sentAt = Date.now();
        let resp: RemotingCommand;
        try {
          resp = await this.#haClient.invoke(addr, createRequest(RequestCode.CONTROLLER_HEARTBEAT, {
            clusterName: c.brokerClusterName,
            brokerName: c.brokerName,
            brokerId: c.brokerId,
            addr: this.#addr,
            haAddr: this.#haAddr,
            epoch: this.#epochs?.lastEpoch ?? 0,
            maxOffset: this.#store.commitLogMaxOffset,
            isMaster: this.#ctlMaster,
          }), Math.max(200, c.controllerLeaseMs));
        } catch {
          continue; // the next controller address
        }
        if (resp.code === ResponseCode.CONTROLLER_NOT_LEADER) {
          // A member of a controller group that does not lead: ask the leader it names next.
          const leader = extString(resp, "leaderAddr", false);
          if (leader && leader !== addr && !addrs.slice(i + 1, i + 2).includes(leader) && addrs.length < listed.length + 4) addrs.splice(i + 1, 0, leader);
          continue;
        }
        if (resp.code !== ResponseCode.SUCCESS) {
          this.#log.warn(`controller ${addr} refused the heartbeat: ${resp.remark ?? resp.code}`);
          continue;
        }
        if (this.#shuttingDown) return;
        this.#controllerFirst = addr;
        this.#leaseUntil = sentAt + c.controllerLeaseMs;
        this.#roleChange = this.#roleChange.then(() => this.#applyView(resp, addr)).catch((err) => {
          this.#log.error(`role change failed: ${(err as Error).message}`);
        });
        await this.#roleChange;
        return;
      }
    } finally {
      this.#heartbeating = false;
    }
  }

  /** Follows the controller's view of the group: promotion, demotion, the master to copy from. */
  async #applyView(resp: RemotingCommand, controller: string): Promise<void> {
    if (this.#shuttingDown) return;
    const epoch = extInt(resp, "epoch");
    const masterId = extInt(resp, "masterId");
    if (epoch < (this.#epochs?.lastEpoch ?? 0)) return; // a restarted controller catching up
    const me = this.config.brokerId;
    if (masterId === me) {
      if (!this.#ctlMaster) return await this.#promote(epoch);
      // Re-elected at a newer epoch (the controller thought it silent): that epoch starts here.
      this.#epochs!.append(epoch, this.#store.commitLogMaxOffset);
      return await this.#maintainSyncStateSet(resp, controller);
    }
    if (this.#ctlMaster) await this.#demote(masterId, epoch);
    // Copied at once on a change: a slave promoted before its first copy would lack topics.
    this.#learnMaster(extString(resp, "masterAddr", false), extString(resp, "masterHaAddr", false));
    if (masterId !== 0 && !this.#haSlave) this.#startHASlave();
  }

  async #promote(epoch: number): Promise<void> {
    await this.#haSlave?.stop();
    this.#haSlave = undefined;
    this.#epochs!.append(epoch, this.#store.commitLogMaxOffset);
    this.#syncStateSet = [this.config.brokerId]; // a new master's set is itself, until it grows
    const adopted = this.#topics.ensureFromQueues(this.#store.topicQueues(), new Set([SCHEDULE_TOPIC, TIMER_TOPIC, HALF_TOPIC, OP_TOPIC]));
    if (adopted.length > 0) this.#log.warn(`topics known only from replicated messages, now served: ${adopted.join(", ")}`);
    this.#ctlMaster = true;
    this.#schedule.start();
    this.#timer.start();
    this.#tx.start();
    this.#log.warn(`elected master of ${this.config.brokerName} at epoch ${epoch}, from CommitLog offset ${this.#store.commitLogMaxOffset}`);
    await this.registerAll();
  }

  async #demote(masterId: number, epoch: number): Promise<void> {
    this.#ctlMaster = false;
    this.#haMaster?.stop();
    this.#schedule.stop();
    this.#tx.stop();
    await this.#timer.stop();
    this.#log.warn(`no longer master of ${this.config.brokerName}: broker ${masterId} is, at epoch ${epoch}`);
    await this.registerAll();
  }

  /** The master keeps the controller's sync state set to the slaves that recently held everything. */
  async #maintainSyncStateSet(resp: RemotingCommand, controller: string): Promise<void> {
    const c = this.config;
    const want = new Set([c.brokerId]);
    for (const s of this.#haMaster?.slaves() ?? []) {
      if (s.inSync && s.caughtUpMsAgo >= 0 && s.caughtUpMsAgo <= c.haMaxTimeSlaveNotCatchup) want.add(s.brokerId);
    }
    const have = brokerIds(extString(resp, "syncStateSet", false));
    this.#syncStateSet = have;
    if (have.length === want.size && have.every((id) => want.has(id))) return;
    const r = await this.#haClient.invoke(controller, createRequest(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET, {
      brokerName: c.brokerName,
      masterId: c.brokerId,
      epoch: this.#epochs!.lastEpoch,
      syncStateSet: [...want].sort((a, b) => a - b).join(","),
    }), Math.max(200, c.controllerLeaseMs)).catch(() => undefined);
    if (r && r.code === ResponseCode.SUCCESS) {
      this.#syncStateSet = brokerIds(extString(r, "syncStateSet", false));
      this.#log.info(`sync state set of ${c.brokerName} is now ${this.#syncStateSet.join(",")}`);
    }
  }

  #learnMaster(masterAddr: string | undefined, haAddr: string | undefined): void {
    if (masterAddr && masterAddr !== this.#masterAddr) {
      this.#log.info(`master of ${this.config.brokerName} is ${masterAddr} (HA ${haAddr || "unknown"})`);
      this.#masterAddr = masterAddr;
      void this.#syncMetadata();
    }
    if (haAddr) this.#masterHaAddr = haAddr;
  }

  /** A slave copies its master's topics, consumer offsets and delay progress (RocketMQ's SlaveSynchronize). */
  async #syncMetadata(): Promise<void> {
    const master = this.#masterAddr;
    if (!master || this.#shuttingDown || !this.#isSlave) return;
    try {
      const call = async (code: number) => {
        const r = await this.#haClient.invoke(master, createRequest(code), 5_000);
        if (r.code !== ResponseCode.SUCCESS) throw new Error(`${requestCodeName(code)} answered ${r.code}: ${r.remark ?? ""}`);
        return r;
      };
      const topics = await call(RequestCode.GET_ALL_TOPIC_CONFIG);
      this.#topics.adopt(decodeBody<{ topicConfigTable: Record<string, TopicConfig> }>(topics.body, topics.serializeType, "topic table").topicConfigTable ?? {});
      await this.#carryOffsetsBack(master);
      const offsets = await call(RequestCode.GET_ALL_CONSUMER_OFFSET);
      this.#offsets.adopt(decodeBody<{ offsetTable: Record<string, Record<string, number>> }>(offsets.body, offsets.serializeType, "offset table").offsetTable ?? {});
      const delay = await call(RequestCode.GET_ALL_DELAY_OFFSET);
      this.#schedule.adoptOffsets(decodeBody<{ offsetTable: Record<string, number> }>(delay.body, delay.serializeType, "delay offsets").offsetTable ?? {});
    } catch (err) {
      this.#log.warn(`metadata sync from master ${master} failed: ${(err as Error).message}`);
    }
  }

  /** SYNC_MASTER: waits for the slaves to hold everything up to `end`; maps the outcome to a response code. */
  async #replicated(end: number, stored: number): Promise<number> {
    if (this.config.brokerRole !== "SYNC_MASTER" || !this.#haMaster || stored !== ResponseCode.SUCCESS) return stored;
    // Controller mode: every slave of the sync state set must hold it (any may be elected next).
    const mustAck = this.config.enableControllerMode ? this.#syncStateSet.filter((id) => id !== this.config.brokerId) : [];
    const r: ReplicationStatus = await this.#haMaster.waitReplicated(end, mustAck);
    return r === "OK" ? stored : r === "FLUSH_SLAVE_TIMEOUT" ? ResponseCode.FLUSH_SLAVE_TIMEOUT : ResponseCode.SLAVE_NOT_AVAILABLE;
  }

  /** Offsets committed on this slave (consumers read here while the master was away), to carry back to it. */
  readonly #slaveCommits = new Map<string, { group: string; topic: string; queueId: number; offset: number }>();

  #commitOffset(group: string, topic: string, queueId: number, offset: number): void {
    this.#offsets.commit(group, topic, queueId, offset);
    if (!this.#isSlave) return;
    const key = `${topic}@${group}@${queueId}`;
    if (!this.#slaveCommits.has(key) && this.#slaveCommits.size >= Limits.maxSlaveOffsetCommits) return; // the periodic sync still keeps the slave's own copy
    this.#slaveCommits.set(key, { group, topic, queueId, offset });
  }

  /** Sends offsets committed on this slave to the master; those the master took are forgotten here. */
  async #carryOffsetsBack(master: string): Promise<void> {
    for (const [key, c] of [...this.#slaveCommits]) {
      const r = await this.#haClient.invoke(master, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, {
        consumerGroup: c.group,
        topic: c.topic,
        queueId: c.queueId,
        commitOffset: c.offset,
      }), 5_000);
      if (r.code !== ResponseCode.SUCCESS) throw new Error(`UPDATE_CONSUMER_OFFSET answered ${r.code}: ${r.remark ?? ""}`);
      if (this.#slaveCommits.get(key)?.offset === c.offset) this.#slaveCommits.delete(key);
    }
  }

  #persistOffsets(): void {
    try {
      this.#offsets.persist();
    } catch (err) {
      this.#log.error(`writing consumerOffset.json failed: ${(err as Error).message}`);
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  async #send(req: RemotingCommand, conn: RemotingConnection, v2: boolean): Promise<RemotingCommand> {
    if (v2 && req.extFields) {
      const ext: Record<string, ExtValue> = {};
      for (const [k, v] of Object.entries(req.extFields)) ext[V2_NAMES[k] ?? k] = v;
      req = { ...req, extFields: ext };
    }
    if (this.#shuttingDown) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, "broker is shutting down");
    if (this.#sendsInFlight >= this.config.maxSendBacklog) {
      return createResponse(ResponseCode.SYSTEM_BUSY, `[TIMEOUT_CLEAN_QUEUE]broker busy: ${this.#sendsInFlight} sends in progress, try another broker`);
    }
    const topic = extString(req, "topic");
    validateTopic(topic);
    const tc = this.#topics.forSend(topic, extString(req, "defaultTopic", false), extInt(req, "defaultTopicQueueNums", false));
    if ((tc.perm & Perm.WRITE) === 0) {
      return createResponse(ResponseCode.NO_PERMISSION, `the topic[${topic}] sending is forbidden`);
    }
    let queueId = extInt(req, "queueId", false) ?? -1;
    if (queueId < 0) queueId = Math.floor(Math.random() * tc.writeQueueNums);
    if (queueId >= tc.writeQueueNums) {
      throw new InvalidParameterError(`queueId ${queueId} is out of range: topic ${topic} has ${tc.writeQueueNums} write queues`);
    }
    const body = req.body;
    if (!body || body.byteLength === 0) throw new MessageIllegalError("Message body is empty");
    const common = {
      topic,
      queueId,
      sysFlag: extInt(req, "sysFlag", false) ?? 0,
      bornTimestamp: extInt(req, "bornTimestamp", false) ?? Date.now(),
      bornHost: conn.remoteAddr,
      reconsumeTimes: extInt(req, "reconsumeTimes", false) ?? 0,
    };
    this.#sendsInFlight++;
    try {
      if (req.code === RequestCode.SEND_BATCH_MESSAGE || extBool(req, "batch", false)) {
        const entries = decodeBatch(body);
        for (const e of entries) {
          if (DELAY_PROPERTIES.some((name) => hasProperty(e.properties ?? "", name))) {
            throw new MessageIllegalError("A batch cannot hold delayed or timer messages; send them one by one");
          }
        }
        const results = await this.#store.putMessages(entries.map((e) => ({ ...common, body: e.body, flag: e.flag, properties: e.properties })));
        const timedOut = results.some((r) => r.status !== "PUT_OK");
        const last = results[results.length - 1];
        const code = await this.#replicated(last.physicalOffset + last.size, timedOut ? ResponseCode.FLUSH_DISK_TIMEOUT : ResponseCode.SUCCESS);
        return createResponse(code, undefined, {
          msgId: results.map((r) => createOffsetMsgId(this.#addr, r.physicalOffset)).join(","),
          queueId,
          queueOffset: results[0].queueOffset,
        });
      }
      const properties = extBytesOrString(req, "properties") ?? "";
      const message = { ...common, body, flag: extInt(req, "flag", false) ?? 0, properties };
      const put = transactionType(common.sysFlag) === SysFlag.TRANSACTION_PREPARED_TYPE ? this.#half(message) : this.#delayed(message);
      const r = await this.#store.putMessage(put);
      const code = await this.#replicated(r.physicalOffset + r.size, r.status === "PUT_OK" ? ResponseCode.SUCCESS : ResponseCode.FLUSH_DISK_TIMEOUT);
      return createResponse(code, undefined, {
        msgId: createOffsetMsgId(this.#addr, r.physicalOffset),
        queueId,
        queueOffset: r.queueOffset,
      });
    } finally {
      this.#sendsInFlight--;
    }
  }

  // ---- pulling -------------------------------------------------------------------------------

  async #pull(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand> {
    const group = extString(req, "consumerGroup");
    validateGroup(group);
    const [topic, queueId] = this.#topicQueue(req);
    const tc = this.#topics.get(topic);
    if (!tc) return createResponse(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
    if ((tc.perm & Perm.READ) === 0) return createResponse(ResponseCode.NO_PERMISSION, `the topic[${topic}] pulling is forbidden`);
    const offset = extInt(req, "queueOffset");
    const maxMsgs = Math.min(MAX_PULL_MESSAGES, Math.max(1, extInt(req, "maxMsgNums", false) ?? 32));
    const maxBytes = Math.min(MAX_PULL_BYTES, Math.max(1, extInt(req, "maxMsgBytes", false) ?? MAX_PULL_BYTES));
    const sysFlag = extInt(req, "sysFlag", false) ?? 0;
    const expressionType = extString(req, "expressionType", false) ?? "TAG";
    const subscription = extString(req, "subscription", false);
    const byTag = expressionType === "SQL92" ? () => true : tagFilter(subscription);
    const bySql = expressionType === "SQL92" ? sqlFilter(subscription ?? "") : undefined;
    if (expressionType !== "TAG" && expressionType !== "SQL92") {
      return createResponse(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `expressionType must be TAG or SQL92, got ${expressionType}`);
    }
    if (sysFlag & 1) {
      const commit = extInt(req, "commitOffset", false);
      if (commit !== undefined && commit >= 0) this.#commitOffset(group, topic, queueId, commit);
    }
    const suspendMs = sysFlag & 2 ? Math.min(this.config.maxSuspendTimeoutMillis, Math.max(0, extInt(req, "suspendTimeoutMillis", false) ?? 15_000)) : 0;
    const deadline = Date.now() + suspendMs;
    let released = false;
    for (;;) {
      const r = this.#store.getMessage(topic, queueId, offset, maxMsgs, maxBytes);
      const ext = { nextBeginOffset: r.nextBeginOffset, minOffset: r.minOffset, maxOffset: r.maxOffset, suggestWhichBrokerId: 0 };
      if (r.status === "FOUND") {
        const last = r.units[r.units.length - 1];
        ext.suggestWhichBrokerId = this.#suggestBroker(this.#store.commitLogMaxOffset - (last.physicalOffset + last.size));
        this.#pullsFound++;
        const keep = r.messages.filter((raw, i) => byTag(r.units[i].tagsCode) && (!bySql || bySql(raw)));
        if (keep.length === 0) return createResponse(ResponseCode.PULL_RETRY_IMMEDIATELY, "no message matched the filter", ext);
        return successResponse(ext, keep.length === r.messages.length && r.body ? r.body : concatBytes(keep));
      }
      if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_OVERFLOW_BADLY") {
        return createResponse(ResponseCode.PULL_OFFSET_MOVED, `offset ${offset} is outside ${r.minOffset}..${r.maxOffset}`, ext);
      }
      if (r.status === "OFFSET_FOUND_NULL") return createResponse(ResponseCode.PULL_RETRY_IMMEDIATELY, undefined, ext);
      const left = deadline - Date.now();
      if (left <= 0 || this.#shuttingDown || conn.isClosed || released) {
        return createResponse(ResponseCode.PULL_NOT_FOUND, undefined, { ...ext, nextBeginOffset: offset });
      }
      const woken = await this.#holds.wait(topic, queueId, offset, left, conn);
      // Woken because the client went away: look once more, then answer without holding again.
      released = woken && this.#holds.wasReleased(conn);
    }
  }

  #pullsFound = 0;

  /**
   * Where this consumer should pull next (RocketMQ's suggestWhichBrokerId): a slave while it is
   * far behind the log's end (reading old data would compete with the master's writes for the
   * disk), the master otherwise. Only with slaveReadEnable.
   */
  #suggestBroker(lagBytes: number): number {
    const c = this.config;
    if (!c.slaveReadEnable) return 0;
    const far = lagBytes > (c.consumeSlowlyLagBytes > 0 ? c.consumeSlowlyLagBytes : totalMemoryBytes() * c.accessMessageInMemoryMaxRatio / 100);
    if (!far) return 0;
    return this.#isSlave ? c.brokerId : c.whichBrokerWhenConsumeSlowly;
  }

  #queryOffset(req: RemotingCommand): RemotingCommand {
    const group = extString(req, "consumerGroup");
    const [topic, queueId] = this.#topicQueue(req);
    const stored = this.#offsets.query(group, topic, queueId);
    if (stored !== undefined) return successResponse({ offset: stored });
    // RocketMQ: with no stored offset, answer 0 only when the queue still starts at 0.
    if (extBool(req, "setZeroIfNotFound", true) && this.#store.minOffset(topic, queueId) === 0) return successResponse({ offset: 0 });
    return createResponse(ResponseCode.QUERY_NOT_FOUND, `no offset of group ${group} for ${topic}:${queueId}`);
  }

  #updateOffset(req: RemotingCommand): RemotingCommand {
    const group = extString(req, "consumerGroup");
    validateGroup(group);
    const [topic, queueId] = this.#topicQueue(req);
    const offset = extInt(req, "commitOffset");
    if (offset < 0) throw new InvalidParameterError(`commitOffset ${offset} is negative`);
    this.#commitOffset(group, topic, queueId, offset);
    return successResponse();
  }

  #topicQueue(req: RemotingCommand): [string, number] {
    const topic = extString(req, "topic");
    validateTopic(topic);
    const queueId = extInt(req, "queueId");
    if (queueId < 0 || queueId > 65_535) throw new InvalidParameterError(`queueId ${queueId} is out of range`);
    return [topic, queueId];
  }

  // ---- clients and admin ---------------------------------------------------------------------

  #heartbeat(req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const hb = decodeBody<{ clientID?: string; producerDataSet?: { groupName: string }[]; consumerDataSet?: unknown[] }>(req.body, typeOf(req), "HeartbeatData");
    if (typeof hb?.clientID !== "string") throw new InvalidParameterError("HeartbeatData lacks clientID");
    const producers = (hb.producerDataSet ?? []).map((p) => String(p.groupName));
    const consumers = (hb.consumerDataSet ?? []).map(consumerDataOf);
    const changed = this.#clients.heartbeat(conn, hb.clientID, producers, consumers);
    if (!changed) throw new SystemBusyError("too many clients");
    for (const d of consumers) {
      // As RocketMQ does: a clustering group's retry topic exists once a member heartbeats, so
      // its members find it in their routes and subscribe to it.
      if (d.messageModel === "CLUSTERING") this.#systemTopic(RETRY_GROUP_TOPIC_PREFIX + d.groupName);
    }
    for (const group of changed) this.#checkSubscriptions(group);
    return successResponse();
  }

  /** Warns when a group's members subscribe differently (messages are then silently skipped). */
  #checkSubscriptions(group: string): void {
    const view = this.#clients.groupView(group);
    if (view.subscriptionsConsistent) {
      this.#inconsistentGroups.delete(group);
      return;
    }
    if (this.#inconsistentGroups.has(group)) return;
    this.#inconsistentGroups.add(group);
    const detail = view.members.map((m) => `${m.clientId}: ${m.subscriptions.map((x) => `${x.topic}=${x.subString}`).join(", ")}`).join("; ");
    this.#log.warn(`consumer group ${group} has members with different subscriptions; some messages will be skipped by some members (${detail})`);
  }

  /** A retry or dead-letter topic: one queue, read-write, created on first use. */
  #systemTopic(topic: string): void {
    if (this.#topics.get(topic)) return;
    this.#topics.update({ topicName: topic, readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ_WRITE, topicSysFlag: 0, order: false });
  }

  /**
   * CONSUMER_SEND_MSG_BACK: a consumer could not handle a message. It goes to %RETRY%<group>
   * after the delay of level 3 + reconsumeTimes (or the level asked for), through the schedule
   * topic; after maxReconsumeTimes, or when asked with a negative level, to %DLQ%<group>.
   */
  async #sendBack(req: RemotingCommand): Promise<RemotingCommand> {
    if (this.#shuttingDown) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, "broker is shutting down");
    const group = extString(req, "group");
    validateGroup(group);
    const offset = extInt(req, "offset");
    const raw = this.#store.readRecord(offset);
    if (!raw) return createResponse(ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${offset}`);
    const m = decodeRecord(raw);
    const maxTimes = extInt(req, "maxReconsumeTimes", false) ?? this.config.maxReconsumeTimes;
    let level = extInt(req, "delayLevel", false) ?? 0;
    const props = { ...m.properties };
    props[MessageProperty.RETRY_TOPIC] ??= m.topic;
    props[MessageProperty.ORIGIN_MESSAGE_ID] ??= props[MessageProperty.UNIQ_KEY] ?? extString(req, "originMsgId", false) ?? createOffsetMsgId(m.storeHost, m.physicalOffset);
    delete props[MessageProperty.DELAY_TIME_LEVEL];
    const base = {
      body: m.body.slice(),
      flag: m.flag,
      sysFlag: m.sysFlag,
      bornTimestamp: m.bornTimestamp,
      bornHost: m.bornHost,
      reconsumeTimes: m.reconsumeTimes + 1,
    };
    let put;
    if (m.reconsumeTimes >= maxTimes || level < 0) {
      const dlq = DLQ_GROUP_TOPIC_PREFIX + group;
      this.#systemTopic(dlq);
      props.DLQ_ORIGIN_TOPIC = props[MessageProperty.RETRY_TOPIC];
      props.DLQ_ORIGIN_MESSAGE_ID = props[MessageProperty.ORIGIN_MESSAGE_ID];
      put = { ...base, topic: dlq, queueId: 0, properties: props };
    } else {
      const retry = RETRY_GROUP_TOPIC_PREFIX + group;
      this.#systemTopic(retry);
      level = this.#schedule.clampLevel(level === 0 ? 3 + m.reconsumeTimes : level);
      put = toScheduled(base, retry, 0, level, props);
    }
    const r = await this.#store.putMessage(put);
    return createResponse(r.status === "PUT_OK" ? ResponseCode.SUCCESS : ResponseCode.FLUSH_DISK_TIMEOUT, undefined);
  }

  /**
   * A message with a delay level (DELAY) goes to SCHEDULE_TOPIC, one with a time
   * (TIMER_DELIVER_MS, or TIMER_DELAY_MS from now) to TIMER_TOPIC; both keep their real topic
   * and queue in properties. A time already past, or level 0, means now. Transactional half
   * messages are never delayed (their delay, if any, applies when they are committed).
   */
  #delayed(put: PutMessageRequest & { properties: string | Uint8Array }): PutMessageRequest {
    const raw = put.properties;
    if (!DELAY_PROPERTIES.some((name) => hasProperty(raw, name))) return put;
    if (transactionType(put.sysFlag ?? 0) === SysFlag.TRANSACTION_PREPARED_TYPE) return put;
    const props: Properties = decodeProperties(typeof raw === "string" ? raw : fromUtf8(raw));
    const at = props[MessageProperty.TIMER_DELIVER_MS];
    const after = props[TIMER_DELAY_MS];
    delete props[MessageProperty.TIMER_DELIVER_MS];
    delete props[TIMER_DELAY_MS];
    const now = Date.now();
    if (at !== undefined || after !== undefined) {
      const value = Number(at ?? after);
      if (!Number.isSafeInteger(value) || (after !== undefined && at === undefined && value < 0)) {
        throw new MessageIllegalError(`${at !== undefined ? "TIMER_DELIVER_MS" : "TIMER_DELAY_MS"} must be an integer number of ms, got "${(at ?? after)!.slice(0, 40)}"`);
      }
      const deliverMs = at !== undefined ? value : now + value;
      if (deliverMs - now > this.config.timerMaxDelayMs) {
        throw new MessageIllegalError(`Timer delay of ${deliverMs - now} ms exceeds timerMaxDelayMs (${this.config.timerMaxDelayMs} ms)`);
      }
      delete props[MessageProperty.DELAY_TIME_LEVEL];
      if (deliverMs <= now) return { ...put, properties: props };
      return {
        ...put,
        topic: TIMER_TOPIC,
        queueId: 0,
        properties: {
          ...props,
          [MessageProperty.REAL_TOPIC]: put.topic,
          [MessageProperty.REAL_QUEUE_ID]: String(put.queueId),
          [TIMER_OUT_MS]: String(deliverMs),
        },
      };
    }
    const level = Number(props[MessageProperty.DELAY_TIME_LEVEL]);
    if (!Number.isInteger(level) || level < 0) {
      throw new MessageIllegalError(`DELAY must be a delay level (an integer ≥ 0), got "${props[MessageProperty.DELAY_TIME_LEVEL].slice(0, 40)}"`);
    }
    delete props[MessageProperty.DELAY_TIME_LEVEL];
    if (level === 0) return { ...put, properties: props };
    const { topic, queueId, ...rest } = put;
    return toScheduled({ ...rest, properties: props }, topic, queueId, this.#schedule.clampLevel(level), props);
  }

  /**
   * A half message: stored in HALF_TOPIC (with a ConsumeQueue unit there, so the check service
   * can walk it) and its real topic and queue kept in properties; consumers never see it.
   */
  #half(put: PutMessageRequest & { properties: string | Uint8Array }): PutMessageRequest {
    const raw = put.properties;
    const props: Properties = decodeProperties(typeof raw === "string" ? raw : fromUtf8(raw));
    if (!props[MessageProperty.PRODUCER_GROUP]) throw new MessageIllegalError("A half message needs its producer group (property PGROUP)");
    return {
      ...put,
      topic: HALF_TOPIC,
      queueId: 0,
      sysFlag: (put.sysFlag ?? 0) & ~0xc,
      properties: { ...props, [MessageProperty.REAL_TOPIC]: put.topic, [MessageProperty.REAL_QUEUE_ID]: String(put.queueId) },
    };
  }

  /** END_TRANSACTION: commit or roll back a half message (UNKNOWN leaves it to the check-back). */
  async #endTransaction(req: RemotingCommand): Promise<RemotingCommand> {
    const type = extInt(req, "commitOrRollback");
    if (type !== SysFlag.TRANSACTION_COMMIT_TYPE && type !== SysFlag.TRANSACTION_ROLLBACK_TYPE) return successResponse();
    const offset = extInt(req, "commitLogOffset");
    const half = this.#tx.halfAt(offset);
    if (!half) return createResponse(ResponseCode.SYSTEM_ERROR, `no half message at CommitLog offset ${offset}`);
    const group = extString(req, "producerGroup");
    if (half.properties[MessageProperty.PRODUCER_GROUP] !== group) {
      return createResponse(ResponseCode.SYSTEM_ERROR, `half message at ${offset} belongs to producer group ${half.properties[MessageProperty.PRODUCER_GROUP]}, not ${group}`);
    }
    await this.#tx.decide(half, type === SysFlag.TRANSACTION_COMMIT_TYPE, committedOf);
    return successResponse();
  }

  /** A put to a user topic lands on one of its queues, even if the topic shrank meanwhile. */
  #fitQueue(req: PutMessageRequest): PutMessageRequest {
    const tc = this.#topics.get(req.topic);
    return tc && req.queueId >= tc.writeQueueNums ? { ...req, queueId: req.queueId % tc.writeQueueNums } : req;
  }

  /**
   * Cancels a pending delayed or timer message of `topic` by its unique id, on this broker.
   * Answers QUERY_NOT_FOUND when none is pending here (unknown, delivered or cancelled).
   */
  #cancelDelayed(req: RemotingCommand): RemotingCommand {
    const topic = extString(req, "topic");
    validateTopic(topic);
    const id = extString(req, "uniqKey");
    for (const m of this.#store.queryMessage(TIMER_TOPIC, id, 8)) {
      if (m.properties[MessageProperty.REAL_TOPIC] !== topic || m.properties[MessageProperty.UNIQ_KEY] !== id) continue;
      const unitMs = unitDeliverMs(Number(m.properties[TIMER_OUT_MS]), m.storeTimestamp, this.config.timerRollIntervalMs);
      if (this.#timer.cancel(m.physicalOffset, unitMs)) return successResponse();
    }
    for (const m of this.#store.queryMessage(SCHEDULE_TOPIC, id, 8)) {
      if (m.properties[MessageProperty.REAL_TOPIC] !== topic || m.properties[MessageProperty.UNIQ_KEY] !== id) continue;
      if (this.#schedule.cancel(m)) return successResponse();
    }
    return createResponse(ResponseCode.QUERY_NOT_FOUND, `no pending delayed message ${id} of ${topic} on this broker (delivered, cancelled, or never sent here)`);
  }

  /** Writes a due scheduled message to its real topic (created if it is a retry topic). */
  async #deliverScheduled(req: PutMessageRequest): Promise<void> {
    const tc = this.#topics.get(req.topic);
    if (!tc && req.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) this.#systemTopic(req.topic);
    else if (tc && req.queueId >= tc.writeQueueNums) req = { ...req, queueId: req.queueId % tc.writeQueueNums };
    await this.#store.putMessage(req);
  }

  #lockBody(req: RemotingCommand): { consumerGroup: string; clientId: string; mqSet: LockedQueue[] } {
    const b = decodeBody<{ consumerGroup?: unknown; clientId?: unknown; mqSet?: unknown }>(req.body, typeOf(req), "LockBatchRequestBody");
    if (typeof b?.consumerGroup !== "string" || typeof b.clientId !== "string" || !Array.isArray(b.mqSet)) {
      throw new InvalidParameterError("LockBatchRequestBody needs consumerGroup, clientId and mqSet");
    }
    validateGroup(b.consumerGroup);
    const mqSet = b.mqSet.map((q: { topic?: unknown; brokerName?: unknown; queueId?: unknown }) => {
      if (typeof q?.topic !== "string" || typeof q.brokerName !== "string" || !Number.isInteger(q.queueId)) {
        throw new InvalidParameterError("mqSet entries need topic, brokerName and queueId");
      }
      return { topic: q.topic, brokerName: q.brokerName, queueId: q.queueId as number };
    });
    return { consumerGroup: b.consumerGroup, clientId: b.clientId, mqSet };
  }

  #createTopic(req: RemotingCommand): RemotingCommand {
    const topic = extString(req, "topic");
    const read = extInt(req, "readQueueNums", false) ?? 16;
    const write = extInt(req, "writeQueueNums", false) ?? read;
    this.#topics.update({
      topicName: topic,
      readQueueNums: read,
      writeQueueNums: write,
      perm: extInt(req, "perm", false) ?? PERM_READ_WRITE,
      topicSysFlag: extInt(req, "topicSysFlag", false) ?? 0,
      order: extBool(req, "order", false),
    });
    return successResponse();
  }

  #deleteTopic(req: RemotingCommand): RemotingCommand {
    const topic = extString(req, "topic");
    if (!this.#topics.delete(topic)) throw new TopicNotExistError(topic);
    this.#offsets.removeTopic(topic);
    return successResponse();
  }

  #queryMessage(req: RemotingCommand): RemotingCommand {
    const topic = extString(req, "topic");
    validateTopic(topic);
    const key = extString(req, "key");
    const maxNum = Math.min(64, Math.max(1, extInt(req, "maxNum", false) ?? 32));
    const found = this.#store.queryMessage(topic, key, maxNum, extInt(req, "beginTimestamp", false) ?? 0, extInt(req, "endTimestamp", false) ?? Number.MAX_SAFE_INTEGER);
    if (found.length === 0) return createResponse(ResponseCode.QUERY_NOT_FOUND, `no message of ${topic} with key ${key}`);
    const raws = found.map((m) => this.#store.readRecord(m.physicalOffset)!).filter(Boolean);
    return successResponse({ indexLastUpdatePhyoffset: this.#store.dispatchedOffset }, concatBytes(raws));
  }
}

function typeOf(req: RemotingCommand): number {
  return req.serializeType ?? SerializeType.CBOR;
}

/** A heartbeat's consumer data, checked field by field (it comes off the wire). */
function consumerDataOf(raw: unknown): ConsumerData {
  const d = raw as Partial<ConsumerData> | undefined;
  if (typeof d?.groupName !== "string") throw new InvalidParameterError("ConsumerData lacks groupName");
  validateGroup(d.groupName);
  const subs = Array.isArray(d.subscriptionDataSet) ? d.subscriptionDataSet : [];
  if (subs.length > 1_000) throw new InvalidParameterError(`ConsumerData of ${d.groupName} has ${subs.length} subscriptions; at most 1000`);
  return {
    groupName: d.groupName,
    messageModel: d.messageModel === "BROADCASTING" ? "BROADCASTING" : "CLUSTERING",
    consumeType: String(d.consumeType ?? "CONSUME_PASSIVELY"),
    consumeFromWhere: String(d.consumeFromWhere ?? ""),
    subscriptionDataSet: subs.map((x: Partial<SubscriptionData>) => ({
      topic: String(x?.topic ?? ""),
      subString: String(x?.subString ?? "*"),
      expressionType: x?.expressionType === "SQL92" ? "SQL92" : "TAG",
    })),
  };
}

/** A sync state set as the controller sends it: broker ids separated by commas. */
function brokerIds(list: string | undefined): number[] {
  return (list ?? "").split(",").filter(Boolean).map(Number);
}
