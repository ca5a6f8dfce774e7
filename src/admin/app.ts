import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import type { Admin, ResetPoint, SubscriptionGroupSettings, TopicChanges, TopicCreation } from "../client/admin.ts";
import type { MessageExt } from "../client/message.ts";
import { parseResetPoint } from "../client/reset_point.ts";
import { errorFromResponse, InvalidParameterError } from "../common/errors.ts";
import { ResponseCode } from "../common/response_code.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../util/prometheus_text.ts";
import { type Access, refusal } from "./access.ts";
import { UPLOT_CSS, UPLOT_JS } from "./assets.generated.ts";
import { DASHBOARD_HTML } from "./dashboard.ts";
import { problem, problemOf, problemResponse } from "./problem.ts";

/** What the admin app is built from: the cluster's Admin client, a message lookup, and who may use it. */
export interface AdminAppOptions {
  admin: Admin;
  /** Message lookups (by key, by id): a MessageQuery on the same NameServers. */
  messages?: {
    queryByKey(topic: string, key: string, q?: { maxNum?: number }): Promise<MessageExt[]>;
    getByUniqueId(topic: string, id: string): Promise<MessageExt | undefined>;
    getByOffsetId(id: string): Promise<MessageExt | undefined>;
  };
  access?: Access;
  log?: { warn(msg: string): void };
  /** The local broker's and NameServer's figures in Prometheus text, for /metrics (absent: no /metrics). */
  metrics?: () => string | Promise<string>;
}

type Json = Record<string, unknown>;

/**
 * The admin endpoint (issue #17): a Hono app over an injected `Admin` client, so it runs inside
 * a broker or NameServer process and on its own at the edge alike; it never touches broker or
 * store internals. JSON under /api/; every error is `application/problem+json` with RocketMQ's
 * code when the cluster gave one. Writes need the admin token always, reads when `access` says.
 * Routes: docs/admin-api.md.
 */
