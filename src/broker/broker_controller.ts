import { Limits } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { validateGroup } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { nodeFileSystem, type FileSystem } from "../platform/file_system.ts";
import { registerBrokerRequest, unregisterBrokerRequest, type BrokerIdentity } from "../protocol/namesrv_requests.ts";
import { RegisterBrokerResponseHeader } from "../protocol/headers/broker_header.ts";
import { ConsumerGroupRequestHeader } from "../protocol/headers/consumer_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { RemotingServer } from "../remoting/remoting_server.ts";
import { DefaultMessageStore } from "../store/default_message_store.ts";
import type { MessageStore } from "../store/message_store.ts";
import { type BrokerConfig, brokerConfig, serverLimits } from "./broker_config.ts";
import { RuntimeConfig } from "./runtime_config.ts";
import { BrokerStatsManager } from "./broker_stats_manager.ts";
import { brokerMetricFamilies } from "./broker_metrics.ts";
import type { BrokerContext, BrokerStats } from "./broker_context.ts";
import { BrokerRole } from "./broker_role.ts";
import { ClientManager } from "./client_manager.ts";
import { ConsumerOffsetManager } from "./consumer_offset_manager.ts";
import { brokerRuntimeInfo } from "./processor/admin_broker_processor.ts";
import { checkSubscriptions } from "./processor/consumer_manage_processor.ts";
import { registerProcessors } from "./processor/processor_table.ts";
import { PROCESSORS } from "./processor/processors.ts";
import { PullHoldService } from "./pull_hold_service.ts";
import { scheduledDelivery, transactionalPut } from "./put_back.ts";
import { RebalanceLockManager } from "./rebalance_lock_manager.ts";
import { parseDelayLevels, SCHEDULE_TOPIC, ScheduleMessageService } from "./schedule_message_service.ts";
import { TIMER_TOPIC, TimerMessageService } from "./timer_message_service.ts";
import { SubscriptionGroupManager } from "./subscription_group_manager.ts";
import { settledWithin } from "../util/deferred.ts";
import { TopicConfigManager } from "./topic_config_manager.ts";
import { askProducer, TransactionalMessageService } from "./transactional_message_service.ts";

/**
 * A broker: the message store behind a remoting server, registered with every NameServer.
 * `start()` opens the store and listens; `shutdown()` stops accepting, finishes in-flight
 * requests, flushes, persists offsets and unregisters. This file is wiring and lifecycle; the
 * requests are served by the processors, the part the broker plays by `BrokerRole`.
 */
export class BrokerController {
  readonly config: BrokerConfig;
  readonly #log: Logger;
  readonly #fs: FileSystem;
  #ctx!: BrokerContext;
  readonly #holds = new PullHoldService(Limits.maxHeldPulls, Limits.maxHeldPullsPerConnection);
  readonly #clients = new ClientManager(Limits.maxBrokerClients);
  readonly #locks = new RebalanceLockManager();
  readonly #stats: BrokerStats = { sendsInFlight: 0, pullsFound: 0 };
  readonly #statsManager: BrokerStatsManager;
  readonly #server: RemotingServer;
  readonly #namesrvClient = new RemotingClient();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #configFile: string | undefined;
  #addr = "";
  #shuttingDown = false;
  #registerScheduled = false;
  /** The latest registration a topic change started (its body is read when it starts). */
  #registration: Promise<void> = Promise.resolve();

