import { runtimeName } from "./runtime.ts";
import type { ListenOptions, TcpConn, TcpListener } from "./tcp_conn.ts";
import { connectDeno, listenDeno } from "./tcp_deno.ts";
import { connectNode, listenNode } from "./tcp_node.ts";

export { formatAddr, type ListenOptions, type TcpConn, TcpConnectError, type TcpListener } from "./tcp_conn.ts";

/** A port that cannot be listened on: in use, or not ours to take. One line says which and why. */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(readonly host: string, readonly port: number, readonly reason: "in use" | "not permitted" | "unavailable", cause: unknown) {
    super(`cannot listen on ${host}:${port}: the port is ${reason === "in use" ? "already in use (another bolide, or RocketMQ, may be running there)" : reason === "not permitted" ? "not permitted for this user" : `unavailable (${(cause as Error)?.message})`}`, { cause });
  }
}

/** Listens with the runtime's own sockets (Deno's, or node:net on Bun and Node). */
export async function listenTcp(options: ListenOptions): Promise<TcpListener> {
  try {
    return await (runtimeName() === "deno" ? listenDeno(options) : listenNode(options));
  } catch (err) {
    const e = err as { code?: string; name?: string };
    const reason = e.code === "EADDRINUSE" || e.name === "AddrInUse" ? "in use"
      : e.code === "EACCES" || e.name === "PermissionDenied" ? "not permitted"
      : "unavailable";
    throw new ListenError(options.host ?? "0.0.0.0", options.port, reason, err);
  }
}

export function connectTcp(host: string, port: number, timeoutMs: number): Promise<TcpConn> {
  return runtimeName() === "deno" ? connectDeno(host, port, timeoutMs) : connectNode(host, port, timeoutMs);
}
