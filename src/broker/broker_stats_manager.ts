import { Limits } from "../common/limits.ts";

/** RocketMQ's BrokerStatsManager names, as VIEW_BROKER_STATS_DATA takes them. */
export const StatsName = {
  /** Messages stored, by topic. */
  TOPIC_PUT_NUMS: "TOPIC_PUT_NUMS",
  TOPIC_PUT_SIZE: "TOPIC_PUT_SIZE",
  /** Messages handed to a group's pulls, by `topic@group`. */
  GROUP_GET_NUMS: "GROUP_GET_NUMS",
  GROUP_GET_SIZE: "GROUP_GET_SIZE",
  /** Messages a group sent back for a retry, by `topic@group`. */
  SNDBCK_PUT_NUMS: "SNDBCK_PUT_NUMS",
  /** The whole broker, key = its cluster name, as in RocketMQ. */
  BROKER_PUT_NUMS: "BROKER_PUT_NUMS",
  BROKER_GET_NUMS: "BROKER_GET_NUMS",
} as const;
export type StatsNameValue = typeof StatsName[keyof typeof StatsName];

/** One window's figures (RocketMQ's BrokerStatsItem): the sum over it, per second, and per event. */
export interface StatsWindow {
  sum: number;
  tps: number;
  avgpt: number;
}

/** A ring of samples (time, cumulative value, cumulative events), oldest first once full. */
class Ring {
  readonly #s: Float64Array;
  #n = 0;
  #head = 0;
  constructor(readonly cap: number) {
    this.#s = new Float64Array(cap * 3);
  }

