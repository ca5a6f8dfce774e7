import { InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import { HeartbeatBody, type ConsumerData } from "../protocol/bodies/client_bodies.ts";
import {
  ConsumeMessageDirectlyResultBody,
  type ConsumerRunningInfo,
  ConsumerRunningInfoBody,
  ResetOffsetBody,
  type ResetOffsetTable,
} from "../protocol/bodies/stats_bodies.ts";
import {
  ConsumeMessageDirectlyResultRequestHeader,
  ConsumerGroupRequestHeader,
  GetConsumerRunningInfoRequestHeader,
  ResetOffsetRequestHeader,
  UnregisterClientRequestHeader,
} from "../protocol/headers/consumer_header.ts";
import { createRequest, createResponse, type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { NameServerClient, parseNamesrvAddr } from "./name_server_client.ts";
import { Limits } from "../common/limits.ts";

export interface ClientInstanceOptions {
  namesrvAddr: string | string[];
  /** Clients with the same NameServers and instance name share one instance (RocketMQ's instanceName). */
  instanceName?: string;
  timeoutMs?: number;
}

/** A producer as the instance sees it: its group, the brokers it talks to, and who answers check-backs. */
export interface ProducerMember {
  readonly group: string;
  brokers(): Iterable<string>;
  /** CHECK_TRANSACTION_STATE for a half message of this group (transaction producers only). */
  checkTransaction?(request: RemotingCommand): void;
}

/** A push consumer as the instance sees it: what its heartbeat says, and what to do when its group changes. */
export interface ConsumerMember {
  readonly group: string;
  brokers(): Iterable<string>;
  heartbeatData(): ConsumerData;
  /** NOTIFY_CONSUMER_IDS_CHANGED: the group's members changed, rebalance now. */
  onMembersChanged(): void;
  /** GET_CONSUMER_RUNNING_INFO: settings, subscriptions, held queues and rates (push consumers). */
  runningInfo?(): ConsumerRunningInfo;
  /** CONSUME_MESSAGE_DIRECTLY: give this record (from broker `brokerName`) to the listener once more. */
  consumeDirectly?(record: Uint8Array, brokerName: string): Promise<ReturnType<typeof ConsumeMessageDirectlyResultBody.decode>>;
  /** RESET_CONSUMER_CLIENT_OFFSET: an operator moved the group's offsets on `topic`; continue from these. */
  resetOffsets?(topic: string, offsets: ResetOffsetTable["offsetTable"]): Promise<void>;
}

/**
 * RocketMQ's MQClientInstance: one per process, NameServer address set and instance name. It
 * owns the connections (one per server), the NameServer client, and the heartbeats: one
 * HEART_BEAT per broker states every producer and consumer group of the instance under one
 * client id. Requests brokers send back (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE)
 * reach the member of the group they name. Clients `acquire` it and `release` it at shutdown;
 * the last release closes the connections.
 */
export class ClientInstance {
  static readonly #instances = new Map<string, ClientInstance>();

  readonly clientId: string;
  readonly remoting = new RemotingClient();
  readonly namesrv: NameServerClient;
  readonly #key: string;
  readonly #producers = new Map<string, ProducerMember>();
  readonly #consumers = new Map<string, ConsumerMember>();
  #refs = 0;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #heartbeatMs = Infinity;
  #log: Logger | undefined;

  /** The instance for these NameServers and instance name, made on first use. */
  static acquire(opts: ClientInstanceOptions): ClientInstance {
    const addrs = parseNamesrvAddr(opts.namesrvAddr);
    const name = opts.instanceName ?? "DEFAULT";
    const key = `${[...addrs].sort().join(";")}@${name}`;
    let instance = ClientInstance.#instances.get(key);
    if (!instance) {
      instance = new ClientInstance(key, addrs, name, opts.timeoutMs);
      ClientInstance.#instances.set(key, instance);
    }
    instance.#refs++;
    return instance;
  }

  private constructor(key: string, addrs: string[], instanceName: string, timeoutMs: number | undefined) {
    this.#key = key;
    this.clientId = `${instanceName}@${Math.floor(Math.random() * 2 ** 48).toString(16)}`;
    this.namesrv = new NameServerClient({ namesrvAddr: addrs, remoting: this.remoting, timeoutMs });
    this.remoting.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (req) => {
      this.#consumers.get(ConsumerGroupRequestHeader.decode(req).consumerGroup)?.onMembersChanged();
    });
    // An operator asks, through a broker, what this member of a group is doing.
    this.remoting.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (req) => {
      const h = GetConsumerRunningInfoRequestHeader.decode(req);
      const info = this.#consumers.get(h.consumerGroup)?.runningInfo?.();
      if (!info) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `no push consumer of group ${h.consumerGroup} in client ${this.clientId}`);
      return successResponse(undefined, ConsumerRunningInfoBody.encode(info, req.serializeType));
    });
    // An operator reset the group's offsets; the broker has committed them and tells each member.
    this.remoting.registerProcessor(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, (req) => {
      const h = ResetOffsetRequestHeader.decode(req);
      const member = this.#consumers.get(h.group);
      if (!member?.resetOffsets) return;
      const { offsetTable } = ResetOffsetBody.decode(req.body, req.serializeType);
      member.resetOffsets(h.topic, offsetTable).catch((err) => this.#log?.warn(`offset reset of ${h.group} on ${h.topic} failed: ${(err as Error).message}`));
    });
    this.remoting.registerProcessor(RequestCode.CONSUME_MESSAGE_DIRECTLY, async (req) => {
      const h = ConsumeMessageDirectlyResultRequestHeader.decode(req);
      const member = this.#consumers.get(h.consumerGroup);
      if (!member?.consumeDirectly) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `no push consumer of group ${h.consumerGroup} in client ${this.clientId}`);
      if (!req.body || req.body.byteLength === 0) return createResponse(ResponseCode.INVALID_PARAMETER, "CONSUME_MESSAGE_DIRECTLY carries no message");
      const result = await member.consumeDirectly(req.body, h.brokerName ?? "");
      return successResponse(undefined, ConsumeMessageDirectlyResultBody.encode(result, req.serializeType));
    });
    this.remoting.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, (req) => {
      for (const p of this.#producers.values()) p.checkTransaction?.(req);
    });
  }

  /** Joins a producer group; one producer per group and instance (give another an instanceName). */
  registerProducer(member: ProducerMember, heartbeatMs: number, log?: Logger): void {
    if (this.#producers.has(member.group)) {
      throw new InvalidParameterError(`A producer of group ${member.group} already runs in client instance ${this.clientId}; give this one another instanceName`);
    }
    this.#producers.set(member.group, member);
    this.#scheduleHeartbeats(heartbeatMs, log);
  }

  /** Joins a consumer group; one consumer per group and instance (give another an instanceName). */
  registerConsumer(member: ConsumerMember, heartbeatMs: number, log?: Logger): void {
    if (this.#consumers.has(member.group)) {
      throw new InvalidParameterError(`A consumer of group ${member.group} already runs in client instance ${this.clientId}; give this one another instanceName`);
    }
    this.#consumers.set(member.group, member);
    this.#scheduleHeartbeats(heartbeatMs, log);
  }

  /** Sends every broker of every member this instance's whole heartbeat now. */
  async heartbeat(): Promise<void> {
    const brokers = new Set<string>();
    for (const m of [...this.#producers.values(), ...this.#consumers.values()]) for (const a of m.brokers()) brokers.add(a);
    if (brokers.size === 0) return;
    const body = HeartbeatBody.encode({
      clientID: this.clientId,
      producerDataSet: [...this.#producers.keys()].map((groupName) => ({ groupName })),
      consumerDataSet: [...this.#consumers.values()].map((c) => c.heartbeatData()),
    }, SerializeType.CBOR);
    await Promise.all([...brokers].map((a) =>
      this.remoting.invoke(a, createRequest(RequestCode.HEART_BEAT, undefined, body)).then(
        (resp) => {
          if (resp.code !== ResponseCode.SUCCESS) this.#log?.warn(`heartbeat to ${a} refused: ${resp.remark}`);
        },
        (err) => this.#log?.warn(`heartbeat to ${a} failed: ${(err as Error).message}`),
      )
    ));
  }

  /** Leaves a group on the brokers given (UNREGISTER_CLIENT), and in this instance if `member` holds it here. */
  async unregister(kind: "producer" | "consumer", group: string, brokers: Iterable<string>, member?: ProducerMember | ConsumerMember): Promise<void> {
    const members: Map<string, ProducerMember | ConsumerMember> = kind === "producer" ? this.#producers : this.#consumers;
    if (member !== undefined && members.get(group) === member) members.delete(group);
    const header = UnregisterClientRequestHeader.encode(kind === "producer" ? { clientID: this.clientId, producerGroup: group } : { clientID: this.clientId, consumerGroup: group });
    await Promise.all([...new Set(brokers)].map((a) => this.remoting.invoke(a, createRequest(RequestCode.UNREGISTER_CLIENT, header), Limits.unregisterClientTimeoutMs).catch(() => {})));
  }

  /** A client is done with the instance; the last one closes its connections. */
  release(): void {
    if (--this.#refs > 0) return;
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    ClientInstance.#instances.delete(this.#key);
    this.remoting.close();
  }

  /** Heartbeats run at the shortest interval any member asked for. */
  #scheduleHeartbeats(ms: number, log: Logger | undefined): void {
    this.#log ??= log;
    if (ms >= this.#heartbeatMs) return;
    this.#heartbeatMs = ms;
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => void this.heartbeat(), ms);
  }
}
