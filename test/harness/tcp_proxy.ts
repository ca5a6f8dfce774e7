import net from "node:net";

/**
 * A fault-injecting TCP proxy on loopback, for tests that need to cut one link between
 * processes: `cut()` silently drops every byte both ways (as a partitioned network does: peers
 * see timeouts, not resets); `heal()` closes the connections that lived through the cut (their
 * streams lost bytes mid-frame) and forwards again.
 */
export class TcpProxy implements AsyncDisposable {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #dropping = false;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.#pairs.add(pair);
      const forward = (from: net.Socket, to: net.Socket) =>
        from.on("data", (d) => {
          if (!this.#dropping && !to.destroyed) to.write(d);
        });
      forward(client, upstream);
      forward(upstream, client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.#pairs.delete(pair);
      };
      client.on("close", close).on("error", close);
      upstream.on("close", close).on("error", close);
    });
  }

  /** Starts a proxy to `target` ("host:port"); its address is `addr`. */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
    const p = new TcpProxy({ host, port });
    await new Promise<void>((resolve) => p.#server.listen(0, "127.0.0.1", resolve));
    p.port = (p.#server.address() as net.AddressInfo).port;
    return p;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.#dropping = true;
  }

  heal(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
    this.#dropping = false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.heal();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
