import { RemotingConnectError, RemotingTimeoutError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { connectTcp, TcpConnectError } from "../platform/tcp.ts";
import { parseAddr } from "../util/addr.ts";
import type { RemotingCommand } from "../protocol/remoting_command.ts";
import { requestCodeName } from "../protocol/request_code.ts";
import { type ConnectionLimits, type Processor, RemotingConnection } from "./remoting_connection.ts";

export interface RemotingClientOptions {
  connectTimeoutMs?: number;
  limits?: Partial<ConnectionLimits>;
  /** Serialize type of outgoing requests (CBOR by default). */
  serializeType?: number;
}

/**
 * Sends requests to servers by address, keeping one connection per address, made on demand and
 * made again after it is lost. Processors answer requests that servers send back to this client.
 */
export class RemotingClient {
  readonly #processors = new Map<number, Processor>();
  readonly #connections = new Map<string, Promise<RemotingConnection>>();
  /** Connections already made, for the hot path: no promise hop per request. */
  readonly #ready = new Map<string, RemotingConnection>();
  readonly #opts: RemotingClientOptions;
  #closed = false;

  constructor(opts: RemotingClientOptions = {}) {
    this.#opts = opts;
  }

  registerProcessor(code: number, processor: Processor): this {
    this.#processors.set(code, processor);
    return this;
  }

  /** Sends `request` to `addr` and resolves with the response; rejects with a typed error naming `addr`. */
  invoke(addr: string, request: RemotingCommand, timeoutMs: number = Limits.defaultInvokeTimeoutMs): Promise<RemotingCommand> {
    const ready = this.#ready.get(addr);
    if (ready !== undefined && !ready.isClosed) return ready.invoke(request, timeoutMs);
    return this.#invokeConnecting(addr, request, timeoutMs);
  }

  async #invokeConnecting(addr: string, request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    const deadline = Date.now() + timeoutMs;
    const conn = await this.#connection(addr, timeoutMs, request.code);
    const left = deadline - Date.now();
    if (left <= 0) throw new RemotingTimeoutError(addr, timeoutMs, requestCodeName(request.code));
    return conn.invoke(request, left);
  }

  async invokeOneway(addr: string, request: RemotingCommand, timeoutMs: number = Limits.defaultInvokeTimeoutMs): Promise<void> {
    const conn = await this.#connection(addr, timeoutMs, request.code);
    await conn.invokeOneway(request, timeoutMs);
  }

  closeConnection(addr: string): void {
    const c = this.#connections.get(addr);
    this.#connections.delete(addr);
    this.#ready.delete(addr);
    c?.then((conn) => conn.close("closed by client"), () => {});
  }

  close(): void {
    this.#closed = true;
    for (const addr of [...this.#connections.keys()]) this.closeConnection(addr);
  }

  #connection(addr: string, timeoutMs: number, code: number): Promise<RemotingConnection> {
    if (this.#closed) return Promise.reject(new RemotingConnectError(addr, "the client is closed"));
    const existing = this.#connections.get(addr);
    if (existing) return existing;
    const made = this.#connect(addr, Math.min(timeoutMs, this.#opts.connectTimeoutMs ?? Limits.defaultConnectTimeoutMs), code);
    this.#connections.set(addr, made);
    made.then(
      (conn) => {
        this.#ready.set(addr, conn);
        conn.onClose(() => {
          if (this.#connections.get(addr) === made) this.#connections.delete(addr);
          if (this.#ready.get(addr) === conn) this.#ready.delete(addr);
        });
      },
      () => {
        if (this.#connections.get(addr) === made) this.#connections.delete(addr);
      },
    );
    return made;
  }

  async #connect(addr: string, timeoutMs: number, code: number): Promise<RemotingConnection> {
    let host: string;
    let port: number;
    try {
      ({ host, port } = parseAddr(addr));
    } catch (err) {
      throw new RemotingConnectError(addr, (err as Error).message, { cause: err });
    }
    try {
      const tcp = await connectTcp(host, port, timeoutMs);
      return new RemotingConnection(tcp, {
        processors: this.#processors,
        limits: this.#opts.limits,
        serializeType: this.#opts.serializeType,
      });
    } catch (err) {
      if (err instanceof TcpConnectError && err.kind === "timeout") {
        throw new RemotingTimeoutError(addr, timeoutMs, `connect for ${requestCodeName(code)}`);
      }
      throw new RemotingConnectError(addr, (err as Error).message, { cause: err });
    }
  }
}
