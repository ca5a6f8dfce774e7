import { Admin, type TopicChanges } from "../client/admin.ts";
import { Producer } from "../client/producer.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
import { BolideError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { Perm, type TopicRouteData } from "../common/route.ts";
import { printLine, readStdinLines } from "../platform/runtime.ts";
import { intOption, UsageError } from "./server_commands.ts";
import { printTable } from "./table.ts";

type Values = Record<string, unknown>;

export function namesrvOf(values: Values, envAddr: string | undefined): string {
  return (values.namesrv as string | undefined) ?? envAddr ?? "127.0.0.1:9876";
}

export function required(values: Values, name: string): string {
  const v = values[name] as string | undefined;
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

const printJson = (v: unknown) => printLine(JSON.stringify(v, null, 2));

export async function topicCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  await using admin = new Admin({ namesrvAddr: namesrv });
  const cluster = values.cluster as string | undefined;
  switch (sub) {
    case "list": {
      const topics = await admin.topicList();
      if (values.json === true) return printJson(topics);
      for (const t of topics) printLine(t);
      return;
    }
    case "route":
      return printRoute(await admin.topicRoute(required(values, "topic")), values.json === true);
    case "create": {
      const topic = required(values, "topic");
      const queues = intOption(values.queues as string | undefined, "queues", 8, 1, Limits.maxQueuesPerTopic);
      const shape = topicShape(values);
      if ((await admin.masters(cluster)).length === 0) throw new UsageError("no master broker is registered with the NameServer");
      for (const b of await admin.createTopic(topic, { queues, cluster, ...shape })) {
        printLine(`created topic ${topic} with ${shape.readQueueNums ?? queues} read / ${shape.writeQueueNums ?? queues} write queues, perm ${permName(shape.perm ?? 6)}, on ${b.brokerName} (${b.addr})`);
      }
      return;
    }
    case "update": {
      // mqadmin updateTopic / updateTopicPerm: only what is named changes.
      const topic = required(values, "topic");
      const shape = topicShape(values);
      if (Object.keys(shape).length === 0) throw new UsageError("topic update needs --perm, --read-queues, --write-queues or --order");
      const done = await admin.updateTopic(topic, shape, cluster);
      printTable(done.map((b) => ({
        broker: b.brokerName, readQueues: b.config.readQueueNums, writeQueues: b.config.writeQueueNums, perm: permName(b.config.perm), order: b.config.order ?? false,
      })), values.json === true);
      return;
    }
    case "delete": {
      const topic = required(values, "topic");
      for (const b of await admin.deleteTopic(topic, cluster)) printLine(`deleted topic ${topic} on ${b.brokerName}`);
      printLine(`deleted route of topic ${topic}`);
      return;
    }
    case "status": {
      // Each queue's offsets on each broker (mqadmin topicStatus).
      const stats = await admin.topicStats(required(values, "topic"));
      printTable(stats.map((s) => ({
        broker: s.mq.brokerName, queue: s.mq.queueId, minOffset: s.offset.minOffset, maxOffset: s.offset.maxOffset,
        lastUpdated: s.offset.lastUpdateTimestamp ? new Date(s.offset.lastUpdateTimestamp).toISOString() : "-",
      })), values.json === true);
      return;
    }
    default:
      throw new UsageError(`"topic" takes create, update, list, route, status or delete, got "${sub ?? ""}"`);
  }
}

/** A topic's route: per broker group its queues, permission and addresses (`--json`: RocketMQ's TopicRouteData). */
export function printRoute(route: TopicRouteData, json: boolean): void {
  if (json) return printJson(route);
  printTable(route.queueDatas.map((q) => {
    const addrs = route.brokerDatas.find((b) => b.brokerName === q.brokerName)?.brokerAddrs ?? {};
    return {
      broker: q.brokerName, readQueues: q.readQueueNums, writeQueues: q.writeQueueNums, perm: permName(q.perm),
      master: addrs["0"] ?? "-", slaves: Object.entries(addrs).filter(([id]) => id !== "0").map(([id, a]) => `${id}=${a}`).join(",") || "-",
    };
  }), false);
}

/** RocketMQ's perm as the CLI takes it: R, W, RW (or 4, 2, 6). */
export function parsePerm(v: string): number {
  const perm = ({ R: 4, W: 2, RW: 6, "4": 4, "2": 2, "6": 6 } as Record<string, number>)[v.toUpperCase()];
  if (perm === undefined) throw new UsageError(`--perm must be R, W or RW (4, 2, 6), got "${v}"`);
  return perm;
}

export function permName(perm: number): string {
  return `${perm & Perm.READ ? "R" : ""}${perm & Perm.WRITE ? "W" : ""}` || "-";
}

/** --read-queues, --write-queues, --perm and --order, as far as given. */
function topicShape(values: Values): TopicChanges {
  const out: TopicChanges = {};
  if (values["read-queues"] !== undefined) out.readQueueNums = intOption(values["read-queues"] as string, "read-queues", 8, 1, Limits.maxQueuesPerTopic);
  if (values["write-queues"] !== undefined) out.writeQueueNums = intOption(values["write-queues"] as string, "write-queues", 8, 1, Limits.maxQueuesPerTopic);
  if (values.perm !== undefined) out.perm = parsePerm(values.perm as string);
  if (values.order !== undefined) {
    if (values.order !== "true" && values.order !== "false") throw new UsageError(`--order must be true or false, got "${values.order}"`);
    out.order = values.order === "true";
  }
  return out;
}

/**
 * `bolide cluster` (mqadmin clusterList): every broker with its role, address and in/out TPS
 * (messages per second stored and handed to consumers, over the last 10 s), a table; with
 * `--json` each broker's whole runtime info. No live broker is an error, so scripts notice.
 */
export async function clusterCommand(namesrv: string, json = false): Promise<void> {
  await using admin = new Admin({ namesrvAddr: namesrv });
  const brokers = (await admin.clusterState()).map((b) => ({ cluster: b.cluster, brokerName: b.brokerName, brokerId: b.brokerId, addr: b.addr, role: b.role, runtime: b.runtime ?? "unreachable" as const }));
  if (brokers.length === 0) throw new UsageError(`no live brokers are registered with the NameServer ${namesrv}`, 1);
  if (json) return printJson(brokers);
  const first = (tps: string | undefined) => Number(Number((tps ?? "0").split(" ")[0]).toFixed(2));
  printTable(brokers.map((b) => {
    const r = b.runtime === "unreachable" ? undefined : b.runtime;
    return {
      cluster: b.cluster, broker: b.brokerName, id: b.brokerId, addr: b.addr, role: b.role,
      inTPS: r ? first(r.putTps) : "-", outTPS: r ? first(r.getTransferedTps) : "-",
      putTotal: r?.msgPutTotalTodayNow ?? "-", getTotal: r?.msgGetTotalTodayNow ?? "-", state: r ? "ok" : "unreachable",
    };
  }), false);
}

export async function sendCommand(values: Values, namesrv: string): Promise<void> {
  const topic = required(values, "topic");
  const producer = new Producer({ namesrvAddr: namesrv, group: (values.group as string | undefined) ?? "bolide-cli-producer" });
  await producer.start();
  try {
    const bodies = values.body !== undefined ? [values.body as string] : await readStdinLines();
    for (const body of bodies) {
      if (body === "") continue;
      const r = await producer.send({ topic, body, tags: values.tags as string | undefined, keys: values.keys as string | undefined });
      printLine(JSON.stringify({ status: r.status, msgId: r.msgId, offsetMsgId: r.offsetMsgId, broker: r.messageQueue.brokerName, queueId: r.messageQueue.queueId, queueOffset: r.queueOffset }));
    }
  } finally {
    await producer.shutdown();
  }
}

export async function consumeCommand(values: Values, namesrv: string): Promise<void> {
  const topic = required(values, "topic");
  const group = required(values, "group");
  const from = (values.from as string | undefined) ?? "last";
  if (from !== "first" && from !== "last") throw new UsageError(`--from must be first or last, got "${from}"`);
  const count = intOption(values.count as string | undefined, "count", Number.MAX_SAFE_INTEGER, 1);
  const idleMs = intOption(values["timeout-ms"] as string | undefined, "timeout-ms", Number.MAX_SAFE_INTEGER, 0);
  const consumer = new PullConsumer({ namesrvAddr: namesrv, group, consumeFromWhere: from });
  try {
    await consumer.subscribe(topic, (values.tags as string | undefined) ?? "*");
    let seen = 0;
    let lastMessageAt = Date.now();
    const warned = new Set<string>();
    while (seen < count && Date.now() - lastMessageAt < idleMs) {
      const msgs = await consumer.poll(Math.min(1000, idleMs), Math.min(256, count - seen));
      if (msgs.length === 0) {
        // Nothing arrived: say so when it is because a broker does not answer (not an empty topic).
        for (const b of consumer.unansweredBrokers()) {
          if (!warned.has(b.addr)) console.error(`bolide: warning: broker ${b.addr} does not answer (${b.reason})`);
          warned.add(b.addr);
        }
      }
      for (const m of msgs) {
        printLine(JSON.stringify({ topic: m.topic, queueId: m.queueId, queueOffset: m.queueOffset, msgId: m.msgId, tags: m.tags, keys: m.keys, body: new TextDecoder().decode(m.body), storeTimestamp: m.storeTimestamp }));
      }
      if (msgs.length > 0) {
        seen += msgs.length;
        lastMessageAt = Date.now();
        await consumer.commit();
      }
    }
    const silent = seen < count ? consumer.unansweredBrokers() : [];
    if (silent.length > 0) throw new UsageError(`stopped waiting; no answer from ${silent.map((b) => `${b.addr} (${b.reason})`).join(", ")}`, 1);
  } catch (err) {
    if (err instanceof BolideError) throw err;
    throw err;
  } finally {
    await consumer.shutdown();
  }
}
