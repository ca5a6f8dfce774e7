import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import type { FileSystem } from "../platform/file_system.ts";
import {
  AlterSyncStateSetRequestHeader,
  ControllerHeartbeatRequestHeader,
  GroupViewResponseHeader,
  NotLeaderResponseHeader,
} from "../protocol/headers/broker_header.ts";
import { createRequest, createResponse, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { RemotingServer } from "../remoting/remoting_server.ts";
import type { MessageStore } from "../store/message_store.ts";
import type { BrokerConfig } from "./broker_config.ts";
import { EpochFile } from "./epoch_file.ts";
import { HAMaster, HASlave, type ReplicationStatus } from "./ha_service.ts";
import type { ConsumerOffsetManager } from "./consumer_offset_manager.ts";
import { SCHEDULE_TOPIC, type ScheduleMessageService } from "./schedule_message_service.ts";
import type { SubscriptionGroupManager } from "./subscription_group_manager.ts";
import { SlaveSynchronize } from "./slave_synchronize.ts";
import { TIMER_TOPIC } from "./timer_message_service.ts";
import type { TopicConfigManager } from "./topic_config_manager.ts";
import { HALF_TOPIC, OP_TOPIC } from "./transactional_message_service.ts";
import { Limits } from "../common/limits.ts";

/** What the role needs from the broker around it. */
export interface BrokerRoleHooks {
  /** "host:port" of the broker's main port. */
  addr(): string;
  shuttingDown(): boolean;
  /** The services only a master runs (delay levels, timers, transaction checks). */
  startMasterServices(): void;
  stopMasterServices(): Promise<void>;
  registerAll(): Promise<void>;
}

/**
 * Which part this broker plays in its group, and the replication that goes with it: a master
 * serves HA_PULL on its HA port and waits for slaves on SYNC sends; a slave copies its master's
 * log and metadata. In controller mode the controller decides the part: until it says master,
 * the broker is a slave, and a master whose lease ran out stops acknowledging.
 */
export class BrokerRole {
  readonly #haClient = new RemotingClient();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #haServer: RemotingServer | undefined;
  #haAddr = "";
  #haMaster: HAMaster | undefined;
  #haSlave: HASlave | undefined;
  /** A slave's master, as the NameServer (or controller) last reported it (main and HA addresses). */
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

  /** A slave's copy of its master's metadata, and the offsets committed here to carry back. */
  readonly slaveSync: SlaveSynchronize;

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    offsets: ConsumerOffsetManager,
    groups: SubscriptionGroupManager,
    schedule: ScheduleMessageService,
    private readonly hooks: BrokerRoleHooks,
    private readonly log: Logger,
  ) {
    this.slaveSync = new SlaveSynchronize(topics, store, offsets, groups, schedule, this, log);
  }

  /** Opens the epoch file (controller mode) and the HA port of a broker that is or may become master. */
  async open(fs: FileSystem, configDir: string): Promise<void> {
    const c = this.config;
    if (c.enableControllerMode) this.#epochs = new EpochFile(fs, `${configDir}/epoch.json`);
    if (c.enableControllerMode || c.brokerRole !== "SLAVE") await this.#startHAMaster();
  }

  /** Takes up the role: asks the controller, starts copying from the master, or starts the master's services. */
  async start(): Promise<void> {
    const c = this.config;
    if (c.enableControllerMode) {
      this.#timers.push(setInterval(() => void this.#controllerHeartbeat(), c.controllerHeartbeatInterval));
      this.#timers.push(setInterval(() => void this.slaveSync.sync(), c.haMetadataSyncInterval));
      await this.#controllerHeartbeat();
    } else if (c.brokerRole === "SLAVE") {
      // A slave delivers nothing itself (its master does, and the results replicate here).
      this.#startHASlave();
      this.#timers.push(setInterval(() => void this.slaveSync.sync(), c.haMetadataSyncInterval));
      void this.slaveSync.sync();
    } else {
      this.hooks.startMasterServices();
    }
  }

  /** Replication stops: waiting SYNC sends answered, the slave loop ended, the HA port closed. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#haMaster?.stop();
    await this.#haSlave?.stop();
    await this.#haServer?.stop(0);
    this.#haClient.close();
    this.slaveSync.close();
  }

  /** The broker is shutting down (the slave sync stops copying). */
  get stopping(): boolean {
    return this.hooks.shuttingDown();
  }

  get haAddr(): string {
    return this.#haAddr;
  }

  get masterAddr(): string {
    return this.#masterAddr;
  }

  /** The id this broker registers under: in controller mode the elected master is 0. */
  get registeredBrokerId(): number {
    return this.config.enableControllerMode && this.#ctlMaster ? 0 : this.config.brokerId;
  }

  /** Whether this broker is a slave now (by configuration, or by the controller's choice). */
  get isSlave(): boolean {
    return this.config.enableControllerMode ? !this.#ctlMaster : this.config.brokerRole === "SLAVE";
  }

  /**
   * Controller mode: a master whose lease ran out may have been replaced, so it acknowledges
   * nothing — unless every SEND_OK needs a slave's copy (SYNC_MASTER, inSyncReplicas ≥ 2): a
   * slave stops copying before it takes over, so this master cannot acknowledge alongside it,
   * and writes go on while the controller itself is down.
   */
  get fenced(): boolean {
    const c = this.config;
    if (!c.enableControllerMode || !this.#ctlMaster || Date.now() <= this.#leaseUntil) return false;
    return !(c.brokerRole === "SYNC_MASTER" && c.inSyncReplicas >= 2);
  }

  /** Why a request that writes cannot be served here now, or undefined when it can. */
  refuseWrite(code: number): RemotingCommand | undefined {
    const who = `broker ${this.config.brokerName}[${this.config.brokerId}]`;
    // A slave's log is its master's copy: anything that would append to it is refused.
    if (this.isSlave) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, `${who} is a slave: ${requestCodeName(code)} goes to its master`);
    if (this.fenced) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, `${who} lost the controller: a new master may be elected, so it acknowledges nothing`);
    return undefined;
  }

  /** SYNC_MASTER: waits for the slaves to hold everything up to `end`; maps the outcome to a response code. */
  async replicated(end: number, stored: number): Promise<number> {
    if (this.config.brokerRole !== "SYNC_MASTER" || !this.#haMaster || stored !== ResponseCode.SUCCESS) return stored;
    // Controller mode: every slave of the sync state set must hold it (any may be elected next).
    const mustAck = this.config.enableControllerMode ? this.#syncStateSet.filter((id) => id !== this.config.brokerId) : [];
    const r: ReplicationStatus = await this.#haMaster.waitReplicated(end, mustAck);
    return r === "OK" ? stored : r === "FLUSH_SLAVE_TIMEOUT" ? ResponseCode.FLUSH_SLAVE_TIMEOUT : ResponseCode.SLAVE_NOT_AVAILABLE;
  }

  /** A slave learns where its master is (from a registration answer or the controller's view). */
  learnMaster(masterAddr: string | undefined, haAddr: string | undefined): void {
    if (masterAddr && masterAddr !== this.#masterAddr) {
      this.log.info(`master of ${this.config.brokerName} is ${masterAddr} (HA ${haAddr || "unknown"})`);
      this.#masterAddr = masterAddr;
      void this.slaveSync.sync();
    }
    if (haAddr) this.#masterHaAddr = haAddr;
  }

  /** The role's part of the broker's runtime figures. */
  runtimeInfo(): Record<string, string> {
    const c = this.config;
    return {
      brokerRole: c.enableControllerMode ? (this.#ctlMaster ? `${c.brokerRole} (elected)` : "SLAVE (controller)") : c.brokerRole,
      haServerAddr: this.#haAddr,
      ...(c.enableControllerMode ? { controllerEpoch: String(this.#epochs?.lastEpoch ?? 0), fenced: String(this.fenced) } : {}),
      ...(this.#haMaster && !this.isSlave ? { haInSyncSlaves: String(this.#haMaster.inSyncCount()), haSlaves: JSON.stringify(this.#haMaster.slaves()) } : {}),
      ...(this.#haSlave ? { haMasterAddr: this.#masterAddr, haReplication: JSON.stringify(this.#haSlave.status()) } : {}),
    };
  }

  // ---- replication -----------------------------------------------------------------------------

  async #startHAMaster(): Promise<void> {
    const c = this.config;
    this.#haMaster = new HAMaster(this.store, {
      inSyncReplicas: c.inSyncReplicas,
      slaveTimeoutMs: c.slaveTimeout,
      maxGapNotInSync: c.haMaxGapNotInSync,
      housekeepingMs: c.haHousekeepingInterval,
      transferBatchBytes: c.haTransferBatchSize,
    }, this.log.child("ha"), this.#epochs, () => !this.isSlave);
    // listenPort 0 (a free port) means a free HA port too: actual + 1 may well be taken.
    const port = c.haListenPort >= 0 ? c.haListenPort : c.listenPort === 0 ? 0 : c.listenPort + 1;
    this.#haServer = new RemotingServer({ host: c.brokerIP1, port, log: this.log.child("ha") });
    this.#haServer.registerProcessor(RequestCode.HA_PULL, (req, ctx) => this.#haMaster!.pull(req, ctx.connection.remoteAddr));
    const ha = await this.#haServer.start();
    this.#haAddr = `${c.brokerIP1 === "0.0.0.0" ? "127.0.0.1" : ha.host}:${ha.port}`;
    this.#timers.push(setInterval(() => this.#haMaster?.housekeep(), Math.max(50, c.haHousekeepingInterval / 4)));
  }

  #startHASlave(): void {
    const c = this.config;
    this.#haSlave = new HASlave(this.store, {
      brokerId: c.brokerId,
      masterHaAddr: () => c.haMasterAddress || this.#masterHaAddr || undefined,
      holdMs: c.haSendHeartbeatInterval,
      timeoutMs: Limits.haPullTimeoutMs,
      retryMs: Math.min(Limits.haPullRetryMs, c.haSendHeartbeatInterval),
      epochs: this.#epochs,
    }, this.log.child("ha"));
    this.#haSlave.start();
  }

  // ---- controller mode ---------------------------------------------------------------------------

  async #controllerHeartbeat(): Promise<void> {
    if (this.#heartbeating || this.hooks.shuttingDown()) return;
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
          resp = await this.#haClient.invoke(addr, createRequest(RequestCode.CONTROLLER_HEARTBEAT, ControllerHeartbeatRequestHeader.encode({
            clusterName: c.brokerClusterName,
            brokerName: c.brokerName,
            brokerId: c.brokerId,
            addr: this.hooks.addr(),
            haAddr: this.#haAddr,
            epoch: this.#epochs?.lastEpoch ?? 0,
            maxOffset: this.store.commitLogMaxOffset,
            isMaster: this.#ctlMaster,
          })), Math.max(200, c.controllerLeaseMs));
        } catch {
          continue; // the next controller address
        }
        if (resp.code === ResponseCode.CONTROLLER_NOT_LEADER) {
          // A member of a controller group that does not lead: ask the leader it names next.
          const leader = NotLeaderResponseHeader.decode(resp).leaderAddr;
          if (leader && leader !== addr && !addrs.slice(i + 1, i + 2).includes(leader) && addrs.length < listed.length + 4) addrs.splice(i + 1, 0, leader);
          continue;
        }
        if (resp.code !== ResponseCode.SUCCESS) {
          this.log.warn(`controller ${addr} refused the heartbeat: ${resp.remark ?? resp.code}`);
          continue;
        }
        if (this.hooks.shuttingDown()) return;
        this.#controllerFirst = addr;
        this.#leaseUntil = sentAt + c.controllerLeaseMs;
        this.#roleChange = this.#roleChange.then(() => this.#applyView(resp, addr)).catch((err) => {
          this.log.error(`role change failed: ${(err as Error).message}`);
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
    if (this.hooks.shuttingDown()) return;
    const view = GroupViewResponseHeader.decode(resp);
    const { epoch, masterId } = view;
    if (epoch < (this.#epochs?.lastEpoch ?? 0)) return; // a restarted controller catching up
    const me = this.config.brokerId;
    if (masterId === me) {
      if (!this.#ctlMaster) return await this.#promote(epoch);
      // Re-elected at a newer epoch (the controller thought it silent): that epoch starts here.
      this.#epochs!.append(epoch, this.store.commitLogMaxOffset);
      return await this.#maintainSyncStateSet(view.syncStateSet, controller);
    }
    if (this.#ctlMaster) await this.#demote(masterId, epoch);
    // Copied at once on a change: a slave promoted before its first copy would lack topics.
    this.learnMaster(view.masterAddr, view.masterHaAddr);
    if (masterId !== 0 && !this.#haSlave) this.#startHASlave();
  }

  async #promote(epoch: number): Promise<void> {
    await this.#haSlave?.stop();
    this.#haSlave = undefined;
    this.#epochs!.append(epoch, this.store.commitLogMaxOffset);
    this.#syncStateSet = [this.config.brokerId]; // a new master's set is itself, until it grows
    const adopted = this.topics.ensureFromQueues(this.store.topicQueues(), new Set([SCHEDULE_TOPIC, TIMER_TOPIC, HALF_TOPIC, OP_TOPIC]));
    if (adopted.length > 0) this.log.warn(`topics known only from replicated messages, now served: ${adopted.join(", ")}`);
    this.#ctlMaster = true;
    this.hooks.startMasterServices();
    this.log.warn(`elected master of ${this.config.brokerName} at epoch ${epoch}, from CommitLog offset ${this.store.commitLogMaxOffset}`);
    await this.hooks.registerAll();
  }

  async #demote(masterId: number, epoch: number): Promise<void> {
    this.#ctlMaster = false;
    this.#haMaster?.stop();
    await this.hooks.stopMasterServices();
    this.log.warn(`no longer master of ${this.config.brokerName}: broker ${masterId} is, at epoch ${epoch}`);
    await this.hooks.registerAll();
  }

  /** The master keeps the controller's sync state set to the slaves that recently held everything. */
  async #maintainSyncStateSet(syncStateSet: string | undefined, controller: string): Promise<void> {
    const c = this.config;
    const want = new Set([c.brokerId]);
    for (const s of this.#haMaster?.slaves() ?? []) {
      if (s.inSync && s.caughtUpMsAgo >= 0 && s.caughtUpMsAgo <= c.haMaxTimeSlaveNotCatchup) want.add(s.brokerId);
    }
    const have = brokerIds(syncStateSet);
    this.#syncStateSet = have;
    if (have.length === want.size && have.every((id) => want.has(id))) return;
    const r = await this.#haClient.invoke(controller, createRequest(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET, AlterSyncStateSetRequestHeader.encode({
      brokerName: c.brokerName,
      masterId: c.brokerId,
      epoch: this.#epochs!.lastEpoch,
      syncStateSet: [...want].sort((a, b) => a - b).join(","),
    })), Math.max(200, c.controllerLeaseMs)).catch(() => undefined);
    if (r && r.code === ResponseCode.SUCCESS) {
      this.#syncStateSet = brokerIds(GroupViewResponseHeader.decode(r).syncStateSet);
      this.log.info(`sync state set of ${c.brokerName} is now ${this.#syncStateSet.join(",")}`);
    }
  }
}

/** A sync state set as the controller sends it: broker ids separated by commas. */
function brokerIds(list: string | undefined): number[] {
  return (list ?? "").split(",").filter(Boolean).map(Number);
}
