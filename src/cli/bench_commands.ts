import { Producer, type SendResult } from "../client/producer.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
import { PushConsumer } from "../client/push_consumer.ts";
import { printLine } from "../platform/runtime.ts";
import { Admin } from "../client/admin.ts";
import { MASTER_ID } from "../common/route.ts";
import { intOption, UsageError } from "./server_commands.ts";

type Values = Record<string, unknown>;

/** Latency samples, bounded: past `max` a reservoir keeps a uniform sample. */
class Latencies {
  readonly #s: number[] = [];
  #n = 0;
  constructor(private readonly max = 1_000_000) {}
  add(us: number): void {
    this.#n++;
    if (this.#s.length < this.max) this.#s.push(us);
    else {
      const i = Math.floor(Math.random() * this.#n);
      if (i < this.max) this.#s[i] = us;
    }
  }
  percentile(p: number): number {
    if (this.#s.length === 0) return 0;
    const sorted = [...this.#s].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
  }
}

/**
 * `bolide bench produce|consume`, like RocketMQ's benchmark tool: live rate and latency once a
 * second on stderr, then one JSON summary line on stdout.
 */
export async function runBench(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  const topic = (values.topic as string | undefined) ?? "BenchmarkTest";
  const duration = intOption(values.duration as string | undefined, "duration", 10, 1, 3600);
  if (sub === "produce") return await produce(values, namesrv, topic, duration);
  if (sub === "timer") return await timerBench(values, namesrv, topic, duration);
  if (sub === "consume" && values.push && values.rate !== undefined) return await pushLatency(values, namesrv, topic, duration);
  if (sub === "consume" && values.push) return await pushConsume(values, namesrv, topic, duration);
  if (sub === "consume") return await consume(values, namesrv, topic, duration);
  throw new UsageError(`"bench" takes produce, consume or timer, got "${sub ?? ""}"`);
}

async function produce(values: Values, namesrv: string, topic: string, duration: number): Promise<void> {
  const size = intOption(values.size as string | undefined, "size", 1024, 1, 4 * 1024 * 1024);
  const inflight = intOption(values.inflight as string | undefined, "inflight", 1, 1, 100_000);
  const mode = (values.mode as string | undefined) ?? "sync";
  if (mode !== "sync" && mode !== "async") throw new UsageError(`--mode must be sync or async, got "${mode}"`);
  const producer = new Producer({ namesrvAddr: namesrv, group: "bolide-bench-producer", compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER });
  await producer.start();
  const body = new Uint8Array(size).fill(97);
  await producer.send({ topic, body }); // route lookup and connection before timing
  const lat = new Latencies();
  let sent = 0;
  let failed = 0;
  /** Stored, but not with SEND_OK (FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE). */
  let notOk = 0;
  let lastSent = 0;
  const start = performance.now();
  const end = start + duration * 1000;
  let second = new Latencies(10_000);
  const ticker = setInterval(() => {
    console.error(`produce: ${sent - lastSent} msg/s, p50 ${second.percentile(0.5)} µs, p99 ${second.percentile(0.99)} µs, failed ${failed}`);
    lastSent = sent;
    second = new Latencies(10_000);
  }, 1000);
  const one = (): Promise<SendResult | void> => {
    const t0 = performance.now();
    const done = (r: SendResult | void) => {
      const us = (performance.now() - t0) * 1000;
      lat.add(us);
      second.add(us);
      sent++;
      if (r && r.status !== "SEND_OK") notOk++;
      return r;
    };
    if (mode === "sync") return producer.send({ topic, body }).then(done, () => void failed++);
    return new Promise((resolve) => {
      producer.send({ topic, body }, { onSuccess: (r) => resolve(done(r)), onException: () => resolve(void failed++) });
    });
  };
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (performance.now() < end) await one();
  }));
  clearInterval(ticker);
  const secs = (performance.now() - start) / 1000;
  printLine(JSON.stringify({ bench: "produce", mode, inflight, size, msgPerSec: Math.round(sent / secs), p50Us: lat.percentile(0.5), p99Us: lat.percentile(0.99), sent, failed, notSendOk: notOk }));
  await producer.shutdown();
}

async function consume(values: Values, namesrv: string, topic: string, duration: number): Promise<void> {
  const group = (values.group as string | undefined) ?? `bolide-bench-${Date.now()}`;
  const consumer = new PullConsumer({ namesrvAddr: namesrv, group, consumeFromWhere: "first", pullBatchSize: 256 });
  await consumer.subscribe(topic);
  let got = 0;
  let last = 0;
  let idleSince = performance.now();
  const start = performance.now();
  const end = start + duration * 1000;
  const ticker = setInterval(() => {
    console.error(`consume: ${got - last} msg/s`);
    last = got;
  }, 1000);
  let lastMessage = start;
  while (performance.now() < end) {
    const msgs = await consumer.poll(500, 4096);
    if (msgs.length === 0) {
      if (performance.now() - idleSince > 1000) break; // drained
      continue;
    }
    got += msgs.length;
    lastMessage = performance.now();
    idleSince = lastMessage;
  }
  clearInterval(ticker);
  const secs = (lastMessage - start) / 1000;
  await consumer.commit().catch(() => {});
  printLine(JSON.stringify({ bench: "consume", msgPerSec: Math.round(got / Math.max(secs, 0.001)), messages: got, secs: Math.round(secs * 1000) / 1000 }));
  await consumer.shutdown();
}

/** Drains the topic through a PushConsumer with a no-op listener (default settings); msg/s until idle. */
async function pushConsume(values: Values, namesrv: string, topic: string, duration: number): Promise<void> {
  const group = (values.group as string | undefined) ?? `bolide-bench-push-${Date.now()}`;
  let got = 0;
  let last = 0;
  let first = 0;
  let lastMessage = 0;
  const consumer = new PushConsumer({ namesrvAddr: namesrv, group, consumeFromWhere: "first" });
  consumer.subscribe(topic).registerMessageListener((msgs) => {
    if (got === 0) first = performance.now();
    got += msgs.length;
    lastMessage = performance.now();
  });
  const start = performance.now();
  await consumer.start();
  const ticker = setInterval(() => {
    console.error(`consume --push: ${got - last} msg/s`);
    last = got;
  }, 1000);
  const end = start + duration * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = performance.now();
    if (now > end || (got > 0 && now - lastMessage > 1000)) break;
  }
  clearInterval(ticker);
  const secs = (lastMessage - start) / 1000;
  printLine(JSON.stringify({
    bench: "consume-push",
    msgPerSec: Math.round(got / Math.max(secs, 0.001)),
    messages: got,
    secs: Math.round(secs * 1000) / 1000,
    firstMessageMs: Math.round(first - start),
  }));
  await consumer.shutdown();
}

