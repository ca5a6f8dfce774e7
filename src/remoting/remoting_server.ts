import { Limits } from "../common/limits.ts";
import { type Logger, RateLimitedLog, silentLogger } from "../common/log.ts";
import { FrameError } from "../common/errors.ts";
import { listenTcp, type TcpListener } from "../platform/tcp.ts";
import { ConnectionBudget } from "./connection_budget.ts";
import { type ConnectionLimits, type Processor, RemotingConnection } from "./remoting_connection.ts";

/** What a server bounds over all its connections (each also gets the per-connection limits). */
export interface ServerLimits extends ConnectionLimits {
  maxBufferedFrameBytesTotal: number;
  maxWriteBacklogBytesTotal: number;
  connectionIdleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectionSweepIntervalMs: number;
}

export interface RemotingServerOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  limits?: Partial<ServerLimits>;
  log?: Logger;
  /**
   * Connections the idle timeout spares: those of registered clients, which expire by their own
   * rule (missed heartbeats). By default every connection is subject to it.
   */
  exemptFromIdle?(c: RemotingConnection): boolean;
}

/** "host" of "host:port" or "[v6]:port". */
function hostOf(addr: string): string {
  const i = addr.lastIndexOf(":");
  return i < 0 ? addr : addr.slice(0, i);
}

/**
 * Accepts connections and answers requests with processors registered by code. Every accepted
 * connection can also carry requests from the server to the client (`connection.invoke`).
 */
export class RemotingServer {
  readonly #processors = new Map<number, Processor>();
  #defaultProcessor: Processor | undefined;
  readonly #connections = new Set<RemotingConnection>();
  readonly #connectListeners: ((c: RemotingConnection) => void)[] = [];
  readonly #closeListeners: ((c: RemotingConnection, reason: string) => void)[] = [];
  readonly #peerEndListeners: ((c: RemotingConnection) => void)[] = [];
  readonly #opts: RemotingServerOptions;
  readonly #log: Logger;
  readonly #errorLog: RateLimitedLog;
  #listener: TcpListener | undefined;
  #stopping = false;
  readonly #limits: ServerLimits;
  readonly #budget: ConnectionBudget;
  readonly #perAddress = new Map<string, number>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #refused = 0;

