/**
 * A TCP connection as Web Streams. The remoting layer sees only this interface; each runtime
 * supplies an implementation (Deno's native Conn, and node:net for Bun and Node: Bun's node:net
 * is its own native socket, measured no slower than Bun.listen on this machine).
 */
export interface TcpConn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** "host:port" of the peer. */
  readonly remoteAddr: string;
  readonly localAddr: string;
  /** Closes both directions at once; pending writes may be dropped. Idempotent. */
  close(): void;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port; read it back from the listener. */
  port: number;
  onConnection(conn: TcpConn): void;
}

/** Why a connect failed, so the caller can word its error. */
export class TcpConnectError extends Error {
  override name = "TcpConnectError";
  readonly kind: "refused" | "timeout" | "other";
  constructor(kind: "refused" | "timeout" | "other", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export function formatAddr(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