/**
 * End-to-end latency through a push consumer at a fixed rate: a producer in this process sends
 * `--rate` msg/s (ASYNC, paced every millisecond), each body starting with its send time; the
 * no-op listener records now − send time. Both clocks are this process's, so no skew. The first
 * `--warmup` seconds (default 3) run at the same rate but are reported apart: in them the JIT
 * compiles the hot paths of both processes and the heaps grow, which costs ~10x the steady
 * state's tail (see docs/benchmarks.md).
 */
async function pushLatency(values: Values, namesrv: string, topic: string, duration: number): Promise<void> {
  const rate = intOption(values.rate as string | undefined, "rate", 10_000, 1, 1_000_000);
  const size = intOption(values.size as string | undefined, "size", 1024, 8, 4 * 1024 * 1024);
  const warmup = intOption(values.warmup as string | undefined, "warmup", 3, 0, 600);
  const lat = new Latencies();
  const warm = new Latencies();
  let got = 0;
  let warmGot = 0;
  let firstArrived = false;
  /** Messages born before this count toward the warm-up, whenever they arrive. */
  let measureFrom = Infinity;
  const consumer = new PushConsumer({ namesrvAddr: namesrv, group: `bolide-bench-latency-${Date.now()}`, consumeFromWhere: "last" });
  consumer.subscribe(topic).registerMessageListener((msgs) => {
    const now = performance.now();
    for (const m of msgs) {
      if (m.body.byteLength < 8) {
        firstArrived = true; // the first message, sent before any timing
        continue;
      }
      const born = new DataView(m.body.buffer, m.body.byteOffset, 8).getFloat64(0);
      if (born >= measureFrom) {
        lat.add((now - born) * 1000);
        got++;
      } else {
        warm.add((now - born) * 1000);
        warmGot++;
      }
    }
  });
  await consumer.start();
  const producer = new Producer({ namesrvAddr: namesrv, group: "bolide-bench-producer", compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER });
  await producer.start();
  // Routes and connections first; the first message is not counted.
  await producer.send({ topic, body: new Uint8Array(1) });
  const firstUntil = performance.now() + 2000;
  while (!firstArrived && performance.now() < firstUntil) await new Promise((r) => setTimeout(r, 10));
  let sent = 0;
  let failed = 0;
  /** Sends at `rate` for `secs`; resolves when the last is sent. */
  const paced = (secs: number) =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const end = start + secs * 1000;
      let mine = 0;
      const tick = setInterval(() => {
        const now = performance.now();
        if (now >= end) {
          clearInterval(tick);
          resolve();
          return;
        }
        const due = Math.floor(((now - start) / 1000) * rate);
        while (mine < due) {
          const body = new Uint8Array(size);
          new DataView(body.buffer).setFloat64(0, performance.now());
          mine++;
          sent++;
          producer.send({ topic, body }, { onSuccess: () => {}, onException: () => void failed++ });
        }
      }, 1);
    });
  await paced(warmup);
  measureFrom = performance.now();
  const warmSent = sent - failed;
  sent = 0;
  failed = 0;
  await paced(duration);
  const deadline = performance.now() + 5000;
  while (got < sent - failed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  printLine(JSON.stringify({
    bench: "consume-push-latency",
    rate,
    size,
    sent,
    received: got,
    failed,
    achievedRate: Math.round(sent / duration),
    p50Us: lat.percentile(0.5),
    p99Us: lat.percentile(0.99),
    p999Us: lat.percentile(0.999),
    maxUs: lat.percentile(1),
    warmupSecs: warmup,
    warmupSent: warmSent,
    warmupReceived: warmGot,
    warmupP99Us: warm.percentile(0.99),
  }));
  await producer.shutdown();
  await consumer.shutdown();
}