  push(t: number, value: number, times: number): void {
    const at = this.#head * 3;
    this.#s[at] = t;
    this.#s[at + 1] = value;
    this.#s[at + 2] = times;
    this.#head = (this.#head + 1) % this.cap;
    if (this.#n < this.cap) this.#n++;
  }

  /** The oldest sample kept. */
  oldest(): [number, number, number] {
    const i = this.#n < this.cap ? 0 : this.#head;
    return [this.#s[i * 3], this.#s[i * 3 + 1], this.#s[i * 3 + 2]];
  }

  /** The newest sample at least `ms` old at `now`, or the oldest kept. */
  atLeast(ms: number, now: number): [number, number, number] {
    for (let k = 1; k <= this.#n; k++) {
      const i = (this.#head - k + this.cap) % this.cap;
      if (now - this.#s[i * 3] >= ms) return [this.#s[i * 3], this.#s[i * 3 + 1], this.#s[i * 3 + 2]];
    }
    return this.oldest();
  }
}

/**
 * One counted thing: a running sum and event count, sampled every 10 s (a minute's worth), 10
 * min (an hour's) and hour (a day's). A window's figures run from its oldest sample to now, so
 * they are there from the first event (nothing waits for a sampling round).
 */
class StatsItem {
  value = 0;
  times = 0;
  readonly minute = new Ring(7);
  readonly hour = new Ring(7);
  readonly day = new Ring(25);

  constructor(now: number) {
    this.minute.push(now, 0, 0);
    this.hour.push(now, 0, 0);
    this.day.push(now, 0, 0);
  }

  window(ring: Ring, now: number): StatsWindow {
    return figures(ring.oldest(), now, this.value, this.times);
  }

  /** Per second over about the last `ms` (from the newest sample that old). */
  tpsOver(ms: number, now: number): number {
    return figures((ms <= 60_000 ? this.minute : this.hour).atLeast(ms, now), now, this.value, this.times).tps;
  }
}

function count(pair: [StatsItem, StatsItem] | null, n: number, bytes: number): void {
  if (!pair) return;
  pair[0].value += n;
  pair[0].times++;
  pair[1].value += bytes;
  pair[1].times++;
}

function figures([t, v, n]: [number, number, number], now: number, value: number, times: number): StatsWindow {
  const sum = value - v;
  const elapsed = now - t;
  return { sum, tps: elapsed > 0 ? sum * 1000 / elapsed : 0, avgpt: times - n > 0 ? sum / (times - n) : 0 };
}

/**
 * The broker's statistics (RocketMQ's BrokerStatsManager): messages and bytes put per topic and
 * got per group, send-backs per group, and the broker's totals, over the last minute, hour and
 * day. Counting is a map lookup and two additions on the send and pull paths; sampling runs
 * every 10 s off them. Each name keeps at most Limits.maxStatsKeys keys (later ones count in
 * the broker's totals only).
 */
export class BrokerStatsManager {
  readonly #sets = new Map<string, Map<string, StatsItem>>();
  #lastSample = { minute: 0, hour: 0, day: 0 };
  #dayStart = startOfDay(Date.now());
  #todayMorning = { put: 0, get: 0 };
  #yesterdayMorning = { put: 0, get: 0 };

  constructor(private readonly brokerKey: string) {
    for (const name of Object.values(StatsName)) this.#sets.set(name, new Map());
  }

  add(name: StatsNameValue, key: string, n: number, now = Date.now()): void {
    const item = this.#item(name, key, now);
    if (!item) return;
    item.value += n;
    item.times++;
  }

  /** A message put (or a batch of `n`): the topic's and the broker's counts. One map lookup on the send path. */
  put(topic: string, n: number, bytes: number): void {
    const cached = this.#putPairs.get(topic); // null: past the key limit, counted in the totals only
    const pair = cached !== undefined ? cached : this.#pair(this.#putPairs, StatsName.TOPIC_PUT_NUMS, StatsName.TOPIC_PUT_SIZE, topic);
    count(pair, n, bytes);
    this.#brokerPut ??= this.#item(StatsName.BROKER_PUT_NUMS, this.brokerKey);
    this.#brokerPut!.value += n;
    this.#brokerPut!.times++;
  }

  /** Messages handed to a pull of `group`. One map lookup per pull answer (two the first time). */
  got(topic: string, group: string, n: number, bytes: number): void {
    let byGroup = this.#getPairs.get(topic);
    if (!byGroup) {
      byGroup = new Map();
      if (this.#getPairs.size < Limits.maxStatsKeys) this.#getPairs.set(topic, byGroup); // else counted uncached
    }
    const cached = byGroup.get(group);
    const pair = cached !== undefined ? cached : this.#pair(byGroup, StatsName.GROUP_GET_NUMS, StatsName.GROUP_GET_SIZE, `${topic}@${group}`, group);
    count(pair, n, bytes);
    this.#brokerGet ??= this.#item(StatsName.BROKER_GET_NUMS, this.brokerKey);
    this.#brokerGet!.value += n;
    this.#brokerGet!.times++;
  }

  /** The hot paths' shortcut to a key's count and size items (none past the key limit). */
  readonly #putPairs = new Map<string, [StatsItem, StatsItem] | null>();
  readonly #getPairs = new Map<string, Map<string, [StatsItem, StatsItem] | null>>();
  #brokerPut: StatsItem | undefined;
  #brokerGet: StatsItem | undefined;

  #pair(cache: Map<string, [StatsItem, StatsItem] | null>, nums: StatsNameValue, size: StatsNameValue, key: string, cacheKey = key): [StatsItem, StatsItem] | null {
    const a = this.#item(nums, key);
    const b = this.#item(size, key);
    const pair = a && b ? [a, b] as [StatsItem, StatsItem] : null;
    if (pair || cache.size < Limits.maxStatsKeys) cache.set(cacheKey, pair);
    return pair;
  }

  #item(name: StatsNameValue, key: string, now = Date.now()): StatsItem | undefined {
    const set = this.#sets.get(name)!;
    let item = set.get(key);
    if (!item && set.size < Limits.maxStatsKeys) set.set(key, item = new StatsItem(now));
    return item;
  }

  /** Upper bounds (seconds) of the send-latency histogram's buckets, Prometheus's defaults narrowed to a broker's range. */
  static readonly SEND_LATENCY_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;
  readonly #sendLatency = new Float64Array(BrokerStatsManager.SEND_LATENCY_BOUNDS.length + 1);
  #sendLatencySum = 0;

  /** A send's time from its request read to its answer (the metrics' histogram). */
  observeSend(seconds: number): void {
    const b = BrokerStatsManager.SEND_LATENCY_BOUNDS;
    let i = 0;
    while (i < b.length && seconds > b[i]) i++;
    this.#sendLatency[i]++;
    this.#sendLatencySum += seconds;
  }

  sendLatency(): { bounds: readonly number[]; counts: number[]; sum: number } {
    return { bounds: BrokerStatsManager.SEND_LATENCY_BOUNDS, counts: [...this.#sendLatency], sum: this.#sendLatencySum };
  }

  /** Every key's running total under `name` since the broker started (the metrics' counters). */
  totals(name: StatsNameValue): [string, number][] {
    return [...this.#sets.get(name)!].map(([k, item]) => [k, item.value]);
  }

  /** The last minute, hour and day of one item (VIEW_BROKER_STATS_DATA); undefined if never counted. */
  view(name: string, key: string, now = Date.now()): { statsMinute: StatsWindow; statsHour: StatsWindow; statsDay: StatsWindow } | undefined {
    const item = this.#sets.get(name)?.get(key);
    if (!item) return undefined;
    return { statsMinute: item.window(item.minute, now), statsHour: item.window(item.hour, now), statsDay: item.window(item.day, now) };
  }

  /** Messages a group got per second over the last minute, over its topics (GET_CONSUME_STATS's consumeTps). */
  groupTps(group: string, topics: string[], now = Date.now()): number {
    const set = this.#sets.get(StatsName.GROUP_GET_NUMS)!;
    let tps = 0;
    for (const t of topics) {
      const item = set.get(`${t}@${group}`);
      if (item) tps += item.window(item.minute, now).tps;
    }
    return tps;
  }

  /** RocketMQ's runtime-info figures: put and get TPS over 10 s, 1 min, 10 min; totals since start and at midnight. */
  runtimeInfo(now = Date.now()): Record<string, string> {
    const put = this.#sets.get(StatsName.BROKER_PUT_NUMS)!.get(this.brokerKey);
    const get = this.#sets.get(StatsName.BROKER_GET_NUMS)!.get(this.brokerKey);
    const tps = (item: StatsItem | undefined) => [10_000, 60_000, 600_000].map((ms) => (item?.tpsOver(ms, now) ?? 0).toFixed(4)).join(" ");
    return {
      putTps: tps(put),
      getTransferedTps: tps(get), // sic: RocketMQ's key
      msgPutTotalTodayNow: String(put?.value ?? 0),
      msgGetTotalTodayNow: String(get?.value ?? 0),
      msgPutTotalTodayMorning: String(this.#todayMorning.put),
      msgGetTotalTodayMorning: String(this.#todayMorning.get),
      msgPutTotalYesterdayMorning: String(this.#yesterdayMorning.put),
      msgGetTotalYesterdayMorning: String(this.#yesterdayMorning.get),
    };
  }

  /** Takes the samples that are due (called every Limits.statsSampleMs). */
  sample(now = Date.now()): void {
    const due = (last: number, every: number) => now - last >= every - 1_000;
    const minute = due(this.#lastSample.minute, 10_000);
    const hour = due(this.#lastSample.hour, 600_000);
    const day = due(this.#lastSample.day, 3_600_000);
    if (minute) this.#lastSample.minute = now;
    if (hour) this.#lastSample.hour = now;
    if (day) this.#lastSample.day = now;
    if (minute || hour || day) {
      for (const set of this.#sets.values()) {
        for (const item of set.values()) {
          if (minute) item.minute.push(now, item.value, item.times);
          if (hour) item.hour.push(now, item.value, item.times);
          if (day) item.day.push(now, item.value, item.times);
        }
      }
    }
    const today = startOfDay(now);
    if (today !== this.#dayStart) {
      this.#dayStart = today;
      this.#yesterdayMorning = this.#todayMorning;
      this.#todayMorning = {
        put: this.#sets.get(StatsName.BROKER_PUT_NUMS)!.get(this.brokerKey)?.value ?? 0,
        get: this.#sets.get(StatsName.BROKER_GET_NUMS)!.get(this.brokerKey)?.value ?? 0,
      };
    }
  }
}

function startOfDay(t: number): number {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
