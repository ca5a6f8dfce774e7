import { type ChildProcess, spawn } from "node:child_process";

/**
 * A child process whose first stdout line is awaited (servers print their listen address there).
 * Killed and awaited when disposed; its stderr is kept for failure messages.
 */
export class Child implements AsyncDisposable {
  readonly stdoutLines: string[] = [];
  stderr = "";
  exitCode: number | null = null;
  signal: string | null = null;
  readonly exited: Promise<void>;
  readonly #proc: ChildProcess;

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.#proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let buf = "";
    this.#proc.stdout!.setEncoding("utf8");
    this.#proc.stdout!.on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        this.stdoutLines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    this.#proc.stderr!.setEncoding("utf8");
    this.#proc.stderr!.on("data", (d: string) => {
      // Keep the tail only: a long-running server may log a lot.
      this.stderr = (this.stderr + d).slice(-20_000);
    });
    this.exited = new Promise((resolve) => {
      this.#proc.on("exit", (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.#proc.pid!;
  }

  /** The first stdout line, waiting up to `timeoutMs`; fails early if the process exits first. */
  async firstLine(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.stdoutLines.length === 0) {
      if (this.exitCode !== null || this.signal !== null) {
        throw new Error(`process exited (code ${this.exitCode}, signal ${this.signal}) before printing; stderr: ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no output within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.stdoutLines[0];
  }

  /** The "host:port" in the first line. */
  async listenAddr(timeoutMs?: number): Promise<string> {
    const line = await this.firstLine(timeoutMs);
    const m = /(\d+\.\d+\.\d+\.\d+:\d+)/.exec(line);
    if (!m) throw new Error(`first line has no address: ${line}`);
    return m[1];
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.exitCode === null && this.signal === null) this.#proc.kill(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exited;
  }
}

/** The runtime binary running these tests, to start servers under the same one. */
export function runtimeBinary(): string {
  return process.execPath;
}
