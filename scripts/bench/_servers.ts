/** `bolide` server processes for the benchmark orchestrators: started, awaited, always killed. */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const bun = join(root, "node_modules/.bin/bun");
const cli = join(root, "cli.ts");

export class Servers {
  readonly #running = new Set<ChildProcess>();

  /** Logs go to `<work>/<name>-<time>.out` and `.err`. */
  constructor(private readonly work: string) {
    process.on("exit", () => {
      for (const p of this.#running) p.kill("SIGKILL");
    });
  }

  /** Runs `bolide <args>` (a server) and resolves with the address it prints first. */
  async start(name: string, args: string[]): Promise<{ proc: ChildProcess; addr: string }> {
    const out = join(this.work, `${name}-${Date.now()}.out`);
    const proc = spawn(bun, [cli, ...args, "--log-level", "warn"], { stdio: ["ignore", openSync(out, "w"), openSync(`${out}.err`, "w")] });
    this.#running.add(proc);
    proc.on("exit", () => this.#running.delete(proc));
    for (let i = 0; i < 200; i++) {
      const m = /listening on (\S+)/.exec(readFileSync(out, "utf8"));
      if (m) return { proc, addr: m[1] };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${name} did not start: ${readFileSync(`${out}.err`, "utf8").slice(-500)}`);
  }

  /** SIGTERM (a clean stop), awaited. */
  async stop(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.on("exit", r));
    proc.kill("SIGTERM");
    await exited;
  }

  async stopAll(): Promise<void> {
    for (const p of [...this.#running]) await this.stop(p);
  }
}
