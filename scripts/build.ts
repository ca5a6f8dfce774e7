/**
 * Builds the single binary dist/bolide with `bun build --compile` (the running Bun is the base,
 * so nothing is downloaded). Usage: bun scripts/build.ts [--outfile PATH]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(dirname(new URL(import.meta.url).pathname), "..");
const i = process.argv.indexOf("--outfile");
const outfile = i > 0 ? process.argv[i + 1] : join(root, "dist", "bolide");
mkdirSync(dirname(outfile), { recursive: true });
const started = Date.now();
const r = spawnSync(process.execPath, ["build", "--compile", "--minify", "--sourcemap", join(root, "cli.ts"), "--outfile", outfile], {
  cwd: root,
  stdio: ["ignore", "inherit", "inherit"],
});
if (r.status !== 0) {
  console.error(`build failed (exit ${r.status})`);
  process.exit(1);
}
console.log(`built ${outfile}: ${(statSync(outfile).size / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms`);
