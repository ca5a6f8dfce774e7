import type { RemotingConnection } from "../remoting/remoting_connection.ts";

/** One subscription of a consumer, as its heartbeat states it. */
export interface SubscriptionData {
  topic: string;
  subString: string;
  expressionType: "TAG" | "SQL92";
}

/** What a consumer says about its membership of one group. */
export interface ConsumerData {
  groupName: string;
  messageModel: "CLUSTERING" | "BROADCASTING";
  consumeType: string;
  consumeFromWhere: string;
  subscriptionDataSet: SubscriptionData[];
}

interface ClientInfo {
  clientId: string;
  connection: RemotingConnection;
  lastUpdate: number;
  producerGroups: Set<string>;
  consumerGroups: Set<string>;
  /** Latest heartbeat data per consumer group. */
  consumerData: Map<string, ConsumerData>;
}

/** A group's members and whether they all subscribe alike (RocketMQ silently skips messages when not). */
export interface ConsumerGroupView {
  group: string;
  members: { clientId: string; clientAddr: string; messageModel: string; consumeFromWhere: string; subscriptions: SubscriptionData[] }[];
  subscriptionsConsistent: boolean;
}

/**
 * Producers and consumers that heartbeat this broker, by connection. Silent clients expire after
 * channelExpiredTimeout; a closed connection removes its client at once. Bounded by maxClients.
 */
export class ClientManager {
  readonly #clients = new Map<RemotingConnection, ClientInfo>();
  readonly #groupListeners: ((group: string) => void)[] = [];
  constructor(private readonly maxClients: number) {}

  /** Called with a consumer group whose members changed (joined, left, expired, disconnected). */
  onConsumerGroupChange(listener: (group: string) => void): void {
    this.#groupListeners.push(listener);
  }

  #changed(groups: Iterable<string>): void {
    for (const g of groups) for (const l of this.#groupListeners) l(g);
  }

  heartbeat(connection: RemotingConnection, clientId: string, producers: string[], consumers: ConsumerData[], now = Date.now()): boolean {
    let c = this.#clients.get(connection);
    if (!c) {
      if (this.#clients.size >= this.maxClients) return false;
      c = { clientId, connection, lastUpdate: now, producerGroups: new Set(), consumerGroups: new Set(), consumerData: new Map() };
      this.#clients.set(connection, c);
    }
    c.clientId = clientId;
    c.lastUpdate = now;
    for (const g of producers) c.producerGroups.add(g);
    const joined = consumers.map((d) => d.groupName).filter((g) => !c!.consumerGroups.has(g));
    for (const d of consumers) {
      c.consumerGroups.add(d.groupName);
      c.consumerData.set(d.groupName, d);
    }
    this.#changed(joined);
    return true;
  }

  /** The group's members with their subscriptions, and whether those agree. */
  groupView(group: string): ConsumerGroupView {
    const members: ConsumerGroupView["members"] = [];
    for (const c of this.#clients.values()) {
      const d = c.consumerData.get(group);
      if (!c.consumerGroups.has(group) || !d) continue;
      members.push({
        clientId: c.clientId,
        clientAddr: c.connection.remoteAddr,
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
    if (consumerGroup) c.consumerData.delete(consumerGroup);
    if (consumerGroup && c.consumerGroups.delete(consumerGroup)) this.#changed([consumerGroup]);
    if (!producerGroup && !consumerGroup) this.remove(connection);
  }

  remove(connection: RemotingConnection): void {
    const c = this.#clients.get(connection);
    if (!c) return;
    this.#clients.delete(connection);
    this.#changed(c.consumerGroups);
  }

  /** Connections of the current members of a consumer group. */
  connectionsOf(group: string): RemotingConnection[] {
    return [...this.#clients.values()].filter((c) => c.consumerGroups.has(group)).map((c) => c.connection);
  }

  consumersOf(group: string): string[] {
    const ids = new Set<string>();
    for (const c of this.#clients.values()) if (c.consumerGroups.has(group)) ids.add(c.clientId);
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
