/**
 * What watching costs (issue #17): `bolide bench produce` (async, 256 in flight) and `bench
 * consume` against a fresh `bolide start`, alone and again with the dashboard open in headless
 * Chromium (the overview and a group page, polling every 2 s and 1 s) while a scraper reads
 * /metrics every 5 s. Runs alternate (none, watched, none, watched …); prints each pair and the
 * medians of the watched/none ratios. Needs Debian's chromium and playwright-core.
 *
 * Usage: bun scripts/bench/admin_overhead.ts [--pairs 4] [--secs 6]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { median } from "./_runs.ts";
import { freePort } from "./_ports.ts";

const { values } = parseArgs({ options: { pairs: { type: "string", default: "4" }, secs: { type: "string", default: "6" } } });
const PAIRS = Number(values.pairs);
const SECS = values.secs!;
const root = join(dirname(new URL(import.meta.url).pathname), "../..");
const cli = join(root, "cli.ts");

async function run(watched: boolean, round: number): Promise<{ produce: number; consume: number }> {
  const work = mkdtempSync(join(tmpdir(), "bolide-overhead-"));
  const out = join(work, "start.out");
  const adminPort = await freePort();
  const server = spawn(process.execPath, [cli, "start", "--data", join(work, "data"), "--namesrv-port", "0", "--broker-port", "0", "--admin-port", String(adminPort), "--log-level", "warn"], {
    stdio: ["ignore", openSync(out, "w"), "inherit"],
  });
  try {
    let ns = "";
    for (let i = 0; i < 200 && !ns; i++) {
      ns = /namesrv (\S+)/.exec(readFileSync(out, "utf8"))?.[1] ?? "";
      if (!ns) await new Promise((r) => setTimeout(r, 50));
    }
    // Asynchronously, so this process's scraper keeps its 5 s beat while a bench runs.
    const bench = (args: string[]) =>
      new Promise<number>((resolve) => {
        let stdout = "";
        const p = spawn(process.execPath, [cli, "bench", ...args, "--topic", "BenchTopic", "--namesrv", ns, "--duration", SECS], { stdio: ["ignore", "pipe", "ignore"] });
        p.stdout.on("data", (d) => stdout += d);
        p.on("exit", () => resolve(Number(/"msgPerSec":(\d+)/.exec(stdout)?.[1] ?? NaN)));
      });
    spawnSync(process.execPath, [cli, "topic", "create", "--topic", "BenchTopic", "--queues", "8", "--namesrv", ns]);
    const url = `http://127.0.0.1:${adminPort}`;
    const browser = watched ? await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] }) : undefined;
    let scraper: ReturnType<typeof setInterval> | undefined;
    if (browser) {
      await (await browser.newPage()).goto(`${url}/#/`);
      await (await browser.newPage()).goto(`${url}/#/group/bench-${round}`);
      scraper = setInterval(() => void fetch(`${url}/metrics`).then((r) => r.text()).catch(() => {}), 5_000);
    }
    const produce = await bench(["produce", "--mode", "async", "--inflight", "256"]);
    const consume = await bench(["consume", "--group", `bench-${round}`]);
    clearInterval(scraper);
    await browser?.close();
    return { produce, consume };
  } finally {
    server.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  }
}

const ratios = { produce: [] as number[], consume: [] as number[] };
for (let i = 0; i < PAIRS; i++) {
  const none = await run(false, i);
  const watched = await run(true, i);
  ratios.produce.push(watched.produce / none.produce);
  ratios.consume.push(watched.consume / none.consume);
  console.log(JSON.stringify({ pair: i, none, watched }));
}
const r3 = (x: number) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({ bench: "admin-overhead", pairs: PAIRS, produceRatioMedian: r3(median(ratios.produce)), consumeRatioMedian: r3(median(ratios.consume)), produceRatios: ratios.produce.map(r3), consumeRatios: ratios.consume.map(r3) }));
process.exit(0);
