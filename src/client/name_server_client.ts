import { errorFromResponse, InvalidParameterError, RemotingError, TopicNotExistError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { ResponseCode } from "../common/response_code.ts";
import type { ClusterInfo, TopicRouteData } from "../common/route.ts";
import { ClusterInfoBody, TopicListBody, TopicRouteBody } from "../protocol/bodies/namesrv_bodies.ts";
import {
  deleteTopicInNamesrvRequest,
  getAllTopicListRequest,
  getClusterInfoRequest,
  getRouteInfoRequest,
} from "../protocol/namesrv_requests.ts";
import {
  AddWritePermOfBrokerResponseHeader,
  WipeWritePermOfBrokerResponseHeader,
  WritePermOfBrokerRequestHeader,
} from "../protocol/headers/broker_header.ts";
import { createRequest, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";

export interface NameServerClientOptions {
  /** One or more NameServer addresses, "host:port", separated by ";" as in RocketMQ's namesrvAddr. */
  namesrvAddr: string | string[];
  timeoutMs?: number;
  /** Share a RemotingClient (and its connections) with other parts of a client. */
  remoting?: RemotingClient;
}

/** Splits RocketMQ's "a:9876;b:9876" form; throws when no address is given. */
export function parseNamesrvAddr(value: string | string[] | undefined): string[] {
  const list = (Array.isArray(value) ? value : (value ?? "").split(";")).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) {
    throw new InvalidParameterError("No NameServer address: pass namesrvAddr, e.g. \"127.0.0.1:9876\" or \"a:9876;b:9876\"");
  }
  return list;
}

/**
 * Asks NameServers for routes and cluster state. NameServers share nothing, so any one answers;
 * on a transport failure the next address is tried, and the one that answered is used first next time.
 */
export class NameServerClient {
  readonly addrs: readonly string[];
  readonly #remoting: RemotingClient;
  readonly #ownsRemoting: boolean;
  readonly #timeoutMs: number;
  #preferred = 0;

  constructor(opts: NameServerClientOptions) {
    this.addrs = parseNamesrvAddr(opts.namesrvAddr);
    this.#remoting = opts.remoting ?? new RemotingClient();
    this.#ownsRemoting = opts.remoting === undefined;
    this.#timeoutMs = opts.timeoutMs ?? Limits.defaultInvokeTimeoutMs;
  }

  async getRoute(topic: string): Promise<TopicRouteData> {
    const resp = await this.#invoke(getRouteInfoRequest(topic));
    if (resp.code === ResponseCode.TOPIC_NOT_EXIST) throw new TopicNotExistError(topic, resp.remark);
    return TopicRouteBody.decode(this.#ok(resp, "GET_ROUTEINFO_BY_TOPIC").body, resp.serializeType);
  }

  async getClusterInfo(): Promise<ClusterInfo> {
    const resp = this.#ok(await this.#invoke(getClusterInfoRequest()), "GET_BROKER_CLUSTER_INFO");
    return ClusterInfoBody.decode(resp.body, resp.serializeType);
  }

  async getTopicList(): Promise<string[]> {
    const resp = this.#ok(await this.#invoke(getAllTopicListRequest()), "GET_ALL_TOPIC_LIST_FROM_NAMESERVER");
    return TopicListBody.decode(resp.body, resp.serializeType).topicList;
  }

  /** Deletes the topic's route on every NameServer (they share nothing). */
  async deleteTopic(topic: string, clusterName?: string): Promise<void> {
    await Promise.all(this.addrs.map(async (addr) => {
      const resp = await this.#remoting.invoke(addr, deleteTopicInNamesrvRequest(topic, clusterName), this.#timeoutMs);
      if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, "DELETE_TOPIC_IN_NAMESRV", addr);
    }));
  }

  /**
   * WIPE_WRITE_PERM_OF_BROKER (`wipe`) or ADD_WRITE_PERM_OF_BROKER on every NameServer: each
   * keeps its own routes. Returns each NameServer's count of topics changed.
   */
  async writePermOfBroker(brokerName: string, wipe: boolean): Promise<{ namesrv: string; topics: number }[]> {
    const code = wipe ? RequestCode.WIPE_WRITE_PERM_OF_BROKER : RequestCode.ADD_WRITE_PERM_OF_BROKER;
    return await Promise.all(this.addrs.map(async (addr) => {
      const resp = await this.#remoting.invoke(addr, createRequest(code, WritePermOfBrokerRequestHeader.encode({ brokerName })), this.#timeoutMs);
      if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, requestCodeName(code), addr);
      const topics = wipe ? WipeWritePermOfBrokerResponseHeader.decode(resp).wipeTopicCount : AddWritePermOfBrokerResponseHeader.decode(resp).addTopicCount;
      return { namesrv: addr, topics };
    }));
  }

  close(): void {
    if (this.#ownsRemoting) this.#remoting.close();
  }

  #lastAddr = "";

  #ok(resp: RemotingCommand, what: string): RemotingCommand {
    if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, what, this.#lastAddr);
    return resp;
  }

  async #invoke(req: RemotingCommand): Promise<RemotingCommand> {
    const failures: string[] = [];
    for (let i = 0; i < this.addrs.length; i++) {
      const index = (this.#preferred + i) % this.addrs.length;
      const addr = this.addrs[index];
      try {
        const resp = await this.#remoting.invoke(addr, req, this.#timeoutMs);
        this.#preferred = index;
        this.#lastAddr = addr;
        return resp;
      } catch (err) {
        if (!(err instanceof RemotingError)) throw err;
        failures.push(err.message);
      }
    }
    throw new RemotingError(
      this.addrs.join(";"),
      `${requestCodeName(req.code)}: no NameServer answered (${failures.join("; ")})`,
    );
  }
}
