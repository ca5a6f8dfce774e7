import type { Logger, LogLevel } from "../common/log.ts";
import { exit, onShutdownSignal, onUnhandled } from "../platform/runtime.ts";

/** A command that cannot go on: exit 2 for a wrong invocation, another code for a finding (e.g. 1: no live brokers). */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function logLevel(value: string | undefined): LogLevel {
  const v = value ?? "info";
  if (!["debug", "info", "warn", "error", "silent"].includes(v)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, got "${v}"`);
  }
  return v as LogLevel;
}

/** Waits for SIGINT/SIGTERM, runs `stop`, exits 0. A failing request is logged, never fatal. */
export async function serveUntilSignal(log: Logger, stop: () => Promise<void>): Promise<void> {
  onUnhandled((kind, err) => log.error(`${kind}: ${(err as Error)?.stack ?? String(err)}`));
  await new Promise<void>((resolve) => {
    onShutdownSignal(async (signal) => {
      log.info(`${signal}: shutting down`);
      try {
        await stop();
      } finally {
        resolve();
      }
    });
  });
  exit(0);
}