/** The broker's runtime info (first master of the topic), for RSS and pending timers. */
async function brokerRuntime(namesrv: string, topic: string): Promise<Record<string, string>> {
  await using admin = new Admin({ namesrvAddr: namesrv });
  const route = await admin.topicRoute(topic);
  const addr = route.brokerDatas.map((b) => b.brokerAddrs[String(MASTER_ID)]).find(Boolean);
  if (!addr) throw new UsageError(`no master broker serves ${topic}`);
  return await admin.brokerRuntimeInfo(addr, 5000);
}

/**
 * `bolide bench timer`: timers at `--rate` per second for `--duration` s, each due `--delay-ms`
 * after it is sent, so they also fall due at that rate; a push consumer records how late each
 * arrives (listener time − due) and how late the broker stored it for delivery (store time −
 * due). Then, with `--pending N`, N more timers due an hour out are scheduled as fast as the
 * producer goes, and the broker's RSS is read before and after (they stay pending: use a
 * broker you will throw away).
 */
async function timerBench(values: Values, namesrv: string, topic: string, duration: number): Promise<void> {
  const rate = intOption(values.rate as string | undefined, "rate", 10_000, 1, 1_000_000);
  const delayMs = intOption(values["delay-ms"] as string | undefined, "delay-ms", 3_000, 100, 3_600_000);
  const pendingN = intOption(values.pending as string | undefined, "pending", 0, 0, 100_000_000);
  const size = intOption(values.size as string | undefined, "size", 64, 16, 1024 * 1024);
  const producer = new Producer({ namesrvAddr: namesrv, group: "bolide-bench-timer", compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER });
  await producer.start();
  await producer.send({ topic, body: new Uint8Array(1) }); // route and connection first
  const arrival = new Latencies();
  const stored = new Latencies();
  let got = 0;
  const consumer = new PushConsumer({ namesrvAddr: namesrv, group: `bolide-bench-timer-${Date.now()}`, consumeFromWhere: "last", consumeMessageBatchMaxSize: 32 });
  consumer.subscribe(topic).registerMessageListener((msgs) => {
    const now = Date.now();
    for (const m of msgs) {
      if (m.body.byteLength < 16) continue;
      const due = new DataView(m.body.buffer, m.body.byteOffset, 8).getFloat64(0);
      arrival.add((now - due) * 1000);
      stored.add((m.storeTimestamp - due) * 1000);
      got++;
    }
  });
  await consumer.start();
  const idle = await brokerRuntime(namesrv, topic);
  let sent = 0;
  let failed = 0;
  let inflight = 0;
  const start = Date.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = Date.now();
      if (now - start >= duration * 1000) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor(((now - start) / 1000) * rate);
      while (sent < due && inflight < 10_000) {
        const body = new Uint8Array(size);
        const at = Date.now() + delayMs;
        new DataView(body.buffer).setFloat64(0, at);
        sent++;
        inflight++;
        producer.send({ topic, body, deliverAt: at }, { onSuccess: () => void inflight--, onException: () => void (inflight--, failed++) });
      }
    }, 1);
  });
  const scheduledPerSec = Math.round(sent / ((Date.now() - start) / 1000));
  const waitUntil = Date.now() + delayMs + 10_000;
  while (got < sent - failed && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
  const out: Record<string, unknown> = {
    bench: "timer",
    rate,
    delayMs,
    scheduled: sent,
    scheduledPerSec,
    failed,
    delivered: got,
    lateP50Ms: Math.round(arrival.percentile(0.5) / 100) / 10,
    lateP99Ms: Math.round(arrival.percentile(0.99) / 100) / 10,
    lateMaxMs: Math.round(arrival.percentile(1) / 100) / 10,
    storedLateP99Ms: Math.round(stored.percentile(0.99) / 100) / 10,
  };
  await consumer.shutdown();
  if (pendingN > 0) {
    const before = await brokerRuntime(namesrv, topic);
    const t0 = Date.now();
    let done = 0;
    let errors = 0;
    const body = new Uint8Array(size);
    await new Promise<void>((resolve) => {
      let issued = 0;
      const pump = () => {
        while (issued < pendingN && issued - done < 2_048) {
          issued++;
          producer.send({ topic, body, deliverAt: t0 + 3_600_000 + (issued % 600_000) }, {
            onSuccess: () => void (++done === pendingN && resolve()),
            onException: () => void (errors++, ++done === pendingN && resolve()),
          });
        }
        if (issued < pendingN) setTimeout(pump, 1);
      };
      pump();
    });
    const pendingPerSec = Math.round(pendingN / ((Date.now() - t0) / 1000));
    let after = await brokerRuntime(namesrv, topic);
    const until = Date.now() + 30_000;
    while (Number(after.timersPending) < pendingN - errors && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      after = await brokerRuntime(namesrv, topic);
    }
    const mb = (t: Record<string, string>) => Math.round(Number(t.rssBytes) / 1e6);
    Object.assign(out, {
      pendingScheduled: pendingN - errors,
      pendingScheduledPerSec: pendingPerSec,
      timersPending: Number(after.timersPending),
      brokerRssIdleMb: mb(idle),
      brokerRssBeforeMb: mb(before),
      brokerRssWithPendingMb: mb(after),
      rssAboveIdleMb: mb(after) - mb(idle),
    });
  }
  printLine(JSON.stringify(out));
  await producer.shutdown();
}
