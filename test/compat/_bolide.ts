import { join } from "node:path";
import { Child, runtimeBinary } from "../harness/process.ts";
import { tempDir } from "../harness/temp_dir.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/**
 * A NameServer and a broker as processes (`cli.ts namesrv`, `cli.ts broker`) on loopback, the
 * broker restartable on the same port and store: what a RocketMQ client is pointed at.
 */
export class BolideProcesses implements AsyncDisposable {
  readonly dir = tempDir("bolide-compat-");
  ns!: Child;
  broker!: Child;
  namesrvAddr = "";
  brokerAddr = "";
  readonly #extra: string[];

  private constructor(extra: string[]) {
    this.#extra = extra;
  }

  /** Starts both; `extra` are broker flags (e.g. shorter delay levels for retries). */
  static async start(extra: string[] = []): Promise<BolideProcesses> {
    const p = new BolideProcesses(extra);
    try {
      p.ns = new Child(runtimeBinary(), [CLI, "namesrv", "--port", "0"]);
      p.namesrvAddr = await p.ns.listenAddr();
      await p.startBroker("0");
    } catch (err) {
      await p[Symbol.asyncDispose]();
      throw err;
    }
    return p;
  }

  async startBroker(port: string): Promise<void> {
    this.broker = new Child(runtimeBinary(), [
      CLI, "broker", "--namesrvAddr", this.namesrvAddr, "--listenPort", port,
      "--storePathRootDir", join(this.dir.path, "store"), "--brokerIP1", "127.0.0.1", ...this.#extra,
    ]);
    this.brokerAddr = await this.broker.listenAddr();
  }

  /** A clean stop (SIGTERM, awaited) and a start on the same port and store. */
  async restartBroker(): Promise<void> {
    this.broker.kill("SIGTERM");
    await this.broker.exited;
    await this.startBroker(this.brokerAddr.split(":")[1]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.broker?.[Symbol.asyncDispose]();
    await this.ns?.[Symbol.asyncDispose]();
    this.dir[Symbol.dispose]();
  }
}
