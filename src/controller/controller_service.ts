import { InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import { encodeBody } from "../protocol/body_codec.ts";
import {
  AlterSyncStateSetRequestHeader,
  ControllerHeartbeatRequestHeader,
  GroupViewResponseHeader,
  NotLeaderResponseHeader,
} from "../protocol/headers/broker_header.ts";
import { createResponse, type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { RemotingServer } from "../remoting/remoting_server.ts";
import { EtcdLeadership } from "./etcd_leadership.ts";
import { type GroupView, ReplicaController } from "./replica_controller.ts";

export interface ControllerServiceOptions {
  /** A broker silent this long is dead; a dead master is replaced (default 1,500 ms). */
  heartbeatTimeoutMs?: number;
  /**
   * etcd endpoints: run as one member of a controller group whose leader is elected in etcd and
   * whose state lives there. Without them, a controller on its own with its state in memory.
   */
  etcdEndpoints?: string[];
}

export const DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS = 1_500;

/** The controller's requests on a remoting server: the NameServer's (embedded) or its own (`bolide controller`). */
export class ControllerService {
  readonly controller: ReplicaController;
  readonly #scanEvery: number;
  readonly #log: Logger;
  #scan: ReturnType<typeof setInterval> | undefined;
  #leadership: EtcdLeadership | undefined;
  /** Per group, the write of its last change: nothing about the group is answered before it is durable. */
  readonly #persisting = new Map<string, Promise<boolean>>();

  constructor(private readonly opts: ControllerServiceOptions, log: Logger) {
    const timeout = opts.heartbeatTimeoutMs ?? DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS;
    this.controller = new ReplicaController({ heartbeatTimeoutMs: timeout }, log);
    this.#scanEvery = Math.max(20, Math.floor(timeout / 10));
    this.#log = log;
  }

  /** Whether this controller answers brokers: always alone, only as the leader in a group. */
  get isLeader(): boolean {
    return !this.#leadership || this.#leadership.isLeader;
  }

  registerOn(server: RemotingServer): void {
    server.registerProcessor(RequestCode.CONTROLLER_HEARTBEAT, (req) => {
      const h = ControllerHeartbeatRequestHeader.decode(req);
      return this.#answer(h.brokerName, () => this.controller.heartbeat({ ...h, haAddr: h.haAddr ?? "", isMaster: h.isMaster ?? false }));
    });
    server.registerProcessor(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET, (req) => {
      const h = AlterSyncStateSetRequestHeader.decode(req);
      const set = h.syncStateSet.split(",").filter(Boolean).map(Number);
      if (set.some((n) => !Number.isInteger(n))) throw new InvalidParameterError(`syncStateSet must be broker ids separated by commas`);
      return this.#answer(h.brokerName, () => this.controller.alterSyncStateSet(h.brokerName, h.masterId, h.epoch, set));
    });
    server.registerProcessor(RequestCode.CONTROLLER_GET_GROUPS, (req: RemotingCommand) =>
      this.isLeader
        ? successResponse(undefined, encodeBody({ groups: this.controller.groups() }, req.serializeType))
        : this.#notLeader());
  }

  /** `selfAddr`: where brokers reach this controller (proclaimed to the group when it leads). */
  start(selfAddr = ""): void {
    if (this.opts.etcdEndpoints && this.opts.etcdEndpoints.length > 0 && !this.#leadership) {
      this.#leadership = new EtcdLeadership({ endpoints: this.opts.etcdEndpoints, selfAddr }, this.#log, (states) => {
        if (states) this.controller.restore(states);
        else this.controller.clear();
        this.#persisting.clear();
      });
      this.#leadership.start();
    }
    this.#scan ??= setInterval(() => this.#scanOnce(), this.#scanEvery);
  }

  async stop(): Promise<void> {
    clearInterval(this.#scan);
    this.#scan = undefined;
    await this.#leadership?.stop();
  }

  #scanOnce(): void {
    if (!this.isLeader) return;
    for (const name of this.controller.scan()) void this.#persist(name);
  }

  /** Runs a change; answers once the group's state (if it changed) is stored. */
  async #answer(brokerName: string, change: () => GroupView): Promise<RemotingCommand> {
    if (!this.isLeader) return this.#notLeader();
    const before = JSON.stringify(this.controller.state(brokerName));
    const view = change();
    if (JSON.stringify(this.controller.state(brokerName)) !== before) void this.#persist(brokerName);
    const pending = this.#persisting.get(brokerName);
    if (pending && !(await pending)) return this.#notLeader();
    // What was stored may be newer than `view` (a scan ran meanwhile): answer the current one.
    return viewResponse(pending ? this.controller.view(brokerName) ?? view : view);
  }

  #persist(brokerName: string): Promise<boolean> {
    if (!this.#leadership) return Promise.resolve(true);
    const prev = this.#persisting.get(brokerName) ?? Promise.resolve(true);
    const next = prev.then(async (ok) => {
      const state = this.controller.state(brokerName);
      return ok && state !== undefined && await this.#leadership!.persist(state);
    });
    this.#persisting.set(brokerName, next);
    return next;
  }

  #notLeader(): RemotingCommand {
    const leader = this.#leadership?.leaderAddr ?? "";
    return createResponse(ResponseCode.CONTROLLER_NOT_LEADER, `this controller does not lead${leader ? `; the leader is ${leader}` : ""}`, NotLeaderResponseHeader.encode({ leaderAddr: leader }));
  }
}

function viewResponse(v: GroupView): RemotingCommand {
  return successResponse(GroupViewResponseHeader.encode({
    brokerName: v.brokerName,
    epoch: v.epoch,
    masterId: v.masterId,
    masterAddr: v.masterAddr,
    masterHaAddr: v.masterHaAddr,
    epochStartOffset: v.epochStartOffset,
    syncStateSet: v.syncStateSet.join(","),
  }));
}
