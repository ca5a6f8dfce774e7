import { Producer, type SendResult } from "../client/producer.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
import { PushConsumer } from "../client/push_consumer.ts";
import { printLine } from "../platform/runtime.ts";
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
  if (sub === "consume" && values.push && values.rate !== undefined) return await pushLatency(values, namesrv, topic, duration);
  if (sub === "consume" && values.push) return await pushConsume(values, namesrv, topic, duration);
  if (sub === "consume") return await consume(values, namesrv, topic, duration);
  throw new UsageError(`"bench" takes produce or consume, got "${sub ?? ""}"`);
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
  printLine(JSON.stringify({ bench: "produce", mode, inflight, size, msgPerSec: Math.round(sent / secs), p50Us: lat.percentile(0.5), p99Us: lat.percentile(0.99), sent, failed }));
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
