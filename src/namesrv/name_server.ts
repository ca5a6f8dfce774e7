import { InvalidParameterError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { validateTopic } from "../common/names.ts";
import type { DataVersion, RegisterBrokerBody, TopicConfig } from "../common/route.ts";
import { parseAddr } from "../util/addr.ts";
import { decodeBody, encodeBody } from "../protocol/body_codec.ts";
import {
  AddWritePermOfBrokerResponseHeader,
  RegisterBrokerRequestHeader,
  RegisterBrokerResponseHeader,
  UnregisterBrokerRequestHeader,
  WipeWritePermOfBrokerResponseHeader,
  WritePermOfBrokerRequestHeader,
} from "../protocol/headers/broker_header.ts";
import { DeleteTopicFromNamesrvRequestHeader, GetRouteInfoRequestHeader } from "../protocol/headers/topic_header.ts";
import { type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import type { ConnectionLimits, RemotingConnection } from "../remoting/remoting_connection.ts";
import { RemotingServer } from "../remoting/remoting_server.ts";
import { RouteTable, validateTopicConfig } from "./route_table.ts";
import type { MetricFamily } from "../util/prometheus_text.ts";
import { ControllerService, type ControllerServiceOptions } from "../controller/controller_service.ts";

export interface NameServerOptions {
  host?: string;
  /** 0 picks a free port; the default is RocketMQ's 9876. */
  port?: number;
  /** A broker silent this long leaves every route (default 120 s). */
  brokerChannelExpiredTimeMs?: number;
  /** How often silent brokers are looked for (default 5 s). */
  scanNotActiveBrokerIntervalMs?: number;
  maxBrokers?: number;
  maxTopics?: number;
  limits?: Partial<ConnectionLimits>;
  log?: Logger;
  /** The embedded failover controller (on by default; `false` turns it off). */
  controller?: ControllerServiceOptions | false;
}

export const DEFAULT_NAMESRV_PORT = 9876;

/**
 * The route registry. Stateless and shared-nothing: brokers register with every NameServer,
 * clients ask any of them. See docs/architecture.md.
 */
export class NameServer {
  readonly routes: RouteTable;
  readonly #server: RemotingServer;
  readonly #opts: NameServerOptions;
  readonly #log: Logger;
  readonly #connectionIds = new WeakMap<RemotingConnection, number>();
  #nextConnectionId = 1;
  #scanTimer: ReturnType<typeof setInterval> | undefined;
  #addr = "";
  /** The embedded controller: brokers in controller mode heartbeat it for failover. */
  readonly controller: ControllerService | undefined;

  constructor(opts: NameServerOptions = {}) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.routes = new RouteTable({ maxBrokers: opts.maxBrokers, maxTopics: opts.maxTopics });
    this.#server = new RemotingServer({
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? DEFAULT_NAMESRV_PORT,
      limits: opts.limits,
      log: this.#log,
    });
    this.#server
      .registerProcessor(RequestCode.REGISTER_BROKER, (req, ctx) => this.#register(req, ctx.connection))
      .registerProcessor(RequestCode.UNREGISTER_BROKER, (req) => this.#unregister(req))
      .registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, (req) => this.#route(req))
      .registerProcessor(RequestCode.GET_BROKER_CLUSTER_INFO, (req) =>
        successResponse(undefined, encodeBody(this.routes.clusterInfo(), typeOf(req))))
      .registerProcessor(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, (req) =>
        successResponse(undefined, encodeBody({ topicList: this.routes.topicList() }, typeOf(req))))
      .registerProcessor(RequestCode.DELETE_TOPIC_IN_NAMESRV, (req) => this.#deleteTopic(req))
      .registerProcessor(RequestCode.WIPE_WRITE_PERM_OF_BROKER, (req) => {
        const { brokerName } = WritePermOfBrokerRequestHeader.decode(req);
        const wipeTopicCount = this.routes.wipeWritePerm(brokerName);
        this.#log.info(`write permission of broker ${brokerName} wiped on ${wipeTopicCount} topic(s)`);
        return successResponse(WipeWritePermOfBrokerResponseHeader.encode({ wipeTopicCount }));
      })
      .registerProcessor(RequestCode.ADD_WRITE_PERM_OF_BROKER, (req) => {
        const { brokerName } = WritePermOfBrokerRequestHeader.decode(req);
        const addTopicCount = this.routes.addWritePerm(brokerName);
        this.#log.info(`write permission of broker ${brokerName} back on ${addTopicCount} topic(s)`);
        return successResponse(AddWritePermOfBrokerResponseHeader.encode({ addTopicCount }));
      });
    this.#server.onDisconnect((conn, reason) => this.#connectionClosed(conn, reason));
    if (opts.controller !== false) {
      this.controller = new ControllerService(opts.controller ?? {}, this.#log.child("controller"));
      this.controller.registerOn(this.#server);
    }
  }

  /** "host:port" the NameServer listens on (after start). */
  get addr(): string {
    return this.#addr;
  }

  get port(): number {
    return this.#server.port;
  }

  async start(): Promise<string> {
    const { host, port } = await this.#server.start();
    this.#addr = `${host}:${port}`;
    const every = this.#opts.scanNotActiveBrokerIntervalMs ?? Limits.scanNotActiveBrokerIntervalMs;
    this.#scanTimer = setInterval(() => this.scanNotActiveBrokers(), every);
    this.controller?.start();
    this.#log.info(`NameServer listening on ${this.#addr}`);
    return this.#addr;
  }

  async stop(): Promise<void> {
    if (this.#scanTimer !== undefined) clearInterval(this.#scanTimer);
    await this.controller?.stop();
    await this.#server.stop();
  }

  /** The NameServer's figures for the admin port's /metrics. */
  metricFamilies(): MetricFamily[] {
    return [
      { name: "bolide_namesrv_brokers", help: "Broker addresses registered and alive.", type: "gauge", samples: [{ value: this.routes.brokerCount }] },
      { name: "bolide_namesrv_topics", help: "Topics with a route.", type: "gauge", samples: [{ value: this.routes.topicCount }] },
      { name: "bolide_namesrv_write_wiped_brokers", help: "Broker groups whose write permission is wiped.", type: "gauge", samples: [{ value: this.routes.writeWiped().length }] },
    ];
  }

  /** Drops brokers whose registrations stopped; runs on a timer, callable for tests and tools. */
  scanNotActiveBrokers(now = Date.now()): void {
    for (const b of this.routes.expire(now)) {
      this.#log.warn(`broker ${b.brokerName}[${b.brokerId}] at ${b.brokerAddr} expired: silent for ${now - b.lastUpdate} ms`);
    }
  }

  #connectionId(conn: RemotingConnection): number {
    let id = this.#connectionIds.get(conn);
    if (id === undefined) this.#connectionIds.set(conn, id = this.#nextConnectionId++);
    return id;
  }

  #connectionClosed(conn: RemotingConnection, reason: string): void {
    const id = this.#connectionIds.get(conn);
    if (id === undefined) return;
    for (const b of this.routes.dropConnection(id)) {
      this.#log.info(`broker ${b.brokerName}[${b.brokerId}] at ${b.brokerAddr} left: its connection closed (${reason})`);
    }
  }

  #register(req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const h = RegisterBrokerRequestHeader.decode(req);
    const { brokerName, clusterName, brokerAddr, brokerId } = h;
    checkAddr("brokerAddr", brokerAddr);
    const haServerAddr = h.haServerAddr ?? "";
    const timeoutMs = h.heartbeatTimeoutMillis ?? this.#opts.brokerChannelExpiredTimeMs ?? Limits.brokerChannelExpiredTimeMs;

    let topics: Record<string, TopicConfig> | undefined;
    let dataVersion: DataVersion | undefined;
    if (req.body && req.body.byteLength > 0) {
      ({ topics, dataVersion } = parseRegisterBody(decodeBody<unknown>(req.body, typeOf(req), "RegisterBrokerBody")));
    }
    const isNew = !this.routes.isLive(brokerAddr);
    const result = this.routes.register({
      clusterName,
      brokerName,
      brokerAddr,
      brokerId,
      haServerAddr,
      timeoutMs,
      connectionId: this.#connectionId(conn),
      topics,
      dataVersion,
    }, Date.now());
    if (isNew) this.#log.info(`broker ${brokerName}[${brokerId}] of ${clusterName} registered from ${brokerAddr}`);
    return successResponse(RegisterBrokerResponseHeader.encode({ masterAddr: result.masterAddr, haServerAddr: result.haServerAddr }));
  }

  #unregister(req: RemotingCommand): RemotingCommand {
    const { brokerAddr, brokerName } = UnregisterBrokerRequestHeader.decode(req);
    if (this.routes.unregister(brokerAddr)) {
      this.#log.info(`broker ${brokerName ?? "?"} at ${brokerAddr} unregistered`);
    }
    return successResponse();
  }

  #route(req: RemotingCommand): RemotingCommand {
    const { topic } = GetRouteInfoRequestHeader.decode(req);
    validateTopic(topic);
    return successResponse(undefined, encodeBody(this.routes.route(topic), typeOf(req)));
  }

  #deleteTopic(req: RemotingCommand): RemotingCommand {
    const { topic, clusterName } = DeleteTopicFromNamesrvRequestHeader.decode(req);
    validateTopic(topic);
    this.routes.deleteTopic(topic, clusterName || undefined);
    return successResponse();
  }
}

