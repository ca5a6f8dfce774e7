import { Producer, type SendResult } from "../client/producer.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
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
