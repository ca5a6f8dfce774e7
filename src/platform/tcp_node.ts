import net from "node:net";
import { formatAddr, type ListenOptions, type TcpConn, TcpConnectError, type TcpListener } from "./tcp_conn.ts";

/** Chunks a socket may buffer in its ReadableStream before the socket is paused. */
const READ_HIGH_WATER_CHUNKS = 8;

function wrap(sock: net.Socket): TcpConn {
  sock.setNoDelay(true);
  let closed = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      sock.on("data", (data: Uint8Array) => {
        if (closed) return;
        // A plain view, not a Buffer: callers see the same type on every runtime.
        controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) sock.pause();
      });
      const finish = () => {
        if (closed) return;
        closed = true;
        try {
          controller.close();
        } catch { /* already closed or errored */ }
      };
      sock.on("end", finish);
      sock.on("close", finish);
      sock.on("error", (err) => {
        if (closed) return;
        closed = true;
        try {
          controller.error(err);
        } catch { /* already closed */ }
      });
    },
    pull() {
      if (sock.isPaused()) sock.resume();
    },
    cancel() {
      sock.destroy();
    },
  }, { highWaterMark: READ_HIGH_WATER_CHUNKS });

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (sock.destroyed) return Promise.reject(new Error("socket is closed"));
      // Resolve at once while the kernel takes the bytes; wait for 'drain' only when it pushes back.
      if (sock.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          sock.off("close", onClose);
          resolve();
        };
        const onClose = () => {
          sock.off("drain", onDrain);
          reject(new Error("socket closed while writing"));
        };
        sock.once("drain", onDrain);
        sock.once("close", onClose);
      });
    },
    close() {
      sock.end();
    },
    abort() {
      sock.destroy();
    },
  });

  return {
    readable,
    writable,
    remoteAddr: formatAddr(sock.remoteAddress ?? "?", sock.remotePort ?? 0),
    localAddr: formatAddr(sock.localAddress ?? "?", sock.localPort ?? 0),
    close() {
      sock.destroy();
    },
  };
}

export function listenNode(options: ListenOptions): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a peer that ends its side after its last request still gets the answers.
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
      // A socket that errors before anyone reads it must not become an uncaught 'error' event.
      sock.on("error", () => {});
      options.onConnection(wrap(sock));
    });
    server.once("error", reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off("error", reject);
      const addr = server.address() as net.AddressInfo;
      resolve({
        host: addr.address,
        port: addr.port,
        close: () => new Promise<void>((res) => server.close(() => res())),
      });
    });
  });
}

export function connectNode(host: string, port: number, timeoutMs: number): Promise<TcpConn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new TcpConnectError("timeout", `connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.off("error", onError);
      sock.on("error", () => {});
      resolve(wrap(sock));
    });
    const onError = (err: Error & { code?: string }) => {
      clearTimeout(timer);
      const kind = err.code === "ECONNREFUSED" ? "refused" : "other";
      reject(new TcpConnectError(kind, err.code === "ECONNREFUSED" ? "connection refused" : err.message, { cause: err }));
    };
    sock.once("error", onError);
  });
}
