import type { ConsumerData, SubscriptionData } from "../protocol/bodies/client_bodies.ts";
import type { RemotingConnection } from "../remoting/remoting_connection.ts";

export type { ConsumerData, SubscriptionData };

interface ClientInfo {
  clientId: string;
  connection: RemotingConnection;
  lastUpdate: number;
  producerGroups: Set<string>;
  consumerGroups: Set<string>;
  /** Latest heartbeat data per consumer group. */
  consumerData: Map<string, ConsumerData>;
  /** The LanguageCode and version of its last heartbeat (RocketMQ's ConsumerConnection shows them). */
  language?: number;
  version?: number;
}

/** A group's members and whether they all subscribe alike (RocketMQ silently skips messages when not). */
export interface ConsumerGroupView {
  group: string;
  members: {
    clientId: string;
    clientAddr: string;
    language?: number;
    version?: number;
    consumeType: string;
    messageModel: string;
    consumeFromWhere: string;
    subscriptions: SubscriptionData[];
  }[];
  subscriptionsConsistent: boolean;
}

/**
 * Producers and consumers that heartbeat this broker, by connection. Silent clients expire after
 * channelExpiredTimeout; a closed connection removes its client at once. Bounded by maxClients.
 */
export class ClientManager {
  readonly #clients = new Map<RemotingConnection, ClientInfo>();
  /** Members by consumer group, so group lookups cost the group's size, not every client's. */
  readonly #groups = new Map<string, Set<ClientInfo>>();
  readonly #groupListeners: ((group: string) => void)[] = [];
  /** Groups whose members were last seen subscribing differently (warned once per change). */
  readonly #inconsistentGroups = new Set<string>();
  constructor(private readonly maxClients: number) {}

  /**
   * Describes `group`'s differing subscriptions when they became inconsistent since the last
   * check (messages are then silently skipped by some members); undefined otherwise.
   */
  newlyInconsistent(group: string): string | undefined {
    const view = this.groupView(group);
    if (view.subscriptionsConsistent) {
      this.#inconsistentGroups.delete(group);
      return undefined;
    }
    if (this.#inconsistentGroups.has(group) || this.#inconsistentGroups.size >= this.maxClients) return undefined;
    this.#inconsistentGroups.add(group);
    return view.members.map((m) => `${m.clientId}: ${m.subscriptions.map((x) => `${x.topic}=${x.subString}`).join(", ")}`).join("; ");
  }

  /** Called with a consumer group whose members changed (joined, left, expired, disconnected). */
  onConsumerGroupChange(listener: (group: string) => void): void {
    this.#groupListeners.push(listener);
  }

  #changed(groups: Iterable<string>): void {
    for (const g of groups) for (const l of this.#groupListeners) l(g);
  }

  /**
   * Records a heartbeat. Returns the consumer groups this client was already in whose
   * subscriptions (as it states them) changed — joins are reported to onConsumerGroupChange
   * listeners — or undefined when the client table is full.
   */
  heartbeat(
    connection: RemotingConnection,
    clientId: string,
    producers: string[],
    consumers: ConsumerData[],
    now = Date.now(),
    from: { language?: number; version?: number } = {},
  ): string[] | undefined {
    let c = this.#clients.get(connection);
    if (!c) {
      if (this.#clients.size >= this.maxClients) return undefined;
      c = { clientId, connection, lastUpdate: now, producerGroups: new Set(), consumerGroups: new Set(), consumerData: new Map() };
      this.#clients.set(connection, c);
    }
    c.clientId = clientId;
    c.lastUpdate = now;
    c.language = from.language;
    c.version = from.version;
    for (const g of producers) c.producerGroups.add(g);
    const joined = consumers.map((d) => d.groupName).filter((g) => !c!.consumerGroups.has(g));
    const changed = new Set<string>();
    for (const d of consumers) {
      const before = c.consumerData.get(d.groupName);
      if (before && subscriptionSignature(before.subscriptionDataSet) !== subscriptionSignature(d.subscriptionDataSet)) changed.add(d.groupName);
      c.consumerGroups.add(d.groupName);
      c.consumerData.set(d.groupName, d);
      let members = this.#groups.get(d.groupName);
      if (!members) this.#groups.set(d.groupName, members = new Set());
      members.add(c);
    }
    this.#changed(joined);
    return [...changed];
  }

  #members(group: string): Iterable<ClientInfo> {
    return this.#groups.get(group) ?? [];
  }

  #leave(c: ClientInfo, group: string): boolean {
    c.consumerData.delete(group);
    const members = this.#groups.get(group);
    members?.delete(c);
    if (members?.size === 0) this.#groups.delete(group);
    return c.consumerGroups.delete(group);
  }

