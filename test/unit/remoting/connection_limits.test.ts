import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "../../harness/testing.ts";
import { waitFor } from "../../harness/wait.ts";
import { MiB } from "../../../src/common/limits.ts";
import { createLogger } from "../../../src/common/log.ts";
import { encodeFrameBytes } from "../../../src/protocol/frame_codec.ts";
import { createRequest, successResponse } from "../../../src/protocol/remoting_command.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";
import { RemotingClient } from "../../../src/remoting/remoting_client.ts";
import type { RemotingConnection } from "../../../src/remoting/remoting_connection.ts";
import { RemotingServer, type ServerLimits } from "../../../src/remoting/remoting_server.ts";

const PING = 1;
const BIG = 2;
const BIG_BODY = new Uint8Array(1 * MiB);

/** A server answering PING (small) and BIG (1 MiB), with the given limits, and the lines it logs. */
async function serve(limits: Partial<ServerLimits>, exempt?: (c: RemotingConnection) => boolean) {
  const lines: string[] = [];
  const log = createLogger("test", "warn", (line) => lines.push(line));
  const server = new RemotingServer({ port: 0, limits, log, exemptFromIdle: exempt });
  let bigAnswers = 0;
  server
    .registerProcessor(PING, () => successResponse({ pong: "1" }))
    .registerProcessor(BIG, () => {
      bigAnswers++;
      return successResponse(undefined, BIG_BODY);
    });
  const { port } = await server.start();
  return {
    server,
    port,
    lines,
    bigAnswers: () => bigAnswers,
    async [Symbol.asyncDispose]() {
      await server.stop(0);
    },
  };
}

/** The server's side of its only (or newest) connection. */
async function newestConnection(server: RemotingServer, count: number): Promise<RemotingConnection> {
  await waitFor(() => server.connections.size >= count, { what: `${count} connections` });
  return [...server.connections][server.connections.size - 1];
}

/** A raw socket to the server; `closed` resolves when the server closes it (a paused socket never hears of it: use the server's side). */
async function rawSocket(port: number, opts: { paused?: boolean } = {}) {
  const sock = net.connect({ host: "127.0.0.1", port });
  sock.on("error", () => {});
  if (opts.paused) sock.pause();
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  const closed = new Promise<number>((resolve) => sock.once("close", () => resolve(Date.now())));
  return { sock, closed, isClosed: () => sock.destroyed || sock.readyState === "closed" };
}

/** The 8-byte prefix of a frame of `length` bytes (after the length field) with a `headerLen` header. */
function prefix(length: number, headerLen: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, length);
  dv.setUint32(4, (SerializeType.JSON << 24) | headerLen);
  return b;
}

const frameOf = (code: number, opaque: number) =>
  encodeFrameBytes({ ...createRequest(code), opaque, flag: 0 }, SerializeType.JSON);

async function ping(port: number): Promise<void> {
  const client = new RemotingClient();
  try {
    const r = await client.invoke(`127.0.0.1:${port}`, createRequest(PING), 5_000);
    assert.equal(r.extFields?.pong, "1");
  } finally {
    client.close();
  }
}

