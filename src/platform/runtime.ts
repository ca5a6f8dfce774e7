import os from "node:os";
import process from "node:process";

/**
 * Process-level services for Bun, Deno and Node. node:process and node:timers exist on all three,
 * so one implementation serves them; only the socket layer differs per runtime (see tcp.ts).
 */
export type RuntimeName = "bun" | "deno" | "node";

export function runtimeName(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Bun !== "undefined") return "bun";
  if (typeof g.Deno !== "undefined") return "deno";
  return "node";
}

export function runtimeVersion(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

export const pid = (): number => process.pid;
/** Resident set size of this process, bytes. */
export const rssBytes = (): number => process.memoryUsage.rss();
export const totalMemoryBytes = (): number => os.totalmem();
export const argv = (): string[] => process.argv.slice(2);
export const env = (name: string): string | undefined => process.env[name];
export const exit = (code: number): never => process.exit(code);

export function onShutdownSignal(fn: (signal: string) => void): () => void {
  const handler = (sig: string) => fn(sig);
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

/** Writes a line to stdout, for machine-readable output such as the listen address. */
export function printLine(line: string): void {
  process.stdout.write(line + "\n");
}

export function onUnhandled(fn: (kind: string, err: unknown) => void): void {
  process.on("unhandledRejection", (err) => fn("unhandledRejection", err));
  process.on("uncaughtException", (err) => fn("uncaughtException", err));
}

/** Every line of standard input (for commands that take one item per line). */
export async function readStdinLines(): Promise<string[]> {
  const chunks: string[] = [];
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) chunks.push(chunk as string);
  return chunks.join("").split(/\r?\n/);
}
