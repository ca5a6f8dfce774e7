import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { Limits, MiB } from "../../src/common/limits.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { encodeFrameBytes } from "../../src/protocol/frame_codec.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { PullSysFlag } from "../../src/protocol/headers/pull_message_header.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";

// Random, so the Producer's compression does not shrink it.
const BODY = crypto.getRandomValues(new Uint8Array(60 * 1024));

/** PULL_MESSAGE frames (1,024 messages each) from `offset`, held up to `suspendMs` when nothing is there. */
function pulls(count: number, offset: number, suspendMs = 0): Buffer {
  const frames = [];
  for (let i = 1; i <= count; i++) {
    frames.push(encodeFrameBytes({
      ...createRequest(RequestCode.PULL_MESSAGE, {
        consumerGroup: "greedy", topic: "Big", queueId: 0, queueOffset: offset, maxMsgNums: 1024,
        sysFlag: suspendMs > 0 ? PullSysFlag.SUSPEND : 0, suspendTimeoutMillis: suspendMs,
      }),
      opaque: i,
      flag: 0,
    }));
  }
  return Buffer.concat(frames);
}

/** A connection that never reads; resolves once the broker sees it. */
async function neverReading(broker: BrokerController) {
  const [host, port] = broker.addr.split(":");
  const before = Number(broker.runtimeInfo().connections);
  const sock = net.connect({ host, port: Number(port) });
  sock.on("error", () => {});
  sock.pause();
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  await waitFor(() => Number(broker.runtimeInfo().connections) > before, { what: "the broker to accept it" });
  return sock;
}

/** Samples the broker's queued answer bytes until `done` resolves; returns the peak. */
async function peakBacklog(broker: BrokerController, done: () => boolean, what: string): Promise<number> {
  let peak = 0;
  await waitFor(() => {
    peak = Math.max(peak, Number(broker.runtimeInfo().writeBacklogBytes));
    return done();
  }, { intervalMs: 2, timeoutMs: 30_000, what });
  return peak;
}

describe("broker memory against clients that never read", () => {
  test("150 pipelined pulls of 1,024 messages on a socket that never reads queue one backlog's worth, then the socket is closed", async () => {
    await using c = await startCluster({ topics: { Big: 1 }, brokers: [{ serverWriteStallTimeoutMillis: 1_000 }] });
    // 70 messages of 60 KiB: every pull answer is the 4 MiB maximum.
    for (let i = 0; i < 70; i++) await c.producer.send({ topic: "Big", body: BODY });
    const base = Number(c.broker.runtimeInfo().connections);
    const sock = await neverReading(c.broker);
    sock.write(pulls(150, 0));
    const peak = await peakBacklog(c.broker, () => Number(c.broker.runtimeInfo().connections) === base, "the never-reading socket to be closed");
    sock.destroy();
    // One connection's backlog, overshot by at most one answer; 150 answers would be 600 MiB.
    assert.ok(peak <= Limits.maxWriteBacklogBytes + Limits.maxPullBytes + 64 * 1024, `peak backlog ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(peak > 0, "the broker answered some");
    assert.equal(c.broker.runtimeInfo().writeBacklogBytes, "0");
    // Everyone else is still served.
    const raw = new RemotingClient();
    const r = await raw.invoke(c.broker.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "ok", topic: "Big", queueId: 0, queueOffset: 0, maxMsgNums: 4, sysFlag: 0 }));
    assert.equal(r.code, ResponseCode.SUCCESS, r.remark);
    raw.close();
  });

  test("held pulls of a socket that never reads, woken together by a large batch, also stay within its backlog", async () => {
    await using c = await startCluster({ topics: { Big: 1, Warm: 1 }, brokers: [{ serverWriteStallTimeoutMillis: 1_000, maxMessageSize: 4 * MiB }] });
    await c.producer.send({ topic: "Warm", body: "connects the producer first" });
    const base = Number(c.broker.runtimeInfo().connections);
    const sock = await neverReading(c.broker);
    sock.write(pulls(150, 0, 20_000));
    await waitFor(() => Number(c.broker.runtimeInfo().heldPulls) === 150, { what: "150 held pulls" });
    // One batch of 3.5 MiB arrives at once: every held pull wakes to a 3.5 MiB answer.
    await c.producer.sendBatch(Array.from({ length: 60 }, () => ({ topic: "Big", body: BODY })));
    const peak = await peakBacklog(c.broker, () => Number(c.broker.runtimeInfo().connections) === base, "the never-reading socket to be closed");
    sock.destroy();
    assert.ok(peak <= Limits.maxWriteBacklogBytes + Limits.maxPullBytes + 64 * 1024, `peak backlog ${(peak / MiB).toFixed(1)} MiB`);
    assert.equal(c.broker.runtimeInfo().heldPulls, "0");
  });
});
