import { InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { encodeBody } from "../protocol/body_codec.ts";
import { extBool, extInt, extString, type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { RemotingServer } from "../remoting/remoting_server.ts";
import { type GroupView, ReplicaController } from "./replica_controller.ts";

export interface ControllerServiceOptions {
  /** A broker silent this long is dead; a dead master is replaced (default 1,500 ms). */
  heartbeatTimeoutMs?: number;
}

export const DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS = 1_500;

/** The controller's requests on a remoting server: the NameServer's (embedded) or its own (`bolide controller`). */
export class ControllerService {
  readonly controller: ReplicaController;
  #scan: ReturnType<typeof setInterval> | undefined;

  constructor(opts: ControllerServiceOptions, log: Logger) {
    const timeout = opts.heartbeatTimeoutMs ?? DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS;
    this.controller = new ReplicaController({ heartbeatTimeoutMs: timeout }, log);
    this.#scanEvery = Math.max(20, Math.floor(timeout / 10));
  }

  readonly #scanEvery: number;

  registerOn(server: RemotingServer): void {
    server.registerProcessor(RequestCode.CONTROLLER_HEARTBEAT, (req) => viewResponse(this.controller.heartbeat({
      clusterName: extString(req, "clusterName"),
      brokerName: extString(req, "brokerName"),
      brokerId: extInt(req, "brokerId"),
      addr: extString(req, "addr"),
      haAddr: extString(req, "haAddr", false) ?? "",
      epoch: extInt(req, "epoch"),
      maxOffset: extInt(req, "maxOffset"),
      isMaster: extBool(req, "isMaster", false) ?? false,
    })));
    server.registerProcessor(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET, (req) => {
      const set = (extString(req, "syncStateSet")).split(",").filter(Boolean).map(Number);
      if (set.some((n) => !Number.isInteger(n))) throw new InvalidParameterError(`syncStateSet must be broker ids separated by commas`);
      return viewResponse(this.controller.alterSyncStateSet(extString(req, "brokerName"), extInt(req, "masterId"), extInt(req, "epoch"), set));
    });
    server.registerProcessor(RequestCode.CONTROLLER_GET_GROUPS, (req: RemotingCommand) =>
      successResponse(undefined, encodeBody({ groups: this.controller.groups() }, req.serializeType)));
  }

  start(): void {
    this.#scan ??= setInterval(() => this.controller.scan(), this.#scanEvery);
  }

  stop(): void {
    clearInterval(this.#scan);
    this.#scan = undefined;
  }
}

function viewResponse(v: GroupView): RemotingCommand {
  return successResponse({
    brokerName: v.brokerName,
    epoch: v.epoch,
    masterId: v.masterId,
    masterAddr: v.masterAddr,
    masterHaAddr: v.masterHaAddr,
    epochStartOffset: v.epochStartOffset,
    syncStateSet: v.syncStateSet.join(","),
  });
}
