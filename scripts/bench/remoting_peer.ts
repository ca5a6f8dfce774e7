/**
 * One side of the remoting benchmark, run as its own process by remoting.ts:
 *   --role server            prints {"port":N} and answers code 1 with an empty SUCCESS
 *   --role client --port N --inflight K --secs S   prints {"rtPerSec":…,"p50Us":…,"p99Us":…}
 */
import { parseArgs } from "../../src/platform/args.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { RemotingServer } from "../../src/remoting/remoting_server.ts";
import { createRequest, successResponse } from "../../src/protocol/remoting_command.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    port: { type: "string", default: "0" },
    inflight: { type: "string", default: "1" },
    secs: { type: "string", default: "5" },
    size: { type: "string", default: "1024" },
  },
});

const BENCH_CODE = 1;

if (values.role === "server") {
  const server = new RemotingServer({ port: 0 });
  server.registerProcessor(BENCH_CODE, () => successResponse());
  const { port } = await server.start();
  console.log(JSON.stringify({ port }));
} else {
  const addr = `127.0.0.1:${values.port}`;
  const inflight = Number(values.inflight);
  const secs = Number(values.secs);
  const body = new Uint8Array(Number(values.size)).fill(7);
  const client = new RemotingClient();
  const req = createRequest(BENCH_CODE, undefined, body);
  // Warm up the connection and the JIT before timing.
  const warmEnd = Date.now() + 1000;
  while (Date.now() < warmEnd) await Promise.all(Array.from({ length: inflight }, () => client.invoke(addr, req)));

  const samples: number[] = [];
  const maxSamples = 200_000;
  let done = 0;
  const end = performance.now() + secs * 1000;
  const start = performance.now();
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const resp = await client.invoke(addr, req);
      if (resp.code !== 0) throw new Error(`unexpected code ${resp.code}`);
      if (samples.length < maxSamples) samples.push(performance.now() - t0);
      else samples[done % maxSamples] = performance.now() - t0;
      done++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  const elapsed = (performance.now() - start) / 1000;
  samples.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] * 1000);
  console.log(JSON.stringify({ rtPerSec: Math.round(done / elapsed), p50Us: pct(0.5), p99Us: pct(0.99), n: done }));
  client.close();
}
