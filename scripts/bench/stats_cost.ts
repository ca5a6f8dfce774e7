/**
 * What broker statistics cost the send and pull paths (issue #16): ns per BrokerStatsManager
 * call as the processors make them, one `put` per stored send (or batch) and one `got` per pull
 * answer, on a warm key. Prints one JSON line per round.
 *
 * Usage: bun scripts/bench/stats_cost.ts [--calls 5000000] [--rounds 3]
 */
import { parseArgs } from "node:util";
import { BrokerStatsManager } from "../../src/broker/broker_stats_manager.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "5000000" }, rounds: { type: "string", default: "3" } } });
const N = Number(values.calls);
const stats = new BrokerStatsManager("DefaultCluster");
for (let round = 0; round < Number(values.rounds); round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) stats.put("BenchTopic", 1, 1_100);
  const put = (performance.now() - t) * 1e6 / N;
  t = performance.now();
  for (let i = 0; i < N; i++) stats.got("BenchTopic", "bench-0", 32, 35_000);
  const got = (performance.now() - t) * 1e6 / N;
  console.log(JSON.stringify({ bench: "stats-cost", round, putNsPerCall: Math.round(put * 10) / 10, gotNsPerCall: Math.round(got * 10) / 10 }));
}
