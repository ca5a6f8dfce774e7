import { spawnSync } from "node:child_process";
import { Child } from "./process.ts";

/**
 * Separate hosts for tests, made of Linux network namespaces: one per host, each joined by a veth
 * pair to a bridge in the test's own namespace, with an address of its own on a private /24.
 * The test reaches every host through the bridge; `cut(host)` takes that host's link down (its
 * packets go nowhere, as with a pulled cable) and `heal(host)` brings it back. Everything is
 * created here and removed at dispose. Needs root (CI runs as root); `available()` says whether
 * this machine allows it.
 */
export class NetLab implements AsyncDisposable {
  readonly #id = Math.floor(Math.random() * 0xffff).toString(16).padStart(4, "0");
  readonly #subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  readonly #hosts = new Map<string, { ns: string; ip: string; veth: string }>();
  readonly #children = new Set<Child>();

  static available(): boolean {
    const name = `bolide-probe-${process.pid}`;
    const ok = spawnSync("ip", ["netns", "add", name]).status === 0;
    if (ok) spawnSync("ip", ["netns", "del", name]);
    return ok;
  }

  static create(hosts: string[]): NetLab {
    const lab = new NetLab();
    try {
      lab.#setup(hosts);
    } catch (err) {
      lab.#teardown();
      throw err;
    }
    return lab;
  }

  get #bridge(): string {
    return `bb${this.#id}`;
  }

  #setup(hosts: string[]): void {
    ip("link", "add", this.#bridge, "type", "bridge");
    ip("addr", "add", `${this.#subnet}.1/24`, "dev", this.#bridge);
    ip("link", "set", this.#bridge, "up");
    hosts.forEach((name, i) => {
      const ns = `bolide-${this.#id}-${name}`;
      const ipAddr = `${this.#subnet}.${i + 2}`;
      const veth = `vr${this.#id}${i}`;
      const inner = `vn${this.#id}${i}`;
      ip("netns", "add", ns);
      this.#hosts.set(name, { ns, ip: ipAddr, veth });
      ip("link", "add", veth, "type", "veth", "peer", "name", inner);
      ip("link", "set", inner, "netns", ns);
      ip("link", "set", veth, "master", this.#bridge);
      ip("link", "set", veth, "up");
      ip("-n", ns, "addr", "add", `${ipAddr}/24`, "dev", inner);
      ip("-n", ns, "link", "set", inner, "up");
      ip("-n", ns, "link", "set", "lo", "up");
    });
  }

  /** The host's address. */
  ip(host: string): string {
    return this.#host(host).ip;
  }

  /** Runs a process on `host` (in its namespace); killed at dispose. */
  spawn(host: string, cmd: string, args: string[]): Child {
    const c = new Child("ip", ["netns", "exec", this.#host(host).ns, cmd, ...args]);
    this.#children.add(c);
    return c;
  }

  /** The host's link goes down: nothing reaches it and nothing leaves it. */
  cut(host: string): void {
    ip("link", "set", this.#host(host).veth, "down");
  }

  heal(host: string): void {
    ip("link", "set", this.#host(host).veth, "up");
  }

  #host(name: string) {
    const h = this.#hosts.get(name);
    if (!h) throw new Error(`no host ${name} in this lab`);
    return h;
  }

  #teardown(): void {
    for (const h of this.#hosts.values()) spawnSync("ip", ["netns", "del", h.ns]);
    spawnSync("ip", ["link", "del", this.#bridge]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.#children) await c[Symbol.asyncDispose]();
    this.#teardown();
  }
}

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}
