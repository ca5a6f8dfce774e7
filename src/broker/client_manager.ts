import type { RemotingConnection } from "../remoting/remoting_connection.ts";

interface ClientInfo {
  clientId: string;
  connection: RemotingConnection;
  lastUpdate: number;
  producerGroups: Set<string>;
  consumerGroups: Set<string>;
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

  heartbeat(connection: RemotingConnection, clientId: string, producers: string[], consumers: string[], now = Date.now()): boolean {
    let c = this.#clients.get(connection);
    if (!c) {
      if (this.#clients.size >= this.maxClients) return false;
      c = { clientId, connection, lastUpdate: now, producerGroups: new Set(), consumerGroups: new Set() };
      this.#clients.set(connection, c);
    }
    c.clientId = clientId;
    c.lastUpdate = now;
    for (const g of producers) c.producerGroups.add(g);
    const joined = consumers.filter((g) => !c!.consumerGroups.has(g));
    for (const g of joined) c.consumerGroups.add(g);
    this.#changed(joined);
    return true;
  }

  unregister(connection: RemotingConnection, producerGroup?: string, consumerGroup?: string): void {
    const c = this.#clients.get(connection);
    if (!c) return;
    if (producerGroup) c.producerGroups.delete(producerGroup);
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