  /** `configFile`: where settings changed at run time are written (default `<storePathRootDir>/config/broker.properties`). */
  constructor(config: Partial<BrokerConfig> | BrokerConfig, opts: { log?: Logger; fs?: FileSystem; configFile?: string } = {}) {
    this.config = { ...brokerConfig(), ...config };
    this.#log = opts.log ?? silentLogger;
    this.#fs = opts.fs ?? nodeFileSystem;
    this.#configFile = opts.configFile;
    this.#statsManager = new BrokerStatsManager(this.config.brokerClusterName);
    this.#server = new RemotingServer({
      host: this.config.brokerIP1,
      port: this.config.listenPort,
      log: this.#log,
      limits: serverLimits(this.config),
      // A registered client's connection expires with the client (channelExpiredTimeout).
      exemptFromIdle: (conn) => this.#clients.has(conn),
    });
    // Members of a consumer group are told at once when it changes, so they rebalance now rather than at their
    // next periodic rebalance (NOTIFY_CONSUMER_IDS_CHANGED), unless the group's notifyConsumerIdsChangedEnable is off.
    this.#clients.onConsumerGroupChange((group) => {
      if (this.#ctx) checkSubscriptions(this.#ctx, group);
      if (this.#ctx?.groups.get(group)?.notifyConsumerIdsChangedEnable !== false) for (const conn of this.#clients.connectionsOf(group)) {
        conn.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, ConsumerGroupRequestHeader.encode({ consumerGroup: group }))).catch(() => {});
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
    return this.#ctx.store;
  }

  get identity(): BrokerIdentity {
    return {
      clusterName: this.config.brokerClusterName,
      brokerName: this.config.brokerName,
      brokerAddr: this.#addr,
      brokerId: this.#ctx?.role.registeredBrokerId ?? this.config.brokerId,
      haServerAddr: this.#ctx?.role.haAddr ?? "",
    };
  }

  async start(): Promise<string> {
    const c = this.config;
    validateGroup(c.brokerName);
    const store = DefaultMessageStore.open({
      storePathRootDir: c.storePathRootDir,
      flushDiskType: c.flushDiskType,
      maxMessageSize: c.maxMessageSize,
      commitLogSegmentBytes: c.commitLogSegmentBytes,
      fileReservedTimeHours: c.fileReservedTime,
      deleteWhen: c.deleteWhen,
      diskMaxUsedSpaceRatio: c.diskMaxUsedSpaceRatio / 100,
      fs: this.#fs,
    }, this.#log.child("store"));
    const configDir = `${c.storePathRootDir}/config`;
    try {
      this.#ctx = this.#context(store, configDir);
      registerProcessors(this.#server, this.#ctx, PROCESSORS);
      const { schedule, timer, holds } = this.#ctx;
      store.onMessageArrived((topic, queueId, maxOffset) => {
        if (topic === SCHEDULE_TOPIC) schedule.arrived(queueId);
        else if (topic === TIMER_TOPIC) timer.arrived();
        else holds.notify(topic, queueId, maxOffset);
      });
      const { host, port } = await this.#server.start();
      this.#addr = `${c.brokerIP1 === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
      await this.#ctx.role.open(this.#fs, configDir);
    } catch (err) {
      await this.#server.stop(0);
      await store.close();
      throw err;
    }
    store.setStoreHost(this.#addr);
    this.#ctx.topics.onChange(() => this.#registerSoon());
    await this.registerAll();
    // Timers whose period is a setting an operator may change while the broker runs.
    const { runtime } = this.#ctx;
    runtime.every(["registerNameServerPeriod"], () => c.registerNameServerPeriod, () => void this.registerAll());
    runtime.every(["flushConsumerOffsetInterval"], () => c.flushConsumerOffsetInterval, () => this.#persistOffsets());
    runtime.every(["flushDelayOffsetInterval"], () => c.flushDelayOffsetInterval, () => this.#ctx.schedule.persist());
    await this.#ctx.role.start();
    this.#timers.push(setInterval(() => this.#statsManager.sample(), Limits.statsSampleMs));
    runtime.every(["channelExpiredTimeout"], () => Math.min(Limits.clientExpiryScanMs, c.channelExpiredTimeout), () => this.#clients.expire(c.channelExpiredTimeout));
    this.#log.info(`broker ${c.brokerName}[${c.brokerId}] of ${c.brokerClusterName} listening on ${this.#addr}`);
    return this.#addr;
  }

  /** Registers with every NameServer now (they share nothing, so each gets the whole table). */
  async registerAll(): Promise<void> {
    const { topics, role } = this.#ctx;
    const body = topics.registerBody();
    await Promise.all(this.#namesrvAddrs().map(async (ns) => {
      try {
        const resp = await this.#namesrvClient.invoke(ns, registerBrokerRequest({ ...this.identity, heartbeatTimeoutMillis: Limits.brokerChannelExpiredTimeMs }, body), Limits.registerBrokerTimeoutMs);
        if (resp.code !== ResponseCode.SUCCESS) this.#log.warn(`registration with ${ns} refused: ${resp.remark}`);
        else if (role.isSlave && !this.config.enableControllerMode) {
          const h = RegisterBrokerResponseHeader.decode(resp);
          role.learnMaster(h.masterAddr, h.haServerAddr);
        }
      } catch (err) {
        this.#log.warn(`registration with ${ns} failed: ${(err as Error).message}`);
      }
    }));
  }

  async shutdown(graceMs = 5_000): Promise<void> {
    if (this.#shuttingDown || !this.#ctx) return; // stopping, or it never got as far as its services
    this.#shuttingDown = true;
    const { role, schedule, timer, tx, store } = this.#ctx;
    for (const t of this.#timers) clearInterval(t);
    this.#ctx.runtime.stop();
    this.#holds.wakeAll();
    await role.stop();
    await this.#server.stop(graceMs);
    schedule.stop();
    tx.stop();
    await timer.stop();
    await store.close();
    this.#persistOffsets();
    await Promise.all(this.#namesrvAddrs().map((ns) => this.#namesrvClient.invoke(ns, unregisterBrokerRequest(this.identity), Limits.unregisterBrokerTimeoutMs).catch(() => {})));
    this.#namesrvClient.close();
    this.#log.info(`broker ${this.config.brokerName} stopped`);
  }

  /** For tests: die as a killed process would (no flush, no unregistration). */
  async kill(): Promise<void> {
    if (!this.#ctx) return;
    this.#shuttingDown = true;
    const { role, schedule, timer, tx, store } = this.#ctx;
    for (const t of this.#timers) clearInterval(t);
    this.#ctx.runtime.stop();
    this.#namesrvClient.close();
    await role.stop();
    schedule.stop(false);
    tx.stop(false);
    await timer.stop(false);
    await this.#server.stop(0);
    store.kill();
  }

  runtimeInfo(): Record<string, string> {
    return brokerRuntimeInfo(this.#ctx);
  }

  /** This broker's figures for the admin port's /metrics (Prometheus families). */
  metricFamilies(): ReturnType<typeof brokerMetricFamilies> {
    return brokerMetricFamilies(this.#ctx);
  }

  /** The managers and services over `store`, and the role, as the processors see them. */
  #context(store: MessageStore, configDir: string): BrokerContext {
    const c = this.config;
    const fs = this.#fs;
    const log = this.#log;
    fs.mkdirp(configDir);
    const runtime = new RuntimeConfig(c, fs, this.#configFile ?? `${configDir}/broker.properties`, log.child("config"));
    runtime.onChange(["fileReservedTime", "deleteWhen", "diskMaxUsedSpaceRatio"], () =>
      store.setRetention({ fileReservedTimeHours: c.fileReservedTime, deleteWhen: c.deleteWhen, diskMaxUsedSpaceRatio: c.diskMaxUsedSpaceRatio / 100 }));
    const topics = new TopicConfigManager(fs, `${configDir}/topics.json`, c);
    const offsets = new ConsumerOffsetManager(fs, `${configDir}/consumerOffset.json`);
    const groups = new SubscriptionGroupManager(fs, `${configDir}/subscriptionGroup.json`, c); // c: the auto-created groups' defaults
    const deliver = scheduledDelivery(topics, store, c.putBackRetryMillis, log.child("putback"));
    const schedule = new ScheduleMessageService(store, parseDelayLevels(c.messageDelayLevel), fs, `${configDir}/delayOffset.json`, deliver, log.child("schedule"));
    const timer = new TimerMessageService(store, fs, {
      dir: `${c.storePathRootDir}/timerlog`,
      segmentBytes: c.timerSegmentBytes,
      maxDelayMs: c.timerMaxDelayMs,
      flushIntervalMs: c.timerFlushIntervalMs,
      rollIntervalMs: c.timerRollIntervalMs,
    }, deliver, log.child("timer"));
    const tx = new TransactionalMessageService(store, fs, `${configDir}/transactionOffset.json`, c, transactionalPut(topics, store), (check) => askProducer(this.#clients, this.#addr, check), log.child("transaction"));
    const role = new BrokerRole(c, store, topics, offsets, groups, schedule, {
      addr: () => this.#addr,
      shuttingDown: () => this.#shuttingDown,
      startMasterServices: () => {
        schedule.start();
        timer.start();
        tx.start();
      },
      stopMasterServices: async () => {
        schedule.stop();
        tx.stop();
        await timer.stop();
      },
      registerAll: () => this.registerAll(),
    }, log);
    // Bounded: a NameServer that is down must not hold the answer.
    const registered = () => settledWithin(this.#registration, Limits.topicRegistrationWaitMs);
    const addr = () => this.#addr;
    const shuttingDown = () => this.#shuttingDown;
    return {
      config: c, runtime, statsManager: this.#statsManager, log, store, topics, offsets, groups, schedule, timer, tx, role,
      slaveSync: role.slaveSync,
      clients: this.#clients,
      locks: this.#locks,
      holds: this.#holds,
      remoting: this.#server,
      stats: this.#stats,
      registered,
      get addr() {
        return addr();
      },
      get shuttingDown() {
        return shuttingDown();
      },
    };
  }

  #registerSoon(): void {
    if (this.#registerScheduled || this.#shuttingDown) return;
    this.#registerScheduled = true;
    this.#registration = Promise.resolve().then(() => {
      this.#registerScheduled = false;
      return this.registerAll();
    });
  }

  #namesrvAddrs(): string[] {
    return this.config.namesrvAddr.split(";").map((s) => s.trim()).filter(Boolean);
  }

  #persistOffsets(): void {
    try {
      this.#ctx.offsets.persist();
    } catch (err) {
      this.#log.error(`writing consumerOffset.json failed: ${(err as Error).message}`);
    }
  }
}
