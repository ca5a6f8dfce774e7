/**
 * The consumer's CPU per message as fixed work: one `bolide start` is filled once, then each
 * checkout's PullConsumer (and, with --push, PushConsumer) drains the same first N messages in
 * a fresh group, in turn (a, b, a, b …), and reports the CPU time of its consume phase alone
 * (process.cpuUsage, start-up excluded). Throughput rows swing by more than the few percent a
 * client change moves; this figure does not, as the broker and the data are the same for all.
 *
 * Usage: bun scripts/bench/consume_cpu.ts [--dirs OLD,NEW] [--rounds 8] [--messages 200000] [--push]
 * Each dir is a checkout with node_modules (default: this one). Prints one JSON line per run
 * and a summary: median µs per message per dir and the median of the pairwise ratios to the first.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./_runs.ts";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const { values } = parseArgs({
  options: {
    dirs: { type: "string" },
    rounds: { type: "string", default: "8" },
    messages: { type: "string", default: "200000" },
    push: { type: "boolean", default: false },
    child: { type: "string" },
    namesrv: { type: "string" },
  },
});
const N = Number(values.messages);
const TOPIC = "ConsumeCpuTopic";

if (values.child) {
  // One consumer of the checkout at `--child`: drains N messages, prints its consume-phase CPU.
  const dir = values.child;
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const group = `consume-cpu-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  let got = 0;
  let t0 = 0;
  if (values.push) {
    const { PushConsumer } = await import(join(dir, "src/client/push_consumer.ts"));
    const c = new PushConsumer({ namesrvAddr: values.namesrv, group, consumeFromWhere: "first" });
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    c.subscribe(TOPIC).registerMessageListener((msgs: unknown[]) => {
      got += msgs.length;
      if (got >= N) done();
    });
    t0 = cpuMs();
    await c.start();
    const ticker = setInterval(() => console.error(`${dir}: ${got} of ${N}`), 2000);
    await finished;
    clearInterval(ticker);
    const cpu = cpuMs() - t0;
    console.log(JSON.stringify({ dir, kind: "push", messages: got, usPerMsg: Math.round(cpu * 1000 / got * 1000) / 1000 }));
    await c.shutdown();
  } else {
    const { PullConsumer } = await import(join(dir, "src/client/pull_consumer.ts"));
    const c = new PullConsumer({ namesrvAddr: values.namesrv, group, consumeFromWhere: "first", pullBatchSize: 256 });
    await c.subscribe(TOPIC);
    t0 = cpuMs();
    while (got < N) {
      const msgs = await c.poll(2000, 4096);
      if (msgs.length === 0) throw new Error(`the topic ran dry after ${got} of ${N} messages`);
      got += msgs.length;
    }
    const cpu = cpuMs() - t0;
    console.log(JSON.stringify({ dir, kind: "pull", messages: got, usPerMsg: Math.round(cpu * 1000 / got * 1000) / 1000 }));
    await c.shutdown();
  }
  process.exit(0);
}

const dirs = (values.dirs ?? root).split(",").map((d) => resolve(d));
const bun = join(root, "node_modules/.bin/bun");
const work = mkdtempSync(join(tmpdir(), "bolide-consume-cpu-"));
const out = join(work, "bolide.out");
const server = spawn(bun, [join(root, "cli.ts"), "start", "--data", join(work, "data"), "--namesrv-port", "0", "--broker-port", "0", "--admin-port", "0", "--log-level", "warn"], {
  stdio: ["ignore", openSync(out, "w"), "inherit"],
});
process.on("exit", () => server.kill("SIGKILL"));
try {
  for (let i = 0; i < 200 && !/namesrv (\S+)/.test(readFileSync(out, "utf8")); i++) await new Promise((r) => setTimeout(r, 50));
  const namesrv = /namesrv (\S+)/.exec(readFileSync(out, "utf8"))?.[1];
  if (!namesrv) throw new Error("bolide start printed no address");
  const cli = (args: string[]) => spawnSync(bun, [join(root, "cli.ts"), ...args, "--namesrv", namesrv], { encoding: "utf8", timeout: 120_000 });
  const created = cli(["topic", "create", "--topic", TOPIC, "--queues", "8"]);
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  // Fill at least N (plus a margin, as a push consumer may count a batch past N).
  for (let sent = 0; sent < N * 1.1;) {
    const r = cli(["bench", "produce", "--topic", TOPIC, "--mode", "async", "--inflight", "256", "--duration", "4"]);
    const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
    if (!line) throw new Error(`produce printed nothing: ${r.stderr.slice(-400)}`);
    sent += Number(JSON.parse(line).sent);
  }
  const kinds = values.push ? ["pull", "push"] : ["pull"];
  const rows: Record<string, number[]> = {};
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kind of kinds) {
      for (const dir of dirs) {
        const args = [join(root, "scripts/bench/consume_cpu.ts"), "--child", dir, "--namesrv", namesrv, "--messages", String(N), ...(kind === "push" ? ["--push"] : [])];
        const r = spawnSync(bun, args, { encoding: "utf8", timeout: 300_000 });
        const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
        if (!line) throw new Error(`${dir} ${kind}: no result: ${r.stderr.slice(-400)}`);
        console.log(line);
        (rows[`${kind} ${dir}`] ??= []).push(JSON.parse(line).usPerMsg);
      }
    }
  }
  const summary: Record<string, { usPerMsg: number; ratioToFirst: number }> = {};
  for (const kind of kinds) {
    const base = rows[`${kind} ${dirs[0]}`];
    for (const dir of dirs) {
      const xs = rows[`${kind} ${dir}`];
      summary[`${kind} ${dir}`] = { usPerMsg: median(xs), ratioToFirst: Math.round(median(xs.map((x, i) => x / base[i])) * 1000) / 1000 };
    }
  }
  console.log(JSON.stringify({ bench: "consume-cpu", messages: N, rounds: Number(values.rounds), summary }, null, 1));
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  rmSync(work, { recursive: true, force: true });
}