describe("connection limits", () => {
  test("incomplete frames past the total budget close the connection that grew it; the others and new clients are served", async () => {
    await using s = await serve({ maxBufferedFrameBytesTotal: 16 * MiB, frameReadTimeoutMs: 60_000 });
    // Each announces a 16 MiB frame and sends 6 MiB of it: the third crosses the 16 MiB total.
    const socks = [];
    for (let i = 0; i < 3; i++) {
      const r = await rawSocket(s.port);
      r.sock.write(prefix(16 * MiB - 1, 100));
      r.sock.write(new Uint8Array(6 * MiB));
      socks.push(r);
      if (i < 2) await waitFor(() => s.server.budget.bufferedFrameBytes >= (i + 1) * 6 * MiB, { what: `frame ${i} buffered` });
    }
    await socks[2].closed;
    assert.ok(!socks[0].isClosed() && !socks[1].isClosed(), "the first two stay open");
    assert.ok(s.server.budget.bufferedFrameBytes <= 16 * MiB, `${s.server.budget.bufferedFrameBytes} bytes buffered`);
    assert.ok(s.lines.some((l) => /incomplete frames of all connections past the budget/.test(l)), s.lines.join("\n"));
    await ping(s.port);
    for (const r of socks) r.sock.destroy();
    await waitFor(() => s.server.budget.bufferedFrameBytes === 0, { what: "the budget to be released" });
  });

  test("a frame begun and not finished is closed past frameReadTimeoutMs, a header-only one too, counted from its first bytes", async () => {
    await using s = await serve({ frameReadTimeoutMs: 300, connectionSweepIntervalMs: 20 });
    const partial = await rawSocket(s.port);
    const sentAt = Date.now();
    partial.sock.write(prefix(1000, 10));
    partial.sock.write(new Uint8Array(500));
    const headerOnly = await rawSocket(s.port);
    const headerAt = Date.now();
    headerOnly.sock.write(new Uint8Array([0, 0])); // two bytes of a length
    const [a, b] = await Promise.all([partial.closed, headerOnly.closed]);
    assert.ok(a - sentAt >= 300, `closed ${a - sentAt} ms after its frame began`);
    assert.ok(b - headerAt >= 300, `closed ${b - headerAt} ms after its first bytes`);
    assert.ok(s.lines.some((l) => /frame incomplete after 300 ms/.test(l)), s.lines.join("\n"));
    await ping(s.port);
  });

  test("a steady stream whose reads end mid-frame is not taken for a stalled frame", async () => {
    await using s = await serve({ frameReadTimeoutMs: 200, connectionSweepIntervalMs: 20 });
    const r = await rawSocket(s.port);
    const frame = frameOf(PING, 1);
    // Each write completes the previous frame and begins the next, for several deadlines.
    r.sock.setNoDelay(true);
    r.sock.write(frame.subarray(0, 5));
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      r.sock.write(Buffer.concat([frame.subarray(5), frame.subarray(0, 5)]));
      await new Promise((res) => setTimeout(res, 20));
    }
    // Closed only if some gap between our writes really exceeded the deadline.
    assert.ok(!r.isClosed() || s.lines.some((l) => /frame incomplete/.test(l)), "closed without a stalled frame: " + s.lines.join("\n"));
    assert.ok(!r.isClosed(), "the stream is still open: " + s.lines.join("\n"));
    r.sock.destroy();
  });

  test("a silent connection with no registered client is closed after the idle timeout; a registered one is not", async () => {
    let keep: RemotingConnection | undefined;
    await using s = await serve({ connectionIdleTimeoutMs: 300, connectionSweepIntervalMs: 20 }, (c) => c === keep);
    const exempt = await rawSocket(s.port);
    await waitFor(() => s.server.connections.size === 1, { what: "the first connection" });
    keep = [...s.server.connections][0];
    const idle = await rawSocket(s.port);
    const openedAt = Date.now();
    const closedAt = await idle.closed;
    assert.ok(closedAt - openedAt >= 300, `closed ${closedAt - openedAt} ms after it opened`);
    assert.ok(s.lines.some((l) => /idle for 300 ms with no registered client/.test(l)), s.lines.join("\n"));
    // The exempt one has been silent for as long: still open.
    assert.ok(!exempt.isClosed() && !keep.isClosed, "the registered client's connection stays");
    exempt.sock.destroy();
  });

  test("connections past maxConnectionsPerAddress and maxConnections are refused at accept, with one log line each", async () => {
    await using s = await serve({ maxConnections: 3, maxConnectionsPerAddress: 2 });
    const a = await rawSocket(s.port);
    const b = await rawSocket(s.port);
    await waitFor(() => s.server.connections.size === 2, { what: "two connections" });
    const c = await rawSocket(s.port);
    await c.closed;
    assert.equal(s.server.refusedConnections, 1);
    assert.ok(s.lines.some((l) => /2 connections from 127\.0\.0\.1 \(maxConnectionsPerAddress 2\)/.test(l)), s.lines.join("\n"));
    a.sock.destroy();
    await waitFor(() => s.server.connections.size === 1, { what: "a slot to free" });
    await ping(s.port); // a slot freed is usable again
    b.sock.destroy();
  });

  test("a client that pipelines big requests and never reads gets only what its backlog allows, then is closed; others are served", async () => {
    await using s = await serve({ maxWriteBacklogBytes: 8 * MiB, maxWriteBacklogBytesTotal: 64 * MiB, writeStallTimeoutMs: 1_000, connectionSweepIntervalMs: 20 });
    const r = await rawSocket(s.port, { paused: true });
    const conn = await newestConnection(s.server, 1);
    // 200 requests for 1 MiB each in one write: 200 MiB of answers if all were run.
    const frames = [];
    for (let i = 1; i <= 200; i++) frames.push(frameOf(BIG, i));
    r.sock.write(Buffer.concat(frames));
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, s.server.budget.writeBacklogBytes)), 2);
    try {
      await conn.closed;
    } finally {
      clearInterval(sample);
    }
    r.sock.destroy();
    // The backlog may exceed its limit by one answer (1 MiB and its header); the kernel's socket
    // buffers take some answers too, which is why some more than 8 ran.
    assert.ok(peak <= 9.1 * MiB, `peak backlog ${peak} bytes`);
    assert.ok(s.bigAnswers() < 100, `${s.bigAnswers()} of 200 answered`);
    assert.ok(s.lines.some((l) => /peer read nothing of \d+ queued bytes for 1000 ms/.test(l)), s.lines.join("\n"));
    await waitFor(() => s.server.budget.writeBacklogBytes === 0, { what: "the backlog to be released" });
    await ping(s.port);
  });

  test("never-reading clients together stay within the server's write budget; a stalled one is closed early under pressure while a reader is served", async () => {
    await using s = await serve({
      maxWriteBacklogBytes: 8 * MiB,
      maxWriteBacklogBytesTotal: 10 * MiB,
      writeStallTimeoutMs: 60_000,
      writeStallUnderPressureMs: 300,
      connectionSweepIntervalMs: 20,
    });
    const stalled = [];
    const conns = [];
    for (let i = 1; i <= 2; i++) {
      stalled.push(await rawSocket(s.port, { paused: true }));
      conns.push(await newestConnection(s.server, i));
    }
    const frames = [];
    for (let i = 1; i <= 60; i++) frames.push(frameOf(BIG, i));
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, s.server.budget.writeBacklogBytes)), 2);
    try {
      for (const r of stalled) r.sock.write(Buffer.concat(frames));
      // Together they use up the 10 MiB: one is closed once stalled past 300 ms, freeing room.
      await Promise.race(conns.map((c) => c.closed));
      await ping(s.port);
    } finally {
      clearInterval(sample);
    }
    assert.ok(peak <= 11.1 * MiB, `peak backlog ${peak} bytes over both`);
    assert.ok(s.lines.some((l) => /while the server's write budget of \d+ bytes is used up/.test(l)), s.lines.join("\n"));
    for (const r of stalled) r.sock.destroy();
  });
});
