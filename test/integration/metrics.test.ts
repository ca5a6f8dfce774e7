import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test, testNeeding } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { createAdminApp } from "../../src/admin/app.ts";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { histogramSamples, prometheusText } from "../../src/util/prometheus_text.ts";

interface Parsed {
  name: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/**
 * Parses exposition text with the Prometheus project's own Python client (Debian's
 * python3-prometheus-client, which .ci/run installs): what a scraper would read.
 */
function parse(text: string): Parsed[] {
  const script = [
    "import json, sys",
    "from prometheus_client.parser import text_string_to_metric_families as parse",
    "out = [{'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]} for f in parse(sys.stdin.read())]",
    "print(json.dumps(out))",
  ].join("\n");
  const r = spawnSync("/usr/bin/python3", ["-c", script], { input: text, encoding: "utf8" });
  assert.equal(r.status, 0, `the Prometheus parser refused the text: ${r.stderr}`);
  return JSON.parse(r.stdout.replace(/\bInfinity\b/g, "1e999").replace(/\bNaN\b/g, "null"));
}

const value = (fams: Parsed[], sample: string, labels: Record<string, string> = {}) =>
  fams.flatMap((f) => f.samples).filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

/** The Prometheus project's Python client, as Debian ships it. */
const PARSER = { what: "Prometheus's Python parser (Debian: python3-prometheus-client)", met: spawnSync("/usr/bin/python3", ["-c", "import prometheus_client"]).status === 0 };

describe("/metrics (Prometheus text exposition)", () => {
  testNeeding(PARSER, "a broker's and a NameServer's figures, as Prometheus's own parser reads them", async () => {
    await using c = await startCluster({ topics: { Metered: 2 } });
    for (let i = 0; i < 10; i++) await c.producer.send({ topic: "Metered", body: `m${i}` });
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "MeteredG", consumeFromWhere: "first" }));
    await reader.subscribe("Metered");
    let read = 0;
    await waitFor(async () => (read += (await reader.poll(200)).length) >= 10, { timeoutMs: 10_000, what: "10 read" });
    await reader.commit();
    for (let i = 0; i < 3; i++) await c.producer.send({ topic: "Metered", body: `late${i}` }); // not read: the group's lag

    const fams = parse(prometheusText([...c.broker.metricFamilies(), ...c.ns.metricFamilies()]));
    const broker = c.broker.config.brokerName;
    assert.equal(fams.find((f) => f.name === "bolide_messages_in")?.type, "counter");
    assert.equal(value(fams, "bolide_messages_in_total", { topic: "Metered", broker }), 13);
    assert.equal(value(fams, "bolide_messages_out_total", { topic: "Metered", group: "MeteredG" }), 10);
    assert.equal(value(fams, "bolide_consumer_lag_messages", { topic: "Metered", group: "MeteredG" }), 3);
    const sends = value(fams, "bolide_send_duration_seconds_count");
    assert.ok(sends >= 13, `send count ${sends}`);
    assert.equal(value(fams, "bolide_send_duration_seconds_bucket", { le: "+Inf" }), sends);
    assert.ok(value(fams, "bolide_commitlog_bytes") > 0);
    assert.equal(value(fams, "bolide_namesrv_brokers"), 1);
    assert.ok(value(fams, "process_resident_memory_bytes") > 1e6);

    // Served by the admin app, under the same access rules as reads.
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const text = () => prometheusText(c.broker.metricFamilies());
    const r = await createAdminApp({ admin, metrics: text }).request("/metrics");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.ok(parse(await r.text()).length > 10);
    const locked = createAdminApp({ admin, metrics: text, access: { token: "t", readsNeedToken: true } });
    assert.equal((await locked.request("/metrics")).status, 401);
    assert.equal((await locked.request("/metrics", { headers: { authorization: "Bearer t" } })).status, 200);
    assert.equal((await createAdminApp({ admin }).request("/metrics")).status, 404, "no figures injected: no /metrics");
  });

  testNeeding(PARSER, "the writer escapes what the format asks and writes histograms cumulatively", () => {
    const text = prometheusText([
      { name: "x_total", help: "a \\ back\nslash", type: "counter", samples: [{ labels: { v: 'say "hi"\\\nnow' }, value: 3 }] },
      { name: "h_seconds", help: "h", type: "histogram", samples: histogramSamples([0.1, 1], [2, 3, 1], 2.5) },
      { name: "g", help: "g", type: "gauge", samples: [{ value: Infinity }, { labels: { k: "n" }, value: NaN }] },
    ]);
    const fams = parse(text);
    assert.equal(fams.find((f) => f.name === "x")!.samples[0].labels.v, 'say "hi"\\\nnow');
    const h = fams.find((f) => f.name === "h_seconds")!;
    assert.deepEqual(h.samples.filter((s) => s.name === "h_seconds_bucket").map((s) => [s.labels.le, s.value]), [["0.1", 2], ["1", 5], ["+Inf", 6]]);
    assert.equal(value(fams, "h_seconds_count"), 6);
    assert.equal(value(fams, "h_seconds_sum"), 2.5);
  });
});

describe("docs/grafana-dashboard.json", () => {
  test("every metric its panels query is one the broker or NameServer exposes", async () => {
    await using c = await startCluster({});
    const exposed = new Set([...c.broker.metricFamilies(), ...c.ns.metricFamilies()].flatMap((f) => f.type === "histogram" ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name]));
    const dash = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../../docs/grafana-dashboard.json", import.meta.url), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const used = dash.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(?:bolide|process)_[a-z_]+/g) ?? []));
    assert.ok(used.length >= 10);
    for (const name of used) assert.ok(exposed.has(name), `${name} is not exposed`);
  });
});
