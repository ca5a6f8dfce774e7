/**
 * A small levelled logger. Lines go to stderr through `console.error` so stdout stays free for
 * the CLI's machine-readable output (the listen address, JSON results).
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(name: string): Logger;
}

export function createLogger(
  name: string,
  level: LogLevel = "info",
  sink: LogSink = (line) => console.error(line),
): Logger {
  const min = order[level];
  const emit = (lvl: LogLevel, msg: string) => {
    if (order[lvl] < min) return;
    sink(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${name}] ${msg}`);
  };
  return {
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
    child: (sub) => createLogger(`${name}.${sub}`, level, sink),
  };
}

/**
 * Lets through at most `perSecond` lines a second and counts the rest, so a hostile peer sending
 * garbage cannot flood the log. The count of dropped lines is reported with the next line let through.
 */
export class RateLimitedLog {
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;
  constructor(private readonly log: (msg: string) => void, private readonly perSecond: number) {}

  write(msg: string, now = Date.now()): void {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.perSecond) {
      this.#suppressed++;
      return;
    }
    this.#inWindow++;
    const note = this.#suppressed > 0 ? ` (${this.#suppressed} similar lines suppressed)` : "";
    this.#suppressed = 0;
    this.log(msg + note);
  }
}

export const silentLogger: Logger = createLogger("silent", "silent");
