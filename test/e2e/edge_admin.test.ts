import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { Child, runtimeBinary } from "../harness/process.ts";
import { waitFor } from "../harness/wait.ts";
import { freePort } from "../../scripts/bench/_ports.ts";

const ROOT = join(import.meta.dirname, "../..");
const ENTRY = join(ROOT, "admin.ts");

/** The two runtimes that serve a module's default `{ fetch }` themselves, as edge platforms do. */
const RUNTIMES: Record<string, (port: number) => [string, string[]]> = {
  "deno serve": (port) => [join(ROOT, "node_modules/.bin/deno"), ["serve", "-A", "--host", "127.0.0.1", "--port", String(port), ENTRY]],
  bun: () => [runtimeBinary(), [ENTRY]],
};

describe("admin.ts, the admin endpoint as an edge module (a default { fetch })", () => {
  for (const [name, command] of Object.entries(RUNTIMES)) {
    test(`under ${name}: reaches the cluster over TCP; every route needs the token`, async () => {
      await using c = await startCluster({ topics: { Edge: 2 } });
      const port = await freePort();
      const [cmd, args] = command(port);
      await using server = new Child(cmd, args, { BOLIDE_NAMESRV: c.namesrvAddr, BOLIDE_ADMIN_TOKEN: "edge-t0ken", PORT: String(port) });
      const url = `http://127.0.0.1:${port}`;
      const topics = await waitFor(async () => {
        const r = await fetch(`${url}/api/topics`, { headers: { authorization: "Bearer edge-t0ken" } }).catch(() => undefined);
        return r?.ok ? await r.json() as string[] : undefined;
      }, { timeoutMs: 20_000, what: `${name} serving admin.ts` });
      assert.ok(topics.includes("Edge"));
      assert.equal((await fetch(`${url}/api/topics`)).status, 401, "reads need the token at the edge");
      const made = await fetch(`${url}/api/topics`, {
        method: "POST",
        headers: { authorization: "Bearer edge-t0ken", "content-type": "application/json" },
        body: JSON.stringify({ topic: "MadeAtTheEdge", queues: 1 }),
      });
      assert.equal(made.status, 201, await made.text());
      assert.ok((await c.ns.routes.topicList()).includes("MadeAtTheEdge"));
      server.kill("SIGTERM");
    });
  }
});
