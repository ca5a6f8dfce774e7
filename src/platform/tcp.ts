import { runtimeName } from "./runtime.ts";
import type { ListenOptions, TcpConn, TcpListener } from "./tcp_conn.ts";
import { connectDeno, listenDeno } from "./tcp_deno.ts";
import { connectNode, listenNode } from "./tcp_node.ts";

export { formatAddr, type ListenOptions, type TcpConn, TcpConnectError, type TcpListener } from "./tcp_conn.ts";

/** Listens with the runtime's own sockets (Deno's, or node:net on Bun and Node). */
export function listenTcp(options: ListenOptions): Promise<TcpListener> {
  return runtimeName() === "deno" ? listenDeno(options) : listenNode(options);
}

export function connectTcp(host: string, port: number, timeoutMs: number): Promise<TcpConn> {
  return runtimeName() === "deno" ? connectDeno(host, port, timeoutMs) : connectNode(host, port, timeoutMs);
}