  constructor(opts: RemotingServerOptions = {}) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.#errorLog = new RateLimitedLog((m) => this.#log.warn(m), Limits.protocolErrorLogsPerSecond);
    this.#limits = {
      maxFrameBytes: Limits.maxFrameBytes,
      maxHeaderBytes: Limits.maxHeaderBytes,
      maxPendingRequests: Limits.maxPendingRequestsPerConnection,
      maxInFlightRequests: Limits.maxInFlightRequestsPerConnection,
      maxWriteBacklogBytes: Limits.maxWriteBacklogBytes,
      coalesceWriteBytes: Limits.coalesceWriteBytes,
      frameReadTimeoutMs: Limits.frameReadTimeoutMs,
      writeStallTimeoutMs: Limits.writeStallTimeoutMs,
      writeStallUnderPressureMs: Limits.writeStallUnderPressureMs,
      maxBufferedFrameBytesTotal: Limits.maxBufferedFrameBytesTotal,
      maxWriteBacklogBytesTotal: Limits.maxWriteBacklogBytesTotal,
      connectionIdleTimeoutMs: Limits.connectionIdleTimeoutMs,
      maxConnections: Limits.maxConnections,
      maxConnectionsPerAddress: Limits.maxConnectionsPerAddress,
      connectionSweepIntervalMs: Limits.connectionSweepIntervalMs,
      ...Object.fromEntries(Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)),
    };
    this.#budget = new ConnectionBudget(this.#limits.maxBufferedFrameBytesTotal, this.#limits.maxWriteBacklogBytesTotal);
  }

  /** The memory all connections share: incomplete frames and queued answers, with their totals. */
  get budget(): ConnectionBudget {
    return this.#budget;
  }

  /** Connections refused at accept (past maxConnections or maxConnectionsPerAddress) since start. */
  get refusedConnections(): number {
    return this.#refused;
  }

  registerProcessor(code: number, processor: Processor): this {
    this.#processors.set(code, processor);
    return this;
  }

  /** The processor registered for `code`, to wrap it. */
  processorOf(code: number): Processor | undefined {
    return this.#processors.get(code);
  }

  registerDefaultProcessor(processor: Processor): this {
    this.#defaultProcessor = processor;
    return this;
  }

  onConnect(listener: (c: RemotingConnection) => void): void {
    this.#connectListeners.push(listener);
  }

  /** A connection's peer ended its side: it will send nothing more (its answers may still go out). */
  onPeerEnd(listener: (c: RemotingConnection) => void): void {
    this.#peerEndListeners.push(listener);
  }

  onDisconnect(listener: (c: RemotingConnection, reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  get port(): number {
    if (!this.#listener) throw new Error("RemotingServer is not started");
    return this.#listener.port;
  }

  get host(): string {
    if (!this.#listener) throw new Error("RemotingServer is not started");
    return this.#listener.host;
  }

  get connections(): ReadonlySet<RemotingConnection> {
    return this.#connections;
  }

  async start(): Promise<{ host: string; port: number }> {
    this.#listener = await listenTcp({
      host: this.#opts.host ?? "127.0.0.1",
      port: this.#opts.port ?? 0,
      onConnection: (tcp) => {
        if (this.#stopping) {
          tcp.close();
          return;
        }
        const host = hostOf(tcp.remoteAddr);
        const fromHost = this.#perAddress.get(host) ?? 0;
        const l = this.#limits;
        if (this.#connections.size >= l.maxConnections || fromHost >= l.maxConnectionsPerAddress) {
          this.#refused++;
          const which = this.#connections.size >= l.maxConnections
            ? `${this.#connections.size} connections (maxConnections ${l.maxConnections})`
            : `${fromHost} connections from ${host} (maxConnectionsPerAddress ${l.maxConnectionsPerAddress})`;
          this.#errorLog.write(`refused a connection from ${tcp.remoteAddr}: ${which}`);
          tcp.close();
          return;
        }
        this.#perAddress.set(host, fromHost + 1);
        const conn = new RemotingConnection(tcp, {
          processors: this.#processors,
          defaultProcessor: this.#defaultProcessor,
          limits: l,
          budget: this.#budget,
          followPeerSerializeType: true,
          onProtocolError: (c, err) => {
            const what = err instanceof FrameError ? "closing connection" : "request failed";
            this.#errorLog.write(`${what} from ${c.remoteAddr}: ${err.message}`);
          },
          onLimitClose: (c, reason) => this.#errorLog.write(`closing connection from ${c.remoteAddr}: ${reason}`),
        });
        this.#connections.add(conn);
        conn.onPeerEnd(() => {
          for (const l of this.#peerEndListeners) l(conn);
        });
        conn.onClose((reason) => {
          this.#connections.delete(conn);
          const n = (this.#perAddress.get(host) ?? 1) - 1;
          if (n > 0) this.#perAddress.set(host, n);
          else this.#perAddress.delete(host);
          for (const l of this.#closeListeners) l(conn, reason);
        });
        for (const l of this.#connectListeners) l(conn);
      },
    });
    this.#sweep = setInterval(() => this.#sweepConnections(), this.#limits.connectionSweepIntervalMs);
    return { host: this.#listener.host, port: this.#listener.port };
  }

  /** Closes connections past a deadline: an unfinished frame, unread answers, or idle and unregistered. */
  #sweepConnections(): void {
    const now = Date.now();
    const idleMs = this.#limits.connectionIdleTimeoutMs;
    for (const c of [...this.#connections]) {
      if (c.checkDeadlines(now) !== undefined) continue;
      if (now - c.lastReadAt > idleMs && c.inFlightRequests === 0 && !this.#opts.exemptFromIdle?.(c)) {
        const reason = `idle for ${idleMs} ms with no registered client`;
        this.#errorLog.write(`closing connection from ${c.remoteAddr}: ${reason}`);
        c.close(reason);
      }
    }
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  async stop(graceMs = 1_000): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweep);
    // node:net's close() resolves only once every connection has ended, so close them meanwhile.
    const listenerClosed = this.#listener?.close();
    await Promise.all([...this.#connections].map((c) => c.drainAndClose(graceMs)));
    await listenerClosed;
  }
}