  /** The group's members with their subscriptions, and whether those agree. */
  groupView(group: string): ConsumerGroupView {
    const members: ConsumerGroupView["members"] = [];
    for (const c of this.#members(group)) {
      const d = c.consumerData.get(group);
      if (!d) continue;
      members.push({
        clientId: c.clientId,
        clientAddr: c.connection.remoteAddr,
        language: c.language,
        version: c.version,
        consumeType: d.consumeType,
        messageModel: d.messageModel,
        consumeFromWhere: d.consumeFromWhere,
        subscriptions: d.subscriptionDataSet,
      });
    }
    members.sort((a, b) => a.clientId < b.clientId ? -1 : 1);
    const signatures = new Set(members.map((m) => subscriptionSignature(m.subscriptions)));
    return { group, members, subscriptionsConsistent: signatures.size <= 1 };
  }

  unregister(connection: RemotingConnection, producerGroup?: string, consumerGroup?: string): void {
    const c = this.#clients.get(connection);
    if (!c) return;
    if (producerGroup) c.producerGroups.delete(producerGroup);
    if (consumerGroup && this.#leave(c, consumerGroup)) this.#changed([consumerGroup]);
    if (!producerGroup && !consumerGroup) this.remove(connection);
  }

  /** A client has registered (heartbeated) on this connection. */
  has(connection: RemotingConnection): boolean {
    return this.#clients.has(connection);
  }

  remove(connection: RemotingConnection): void {
    const c = this.#clients.get(connection);
    if (!c) return;
    this.#clients.delete(connection);
    const groups = [...c.consumerGroups];
    for (const g of groups) this.#leave(c, g);
    this.#changed(groups);
  }

  /** Live producers of `group` as GET_PRODUCER_CONNECTION_LIST lists them (a scan, like producerConnectionsOf). */
  producersOf(group: string): { clientId: string; clientAddr: string; language?: number; version?: number }[] {
    const out = [];
    for (const c of this.#clients.values()) {
      if (c.producerGroups.has(group) && !c.connection.isClosed) out.push({ clientId: c.clientId, clientAddr: c.connection.remoteAddr, language: c.language, version: c.version });
    }
    return out.sort((a, b) => a.clientId < b.clientId ? -1 : 1);
  }

  /** Connections of live producers of `group` (a scan: used only for transaction check-backs). */
  producerConnectionsOf(group: string): RemotingConnection[] {
    const out: RemotingConnection[] = [];
    for (const c of this.#clients.values()) if (c.producerGroups.has(group) && !c.connection.isClosed) out.push(c.connection);
    return out;
  }

  /** The connection of the member of `group` whose heartbeats name it `clientId`. */
  connectionOf(group: string, clientId: string): RemotingConnection | undefined {
    for (const c of this.#members(group)) if (c.clientId === clientId && !c.connection.isClosed) return c.connection;
    return undefined;
  }

  /** Connections of the current members of a consumer group. */
  connectionsOf(group: string): RemotingConnection[] {
    return [...this.#members(group)].map((c) => c.connection);
  }

  /** How `group` consumes, as its members last said (RocketMQ keeps one per group too); undefined with no member. */
  messageModelOf(group: string): string | undefined {
    for (const c of this.#members(group)) {
      const m = c.consumerData.get(group)?.messageModel;
      if (m) return m;
    }
    return undefined;
  }

  consumersOf(group: string): string[] {
    const ids = new Set<string>();
    for (const c of this.#members(group)) ids.add(c.clientId);
    return [...ids].sort();
  }

  /** Drops clients silent for longer than `timeoutMs`; returns how many. */
  expire(timeoutMs: number, now = Date.now()): number {
    let n = 0;
    for (const [conn, c] of [...this.#clients]) {
      if (now - c.lastUpdate > timeoutMs) {
        this.remove(conn);
        conn.close("client silent past channelExpiredTimeout");
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#clients.size;
  }
}

/** Subscriptions as one comparable string (order-insensitive). */
export function subscriptionSignature(subs: SubscriptionData[]): string {
  return subs.map((s) => `${s.topic}|${s.expressionType}|${s.subString}`).sort().join("\n");
}
