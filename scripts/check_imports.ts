/**
 * Fails when an import breaks the dependency arrows of ../shared/DESIGN.md, when runtime APIs
 * (Bun.*, Deno.*, node:*, bun:*) are used outside src/platform/, when an unapproved npm package
 * is imported, when files import each other in a cycle (type-only imports included), or when
 * package.json and src/common/version.ts disagree on the version.
 * Usage: bun scripts/check_imports.ts   (exit 1 and one line per violation)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** Which layers each layer may import (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  platform: [],
  util: [],
  common: ["util"],
  protocol: ["common", "util"],
  remoting: ["protocol", "platform", "common", "util"],
  store: ["common", "util", "platform"],
  controller: ["remoting", "protocol", "common", "util", "platform"],
  namesrv: ["controller", "remoting", "protocol", "common", "util", "platform"],
  broker: ["store", "remoting", "protocol", "common", "util", "platform"],
  client: ["remoting", "protocol", "common", "util", "platform"],
  admin: ["client", "common", "util", "platform"],
  cli: ["namesrv", "controller", "broker", "client", "admin", "store", "remoting", "protocol", "common", "util", "platform"],
  // The client library entry: never the servers or the store.
  "mod.ts": ["client", "remoting", "protocol", "common", "util"],
  "cli.ts": ["cli"],
  // The admin endpoint as an edge module (a Fetch handler).
  "admin.ts": ["admin", "client", "platform"],
};

/** npm packages each layer may import. */
const PACKAGES: Record<string, readonly string[]> = {
  protocol: ["cbor-x"],
  // Node's HTTP server for a Fetch handler (Bun and Deno serve one natively).
  platform: ["@hono/node-server"],
  admin: ["hono"],
};

const IMPORT_RE = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const RUNTIME_GLOBAL_RE = /\b(Bun|Deno)\.[A-Za-z]/;

function layerOf(rel: string): string | undefined {
  if (rel === "mod.ts" || rel === "cli.ts" || rel === "admin.ts") return rel;
  const m = /^src\/([^/]+)\//.exec(rel);
  return m?.[1];
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** The project files `rel` imports (relative specifiers only), as paths relative to the root. */
export function localImports(rel: string, text: string): string[] {
  const out: string[] = [];
  for (const m of stripComments(text).matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith(".")) out.push(normalize(join(dirname(rel), spec)).replaceAll("\\", "/"));
  }
  return out;
}

/**
 * Every import cycle of `graph` (file → files it imports), each as the path that closes it,
 * e.g. ["a.ts", "b.ts", "a.ts"]. One cycle is reported per strongly connected group of files.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const inCycle = new Set<string>();
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      const st = state.get(g);
      if (st === "open") {
        const path = stack.slice(stack.indexOf(g));
        if (!path.some((x) => inCycle.has(x))) cycles.push([...path, g]);
        for (const x of path) inCycle.add(x);
      } else if (st === undefined) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

/** Returns the violations in one file, given its path relative to the project root. */
export function checkSource(rel: string, text: string): string[] {
  const layer = layerOf(rel);
  if (layer === undefined) return [];
  const problems: string[] = [];
  const code = stripComments(text);
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith("node:") || spec.startsWith("bun:")) {
      if (layer !== "platform") problems.push(`${rel}: imports ${spec}; runtime modules belong in src/platform/`);
      continue;
    }
    if (!spec.startsWith(".")) {
      // A package's subpath ("hono/cors") is the package's.
      const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (!(PACKAGES[layer] ?? []).includes(pkg)) {
        problems.push(`${rel}: imports package "${spec}", not approved for src/${layer}/ (see scripts/check_imports.ts)`);
      }
      continue;
    }
    const target = normalize(join(dirname(rel), spec)).replaceAll("\\", "/");
    const targetLayer = layerOf(target);
    if (targetLayer === undefined) {
      problems.push(`${rel}: imports ${spec}, outside src/`);
      continue;
    }
    if (targetLayer !== layer && !(ALLOWED[layer] ?? []).includes(targetLayer)) {
      problems.push(`${rel}: ${layer} must not import ${targetLayer} (${spec})`);
    }
  }
  if (layer !== "platform") {
    const lines = code.split("\n");
    lines.forEach((line, i) => {
      if (RUNTIME_GLOBAL_RE.test(line)) problems.push(`${rel}:${i + 1}: uses a runtime global (Bun.*/Deno.*) outside src/platform/`);
    });
  }
  return problems;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

function main(): void {
  const root = join(dirname(new URL(import.meta.url).pathname), "..");
  const files = [join(root, "mod.ts"), join(root, "cli.ts"), join(root, "admin.ts"), ...walk(join(root, "src"), [])];
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const rel = relative(root, f).replaceAll("\\", "/");
    const text = readFileSync(f, "utf8");
    problems.push(...checkSource(rel, text));
    graph.set(rel, localImports(rel, text));
  }
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.join(" → ")}`);
  const pkgVersion = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  const srcVersion = /VERSION = "([^"]+)"/.exec(readFileSync(join(root, "src/common/version.ts"), "utf8"))?.[1];
  if (pkgVersion !== srcVersion) problems.push(`package.json version ${pkgVersion} differs from src/common/version.ts ${srcVersion}`);
  for (const p of problems) console.error(p);
  console.log(`check_imports: ${files.length} files, ${problems.length} problems`);
  if (problems.length > 0) process.exit(1);
}

if (import.meta.main) main();
