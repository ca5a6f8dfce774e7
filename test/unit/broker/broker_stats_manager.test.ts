import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { BrokerStatsManager, StatsName } from "../../../src/broker/broker_stats_manager.ts";
import { Limits } from "../../../src/common/limits.ts";

describe("BrokerStatsManager", () => {
  test("a window runs from its oldest sample to now: a minute forgets what came before it, an hour and a day keep it", () => {
    const s = new BrokerStatsManager("C");
    const t0 = 1_800_000_000_000;
    s.add(StatsName.TOPIC_PUT_NUMS, "T", 50, t0);
    // Sampled every 10 s for 2 minutes with nothing more put; then 12 more.
    for (let t = t0 + 10_000; t <= t0 + 120_000; t += 10_000) s.sample(t);
    s.add(StatsName.TOPIC_PUT_NUMS, "T", 12, t0 + 125_000);
    const v = s.view(StatsName.TOPIC_PUT_NUMS, "T", t0 + 125_000)!;
    assert.equal(v.statsMinute.sum, 12, "the 50 are older than the minute's oldest sample");
    assert.equal(v.statsHour.sum, 62);
    assert.equal(v.statsDay.sum, 62);
    // 12 over the 65 s since the oldest minute sample (t0 + 60 s).
    assert.ok(Math.abs(v.statsMinute.tps - 12 / 65) < 1e-9, String(v.statsMinute.tps));
    assert.equal(v.statsMinute.avgpt, 12, "one event of 12");
    assert.equal(s.view(StatsName.TOPIC_PUT_NUMS, "Other", t0), undefined);
  });

  test("groups' TPS over their topics, the broker's runtime figures, and midnight totals", () => {
    const s = new BrokerStatsManager("C");
    const before = Date.now();
    s.got("A", "G", 30, 3_000);
    s.got("B", "G", 10, 1_000);
    s.got("A", "H", 99, 1);
    const now = Date.now();
    // 40 messages over the time since the items were made (between `before` and `now`).
    const at = now + 10_000;
    const tps = s.groupTps("G", ["A", "B"], at);
    assert.ok(tps >= 40_000 / (at - before) - 1e-9 && tps <= 40_000 / (at - now) + 1e-9, String(tps));
    s.put("A", 5, 500);
    const info = s.runtimeInfo(now + 10_000);
    assert.equal(info.msgPutTotalTodayNow, "5");
    assert.equal(info.msgGetTotalTodayNow, "139");
    assert.match(info.putTps, /^\d+\.\d{4} \d+\.\d{4} \d+\.\d{4}$/);
    assert.ok(Number(info.getTransferedTps.split(" ")[0]) > 0);
    // The day changes: this morning's totals are those at midnight.
    s.sample(now + 86_400_000 + 1);
    assert.equal(s.runtimeInfo(now + 86_400_000 + 2).msgPutTotalTodayMorning, "5");
  });

  test("each stats name keeps at most Limits.maxStatsKeys keys; the broker's totals count the rest", () => {
    const s = new BrokerStatsManager("C");
    for (let i = 0; i < Limits.maxStatsKeys + 50; i++) s.put(`T${i}`, 1, 10);
    assert.ok(s.view(StatsName.TOPIC_PUT_NUMS, "T0"));
    assert.equal(s.view(StatsName.TOPIC_PUT_NUMS, `T${Limits.maxStatsKeys + 10}`), undefined);
    assert.equal(s.view(StatsName.BROKER_PUT_NUMS, "C")!.statsDay.sum, Limits.maxStatsKeys + 50);
  });
});