export function createAdminApp(opts: AdminAppOptions): Hono {
  const { admin } = opts;
  const access = opts.access ?? {};
  const app = new Hono();

  const guard = async (c: Context, next: () => Promise<void>) => {
    const write = c.req.method !== "GET" && c.req.method !== "HEAD";
    const refused = refusal(access, write, c.req.header("authorization"));
    if (refused) return refused;
    await next();
  };
  // Off unless origins are configured: then those origins (and only those) may call from a browser.
  if (access.corsOrigins && access.corsOrigins.length > 0) {
    app.use("/api/*", cors({ origin: access.corsOrigins, allowHeaders: ["authorization", "content-type"], allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE"] }));
  }
  app.use("/api/*", guard);
  app.use("/metrics", guard);
  // The dashboard and its bundled chart library (no CDN: it works with no internet access).
  const page = (body: string, type: string) => () =>
    new Response(body, {
      headers: {
        "content-type": type,
        "content-security-policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        "cache-control": "no-cache",
      },
    });
  app.get("/", page(DASHBOARD_HTML, "text/html; charset=utf-8"));
  app.get("/assets/uplot.js", page(UPLOT_JS, "text/javascript; charset=utf-8"));
  app.get("/assets/uplot.css", page(UPLOT_CSS, "text/css; charset=utf-8"));
  const metrics = opts.metrics;
  if (metrics) app.get("/metrics", async () => new Response(await metrics(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }));
  app.onError((err, c) => {
    const p = problemOf(err);
    if (p.status === 500) opts.log?.warn(`admin ${c.req.method} ${new URL(c.req.url).pathname} failed: ${(err as Error).stack ?? err}`);
    return problemResponse(p);
  });
  app.notFound((c) => problemResponse(problem(404, "Not Found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`)));

  // ---- cluster and brokers ----------------------------------------------------------------
  app.get("/api/cluster", async (c) => {
    const brokers = (await admin.clusterState()).map((b) => ({ brokerName: b.brokerName, brokerId: b.brokerId, addr: b.addr, role: b.role, reachable: b.runtime !== undefined, runtime: b.runtime ?? {} }));
    return c.json({ brokers });
  });
  app.get("/api/brokers/:addr/config", async (c) => c.json(await admin.brokerConfig(c.req.param("addr"))));
  app.put("/api/brokers/config", async (c) => {
    const b = await body(c);
    return c.json(await admin.updateBrokerConfig(record(b.changes, "changes") as Record<string, string>, (b.target ?? {}) as Json));
  });

  // ---- topics -----------------------------------------------------------------------------
  app.get("/api/topics", async (c) => c.json(await admin.topicList()));
  app.post("/api/topics", async (c) => {
    const b = await body(c);
    const topic = text(b.topic, "topic");
    const brokers = await admin.createTopic(topic, b as TopicCreation);
    return c.json({ topic, brokers }, 201);
  });
  app.patch("/api/topics/:topic", async (c) => c.json(await admin.updateTopic(c.req.param("topic"), await body(c) as TopicChanges, c.req.query("cluster"))));
  app.delete("/api/topics/:topic", async (c) => c.json({ brokers: await admin.deleteTopic(c.req.param("topic"), c.req.query("cluster")) }));
  app.get("/api/topics/:topic/route", async (c) => c.json(await admin.topicRoute(c.req.param("topic"))));
  app.get("/api/topics/:topic/status", async (c) => c.json(await admin.topicStats(c.req.param("topic"))));

  // ---- consumer groups --------------------------------------------------------------------
  app.get("/api/groups", async (c) => c.json(await admin.groups(c.req.query("cluster"))));
  app.put("/api/groups/:group", async (c) => {
    const settings = { ...await body(c), groupName: c.req.param("group") } as SubscriptionGroupSettings;
    return c.json({ brokers: await admin.updateGroup(settings, c.req.query("cluster")) });
  });
  app.delete("/api/groups/:group", async (c) => {
    const brokers = await admin.deleteGroup(c.req.param("group"), { cluster: c.req.query("cluster"), cleanOffset: c.req.query("cleanOffset") === "true" });
    return c.json({ brokers });
  });
  app.get("/api/groups/:group/progress", async (c) => {
    const p = await admin.consumeProgress(c.req.param("group"), c.req.query("topic"));
    const lag = p.offsetTable.reduce((n, q) => n + q.offset.brokerOffset - q.offset.consumerOffset, 0);
    return c.json({ lag, consumeTps: p.consumeTps, queues: p.offsetTable });
  });
  app.get("/api/groups/:group/connections", async (c) => c.json(await admin.consumerConnections(c.req.param("group"))));
  app.get("/api/groups/:group/members/:clientId", async (c) => c.json(await admin.consumerRunningInfo(c.req.param("group"), c.req.param("clientId"))));
  app.post("/api/groups/:group/reset", async (c) => {
    const b = await body(c);
    const to = b.to;
    const point: ResetPoint = typeof to === "string" ? parseResetPoint(to) : typeof to === "number" ? to
      : typeof to === "object" && to !== null ? to as ResetPoint : invalid(`to must be "earliest", "latest", ms since the epoch, an ISO time or {brokerName, queueId, offset}`);
    return c.json(await admin.resetOffsets(c.req.param("group"), text(b.topic, "topic"), point, { force: b.force !== false }));
  });

  // ---- dead letters ------------------------------------------------------------------------
  app.get("/api/groups/:group/dlq", async (c) => {
    const from = intQuery(c.req.query("from"), "from", 0);
    const count = intQuery(c.req.query("count"), "count", 100);
    return c.json((await admin.deadLetters(c.req.param("group"), { from, count })).map(view));
  });
  app.get("/api/groups/:group/dlq/:offset", async (c) => c.json(view(await deadLetterAt(c.req.param("group"), c.req.param("offset")))));
  app.post("/api/groups/:group/dlq/:offset/resend", async (c) => {
    const group = c.req.param("group");
    const m = await deadLetterAt(group, c.req.param("offset"));
    return c.json({ resent: m.queueOffset, msgId: m.msgId, broker: (await admin.resendDeadLetter(group, m)).brokerName });
  });
  const deadLetterAt = async (group: string, offsetText: string): Promise<MessageExt> => {
    const offset = intQuery(offsetText, "offset", 0);
    const [m] = await admin.deadLetters(group, { from: offset, count: 1 });
    if (!m || m.queueOffset !== offset) throw errorFromResponse(ResponseCode.NO_MESSAGE, `no dead letter of ${group} at offset ${offset}`, "dead letter");
    return m;
  };

  // ---- pending delayed and timer messages, as each broker counts them ----------------------
  app.get("/api/pending", async (c) => {
    // Masters only: a slave's delay, timer and transaction services do not run.
    const masters = (await admin.clusterState()).filter((b) => b.role === "MASTER" && b.runtime !== undefined);
    return c.json(masters.map(({ brokerName, addr, runtime: r }) => ({
      brokerName, addr,
      delayedByLevel: (r!.scheduledPending ?? "").split(",").filter(Boolean).map(Number),
      timers: Number(r!.timersPending ?? 0), halfMessages: Number(r!.transactionHalfBacklog ?? 0),
    })));
  });

  // ---- messages ---------------------------------------------------------------------------
  app.get("/api/messages", async (c) => {
    const q = opts.messages ?? invalid("this endpoint has no message lookup");
    const topic = c.req.query("topic");
    const key = c.req.query("key");
    const id = c.req.query("id");
    if (key !== undefined) return c.json((await q.queryByKey(text(topic, "topic"), key, { maxNum: 32 })).map(view));
    // By queue and offset: ?topic=T&broker=B&queue=N&offset=O[&count=C] (without broker/queue: every queue).
    const offset = c.req.query("offset");
    if (offset !== undefined) {
      const queue = c.req.query("queue");
      const found = await admin.messagesAt(text(topic, "topic"), {
        brokerName: c.req.query("broker"), queueId: queue === undefined ? undefined : intQuery(queue, "queue", 0),
        from: intQuery(offset, "offset", 0), count: intQuery(c.req.query("count"), "count", 32),
      });
      return c.json(found.map(view));
    }
    if (id !== undefined) {
      const m = (topic ? await q.getByUniqueId(topic, id) : undefined) ?? await q.getByOffsetId(id).catch((err) => {
        if (topic) return undefined;
        throw err;
      });
      return m ? c.json([view(m)]) : c.json([]);
    }
    return invalid("give key (with topic), id, or offset (with topic, and broker and queue for one queue)");
  });

  return app;
}

/** A message as the API shows it: its fields, and its body as text when it is UTF-8, else base64, saying which. */
function view(m: MessageExt) {
  let body: string;
  let encoding: "utf-8" | "base64";
  try {
    body = new TextDecoder("utf-8", { fatal: true }).decode(m.body.subarray(0, 4_096));
    encoding = "utf-8";
  } catch {
    body = btoa(String.fromCharCode(...m.body.subarray(0, 3_072)));
    encoding = "base64";
  }
  return {
    topic: m.topic, brokerName: m.brokerName, queueId: m.queueId, queueOffset: m.queueOffset, msgId: m.msgId, offsetMsgId: m.offsetMsgId, tags: m.tags, keys: m.keys,
    bornTimestamp: m.bornTimestamp, storeTimestamp: m.storeTimestamp, reconsumeTimes: m.reconsumeTimes, properties: m.properties,
    bodyBytes: m.body.byteLength, bodyPreview: body, bodyEncoding: encoding, bodyTruncated: m.body.byteLength > (encoding === "utf-8" ? 4_096 : 3_072),
  };
}

async function body(c: Context): Promise<Json> {
  let v: unknown;
  try {
    v = await c.req.json();
  } catch {
    return invalid("the body is not JSON");
  }
  return record(v, "body");
}

function record(v: unknown, what: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return invalid(`${what} must be a JSON object`);
  return v as Json;
}

function text(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") return invalid(`${what} must be a non-empty string`);
  return v;
}

function intQuery(v: string | undefined, what: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return invalid(`${what} must be a non-negative integer, got "${v.slice(0, 40)}"`);
  return Number(v);
}

function invalid(detail: string): never {
  throw new InvalidParameterError(detail);
}
