import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { checkSource, findCycles, localImports } from "../../scripts/check_imports.ts";

describe("scripts/check_imports.ts", () => {
  test("flags imports against the design's arrows and runtime APIs outside src/platform/", () => {
    assert.deepEqual(checkSource("src/protocol/x.ts", 'import { a } from "../common/errors.ts";'), []);
    assert.match(checkSource("src/store/x.ts", 'import { a } from "../remoting/remoting_client.ts";')[0], /store must not import remoting/);
    assert.match(checkSource("src/client/x.ts", 'import type { B } from "../broker/b.ts";')[0], /client must not import broker/);
    assert.match(checkSource("mod.ts", 'export { NameServer } from "./src/namesrv/name_server.ts";')[0], /mod\.ts must not import namesrv/);
    assert.match(checkSource("src/remoting/x.ts", 'import net from "node:net";')[0], /runtime modules belong in src\/platform/);
    assert.match(checkSource("src/common/x.ts", "const f = Deno.openSync;")[0], /runtime global/);
    assert.deepEqual(checkSource("src/common/x.ts", "// Deno.openSync is mentioned in a comment only"), []);
    assert.match(checkSource("src/namesrv/x.ts", 'import { z } from "zod";')[0], /not approved/);
    assert.deepEqual(checkSource("src/platform/x.ts", 'import net from "node:net";\nDeno.listen({port: 0});'), []);
  });

  test("finds import cycles, type-only imports included, one per group of files", () => {
    const graphOf = (files: Record<string, string>) => new Map(Object.entries(files).map(([f, text]) => [f, localImports(f, text)]));
    const acyclic = graphOf({
      "src/platform/tcp.ts": 'import { a } from "./tcp_conn.ts";\nimport { b } from "./tcp_node.ts";',
      "src/platform/tcp_node.ts": 'import type { T } from "./tcp_conn.ts";',
      "src/platform/tcp_conn.ts": "export const x = 1;",
    });
    assert.deepEqual(findCycles(acyclic), []);
    const cyclic = graphOf({
      "src/platform/tcp.ts": 'import { b } from "./tcp_node.ts";',
      "src/platform/tcp_node.ts": 'import type { T } from "./tcp.ts";',
      "src/a/x.ts": 'import { y } from "../b/y.ts";',
      "src/b/y.ts": 'import { z } from "./z.ts";',
      "src/b/z.ts": 'export { x } from "../a/x.ts";',
    });
    assert.deepEqual(findCycles(cyclic), [
      ["src/a/x.ts", "src/b/y.ts", "src/b/z.ts", "src/a/x.ts"],
      ["src/platform/tcp.ts", "src/platform/tcp_node.ts", "src/platform/tcp.ts"],
    ]);
  });
});
