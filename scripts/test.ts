/**
 * `npm test`: the checks, the build, then the Bun lane (every test) and the Deno lane (protocol,
 * remoting and NameServer tests). Ends with one line "N passed, M failed, K skipped" over
 * everything, with one line above it per test skipped for a missing prerequisite (say why), and
 * exits non-zero if anything failed. Each check counts as one test.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";

const root = join(dirname(new URL(import.meta.url).pathname), "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

/**
 * The tests of the unmodified ali-ons client run in a Bun process of their own: ali-ons keeps
 * timers and connections after close() and, in loaded runs, leaks an uncaught error once its
 * servers are gone, which Bun pins on whatever test runs then (three loaded full-suite runs
 * failed so; the file alone never did). Everything else runs in the main Bun lane.
 */
const OWN_PROCESS = ["./test/compat/ali_ons.test.ts"];
const BUN_LANE = ["./test/unit", "./test/integration", "./test/e2e", "./test/compat/json_requests.test.ts"];

/** Tests that also run under Deno: everything that does not need a child process of the Bun binary. */
const DENO_LANE = ["test/unit"];

interface Step {
  name: string;
  cmd: string;
  args: string[];
  /** Reads passed/failed counts from the output; a check without one counts as one test. */
  count?: (out: string) => Counts | undefined;
}

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** What test/harness/testing.ts prints for a test skipped for a missing prerequisite. */
const SKIP_MARK = "skipped for a missing prerequisite:";

const bunCounts = (out: string) => {
  const p = /^\s*(\d+) pass\s*$/m.exec(out);
  const f = /^\s*(\d+) fail\s*$/m.exec(out);
  const k = /^\s*(\d+) skip\s*$/m.exec(out);
  return p && f ? { passed: Number(p[1]), failed: Number(f[1]), skipped: Number(k?.[1] ?? 0) } : undefined;
};

const denoCounts = (out: string) => {
  // "ok | 37 passed | 0 failed (1s)" or "FAILED | 36 passed | 1 failed (1s)", with colour codes.
  const plain = out.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
  const m = /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/.exec(plain);
  return m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } : undefined;
};

const steps: Step[] = [
  { name: "check imports", cmd: bin("bun"), args: ["scripts/check_imports.ts"] },
  { name: "deno check", cmd: bin("deno"), args: ["check", "mod.ts", "cli.ts", "admin.ts"] },
  { name: "deno lint", cmd: bin("deno"), args: ["lint", "src", "mod.ts", "cli.ts", "admin.ts", "scripts"] },
  { name: "build dist/bolide", cmd: bin("bun"), args: ["scripts/build.ts"] },
  { name: "bun lane", cmd: bin("bun"), args: ["test", ...BUN_LANE], count: bunCounts },
  { name: "ali-ons lane", cmd: bin("bun"), args: ["test", ...OWN_PROCESS], count: bunCounts },
  { name: "deno lane", cmd: bin("deno"), args: ["test", "-A", "--no-check", ...DENO_LANE], count: denoCounts },
];

function run(step: Step): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(step.cmd, step.args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    const take = (d: Buffer, to: NodeJS.WriteStream) => {
      const s = d.toString();
      out += s;
      to.write(s);
    };
    child.stdout.on("data", (d) => take(d, process.stdout));
    child.stderr.on("data", (d) => take(d, process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
const summary: string[] = [];
const skipReasons = new Set<string>();
/** Names of the tests that failed, repeated at the end: CI keeps only the output's tail. */
const failures: string[] = [];
// Bun: "(fail) suite > name [12.00ms]"; Deno: "suite > name ... FAILED (12ms)".
const FAILED_LINE = /^\s*\(fail\) .*$|^.* \.\.\. FAILED.*$/;
for (const step of steps) {
  const started = Date.now();
  console.log(`\n=== ${step.name}: ${[step.cmd.replace(root + "/", ""), ...step.args].join(" ")}`);
  const { code, out } = await run(step);
  const counted = step.count?.(out);
  let p = counted?.passed ?? (code === 0 ? 1 : 0);
  let f = counted?.failed ?? (code === 0 ? 0 : 1);
  // A runner that crashed or exited non-zero without reporting a failure still failed.
  if (code !== 0 && f === 0) f = 1;
  if (step.count && !counted && code === 0) {
    p = 0;
    f = 1;
  }
  const k = counted?.skipped ?? 0;
  passed += p;
  failed += f;
  skipped += k;
  for (const line of out.split("\n")) if (FAILED_LINE.test(line)) failures.push(`${step.name}: ${line.trim()}`);
  for (const line of out.split("\n")) if (line.includes(SKIP_MARK)) skipReasons.add(`${step.name}: ${line.slice(line.indexOf(SKIP_MARK)).trim()}`);
  summary.push(`${step.name}: ${p} passed, ${f} failed, ${k} skipped (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
console.log("\n" + summary.join("\n"));
for (const reason of skipReasons) console.log(reason);
for (const failure of new Set(failures)) console.log(`failed: ${failure}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
