/**
 * One test API for both lanes: bun:test on Bun, Deno.test on Deno. Test files import `test` and
 * `describe` from here and assert with node:assert, so the same file runs under `bun test` and
 * `deno test`.
 */
type TestFn = () => unknown | Promise<unknown>;

export let test: (name: string, fn: TestFn, timeoutMs?: number) => void;
export let describe: (name: string, body: () => void) => void;

const g = globalThis as Record<string, unknown>;
if (typeof g.Bun !== "undefined") {
  // A computed specifier keeps Deno's module graph from trying to resolve "bun:".
  const spec = "bun:test";
  const bun = await import(spec);
  test = (name, fn, timeoutMs = 30_000) => bun.test(name, fn, timeoutMs);
  describe = bun.describe;
} else {
  const Deno = g.Deno as {
    test(t: { name: string; fn: TestFn; sanitizeOps: boolean; sanitizeResources: boolean }): void;
  };
  const prefix: string[] = [];
  test = (name, fn) =>
    Deno.test({ name: [...prefix, name].join(" > "), fn, sanitizeOps: false, sanitizeResources: false });
  describe = (name, body) => {
    prefix.push(name);
    try {
      body();
    } finally {
      prefix.pop();
    }
  };
}
