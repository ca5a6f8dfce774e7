/**
 * Old and new side by side: runs a benchmark in two checkouts in turn (old, new, old, new …),
 * one run each time, and prints the median of every figure and of the new/old ratio pair by
 * pair, so a comparison holds while the machine's speed drifts.
 *
 * Usage: bun scripts/bench/compare_commits.ts --old DIR --new DIR [--rounds 5] [--bench broker|store]
 * Each DIR is a checkout with node_modules (a `git worktree add` of the commit, with a link to
 * this checkout's node_modules). broker: `scripts/bench/broker_vs_peers.ts --runs 1 --secs 8`;
 * store: `scripts/bench/store.ts --secs 5`.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./_runs.ts";

const { values } = parseArgs({
  options: { old: { type: "string" }, new: { type: "string" }, rounds: { type: "string", default: "5" }, bench: { type: "string", default: "broker" } },
});
if (!values.old || !values.new) throw new Error("--old DIR and --new DIR are required");
const rounds = Number(values.rounds);
const args = values.bench === "store" ? ["scripts/bench/store.ts", "--secs", "5"] : ["scripts/bench/broker_vs_peers.ts", "--runs", "1", "--secs", "8"];

/** One run's figures: the broker summary's medians, or each store case's rate. */
function figures(dir: string): Record<string, number> {
  const r = spawnSync(join(dir, "node_modules/.bin/bun"), args, { cwd: dir, encoding: "utf8", timeout: 300_000 });
  const out: Record<string, number> = {};
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const row = JSON.parse(line);
    if (row.bench === "broker-vs-peers") Object.assign(out, row.medians);
    if (row.bench === "store") out[`store ${row.case}`] = row.appendsPerSec ?? row.readsPerSec ?? row.secPerGiB;
  }
  if (Object.keys(out).length === 0) throw new Error(`${dir}: no figures: ${r.stderr.slice(-400)}`);
  return out;
}

const old: Record<string, number>[] = [];
const now: Record<string, number>[] = [];
for (let i = 0; i < rounds; i++) {
  old.push(figures(values.old));
  now.push(figures(values.new));
  console.log(JSON.stringify({ round: i, old: old[i], new: now[i] }));
}
const summary: Record<string, { old: number; new: number; ratio: number }> = {};
for (const k of Object.keys(old[0])) {
  const pairs = old.map((o, i) => [o[k], now[i][k]]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && a > 0);
  summary[k] = {
    old: median(pairs.map(([a]) => a)),
    new: median(pairs.map(([, b]) => b)),
    ratio: Math.round(median(pairs.map(([a, b]) => b / a)) * 1000) / 1000,
  };
}
console.log(JSON.stringify({ bench: `compare-${values.bench}`, rounds, summary }, null, 1));
