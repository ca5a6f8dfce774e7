import { Limits } from "../common/limits.ts";
import { type Logger, RateLimitedLog, silentLogger } from "../common/log.ts";
import { FrameError } from "../common/errors.ts";
import { listenTcp, type TcpListener } from "../platform/tcp.ts";
import { type ConnectionLimits, type Processor, RemotingConnection } from "./remoting_connection.ts";

export interface RemotingServerOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  limits?: Partial<ConnectionLimits>;
  log?: Logger;
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

  constructor(opts: RemotingServerOptions = {}) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.#errorLog = new RateLimitedLog((m) => this.#log.warn(m), Limits.protocolErrorLogsPerSecond);
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
        const conn = new RemotingConnection(tcp, {
          processors: this.#processors,
          defaultProcessor: this.#defaultProcessor,
          limits: this.#opts.limits,
          onProtocolError: (c, err) => {
            const what = err instanceof FrameError ? "closing connection" : "request failed";
            this.#errorLog.write(`${what} from ${c.remoteAddr}: ${err.message}`);
          },
        });
        this.#connections.add(conn);
        conn.onPeerEnd(() => {
          for (const l of this.#peerEndListeners) l(conn);
        });
        conn.onClose((reason) => {
          this.#connections.delete(conn);
          for (const l of this.#closeListeners) l(conn, reason);
        });
        for (const l of this.#connectListeners) l(conn);
      },
    });
    return { host: this.#listener.host, port: this.#listener.port };
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  async stop(graceMs = 1_000): Promise<void> {
    this.#stopping = true;
    // node:net's close() resolves only once every connection has ended, so close them meanwhile.
    const listenerClosed = this.#listener?.close();
    await Promise.all([...this.#connections].map((c) => c.drainAndClose(graceMs)));
    await listenerClosed;
  }
}