function typeOf(req: RemotingCommand): number {
  return req.serializeType ?? SerializeType.CBOR;
}

function checkAddr(key: string, addr: string): void {
  try {
    parseAddr(addr);
  } catch {
    throw new InvalidParameterError(`Header field "${key}" is not host:port: "${addr.slice(0, 64)}"`);
  }
}

function parseRegisterBody(body: unknown): { topics: Record<string, TopicConfig>; dataVersion: DataVersion | undefined } {
  const wrapper = (body as Partial<RegisterBrokerBody>)?.topicConfigSerializeWrapper;
  if (typeof wrapper !== "object" || wrapper === null) {
    throw new InvalidParameterError("RegisterBrokerBody lacks topicConfigSerializeWrapper");
  }
  const table = wrapper.topicConfigTable ?? {};
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    throw new InvalidParameterError("topicConfigTable is not a map");
  }
  const topics: Record<string, TopicConfig> = {};
  const names = Object.keys(table);
  if (names.length > Limits.maxTopicsPerRegistration) {
    throw new InvalidParameterError(`Registration lists ${names.length} topics; at most ${Limits.maxTopicsPerRegistration} allowed`);
  }
  for (const name of names) {
    validateTopic(name);
    topics[name] = validateTopicConfig(name, (table as Record<string, unknown>)[name]);
  }
  const dv = wrapper.dataVersion as Partial<DataVersion> | undefined;
  const dataVersion = dv && typeof dv.timestamp === "number" && typeof dv.counter === "number"
    ? { timestamp: dv.timestamp, counter: dv.counter }
    : undefined;
  return { topics, dataVersion };
}
