/**
 * One test API for both lanes: bun:test on Bun, Deno.test on Deno. Test files import `test` and
 * `describe` from here and assert with node:assert, so the same file runs under `bun test` and
 * `deno test`.
 */
import process from "node:process";

type TestFn = () => unknown | Promise<unknown>;

export let test: (name: string, fn: TestFn, timeoutMs?: number) => void;
export let describe: (name: string, body: () => void) => void;
/** Registers a test that is reported as skipped. */
let skip: (name: string) => void;

const g = globalThis as Record<string, unknown>;
if (typeof g.Bun !== "undefined") {
  // A computed specifier keeps Deno's module graph from trying to resolve "bun:".
  const spec = "bun:test";
  const bun = await import(spec);
  test = (name, fn, timeoutMs = 30_000) => bun.test(name, fn, timeoutMs);
  describe = bun.describe;
  skip = (name) => bun.test.skip(name, () => {});
} else {
  const Deno = g.Deno as {
    test(t: { name: string; fn: TestFn; sanitizeOps: boolean; sanitizeResources: boolean; ignore?: boolean }): void;
  };
  const prefix: string[] = [];
  test = (name, fn) =>
    Deno.test({ name: [...prefix, name].join(" > "), fn, sanitizeOps: false, sanitizeResources: false });
  skip = (name) => Deno.test({ name: [...prefix, name].join(" > "), fn: () => {}, sanitizeOps: false, sanitizeResources: false, ignore: true });
  describe = (name, body) => {
    prefix.push(name);
    try {
      body();
    } finally {
      prefix.pop();
    }
  };
}

/** Something a test needs that a user's machine may lack (root, an etcd binary, a browser). */
export interface Prerequisite {
  /** What is needed and how to get it, e.g. "etcd (Debian: etcd-server)". */
  what: string;
  met: boolean;
}

/** The line `npm test` gathers above its closing line for every test skipped for a missing prerequisite. */
export const SKIP_MARK = "skipped for a missing prerequisite:";

/**
 * A test that runs only where `needs` is met. Elsewhere it is skipped, with one line saying
 * why; under CI=true a missing prerequisite is a failure instead, so CI always runs it.
 */
export function testNeeding(needs: Prerequisite, name: string, fn: TestFn, timeoutMs?: number): void {
  if (needs.met) return test(name, fn, timeoutMs);
  if (process.env.CI === "true") {
    return test(name, () => {
      throw new Error(`missing prerequisite under CI: ${needs.what}`);
    });
  }
  console.log(`${SKIP_MARK} "${name}" needs ${needs.what}`);
  skip(name);
}
