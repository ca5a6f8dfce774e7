import { formatAddr, type ListenOptions, type TcpConn, TcpConnectError, type TcpListener } from "./tcp_conn.ts";

/** Deno's Conn already exposes Web Streams; this only adapts addresses, errors and closing. */
function wrap(conn: Deno.TcpConn): TcpConn {
  try {
    conn.setNoDelay(true);
  } catch { /* closed already */ }
  const remote = conn.remoteAddr as Deno.NetAddr;
  const local = conn.localAddr as Deno.NetAddr;
  let closed = false;
  return {
    readable: conn.readable,
    writable: conn.writable,
    remoteAddr: formatAddr(remote.hostname, remote.port),
    localAddr: formatAddr(local.hostname, local.port),
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch { /* already closed by a stream */ }
    },
  };
}

export function listenDeno(options: ListenOptions): Promise<TcpListener> {
  const listener = Deno.listen({ hostname: options.host, port: options.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  let closing = false;
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) return;
        continue; // a failed accept (e.g. peer reset) must not stop the listener
      }
      options.onConnection(wrap(conn));
    }
  })();
  return Promise.resolve({
    host: addr.hostname,
    port: addr.port,
    async close() {
      closing = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      await accepting;
    },
  });
}

export async function connectDeno(host: string, port: number, timeoutMs: number): Promise<TcpConn> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname: host, port, transport: "tcp", signal } as Deno.ConnectOptions);
    return wrap(conn);
  } catch (err) {
    if (signal.aborted) throw new TcpConnectError("timeout", `connect timed out after ${timeoutMs} ms`, { cause: err });
    if (err instanceof Deno.errors.ConnectionRefused) throw new TcpConnectError("refused", "connection refused", { cause: err });
    throw new TcpConnectError("other", (err as Error).message, { cause: err });
  }
}
