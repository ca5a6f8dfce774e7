import { runtimeName } from "./runtime.ts";
import { ListenError } from "./tcp.ts";

/** A request handler in the Fetch API's terms (what a Hono app's `fetch` is). */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** The part of Bun's API used here (Bun's types are not a dependency). */
interface BunServe {
  serve(o: { hostname: string; port: number; fetch: FetchHandler }): { port: number | undefined; stop(closeActive?: boolean): unknown };
}

export interface HttpServer {
  readonly host: string;
  /** The port listened on (the one picked when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `fetch` over HTTP with the runtime's own server: Bun.serve, Deno.serve, or Node's
 * http through @hono/node-server. A port that is taken is a ListenError naming it.
 */
export async function serveHttp(fetch: FetchHandler, opts: { host: string; port: number }): Promise<HttpServer> {
  try {
    switch (runtimeName()) {
      case "bun": {
        const server = (globalThis as unknown as { Bun: BunServe }).Bun.serve({ hostname: opts.host, port: opts.port, fetch });
        const close = async () => {
          await server.stop(true);
        };
        return { host: opts.host, port: server.port ?? opts.port, close };
      }
      case "deno": {
        let listening!: (port: number) => void;
        const port = new Promise<number>((resolve) => listening = resolve);
        const server = Deno.serve({ hostname: opts.host, port: opts.port, onListen: (addr) => listening(addr.port) }, fetch);
        return { host: opts.host, port: await port, close: () => server.shutdown() };
      }
      default: {
        const { serve } = await import("@hono/node-server");
        return await new Promise<HttpServer>((resolve, reject) => {
          const server = serve({ fetch, hostname: opts.host, port: opts.port }, (info) => {
            resolve({ host: opts.host, port: info.port, close: () => new Promise<void>((done) => server.close(() => done())) });
          });
          server.once("error", reject);
        });
      }
    }
  } catch (err) {
    const e = err as { code?: string; name?: string };
    const reason = e.code === "EADDRINUSE" || e.name === "AddrInUse" ? "in use" : e.code === "EACCES" || e.name === "PermissionDenied" ? "not permitted" : "unavailable";
    throw new ListenError(opts.host, opts.port, reason, err);
  }
}
