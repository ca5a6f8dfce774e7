/** What the benchmark orchestrators share: per-run rows, their medians, and a process's RSS. */
import { readFileSync } from "node:fs";

/** The middle value (the upper one of two for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A process's resident set from /proc, MB (NaN when /proc does not say). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** Figures by name, one value per run, in the order they were added. */
export class Runs {
  readonly all: Record<string, number[]> = {};
  add(name: string, value: number): void {
    (this.all[name] ??= []).push(value);
  }
  medians(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.all)) out[k] = median(v);
    return out;
  }
}
