import { NameServerClient } from "../client/name_server_client.ts";
import { Producer } from "../client/producer.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
import { BolideError, ResponseError } from "../common/errors.ts";
import { ResponseCode } from "../common/response_code.ts";
import { MASTER_ID } from "../common/route.ts";
import { decodeBody } from "../protocol/body_codec.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { printLine, readStdinLines } from "../platform/runtime.ts";
import { intOption, UsageError } from "./server_commands.ts";

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

/** Every master broker address, optionally of one cluster. */
export async function masters(ns: NameServerClient, cluster?: string): Promise<Map<string, string>> {
  const info = await ns.getClusterInfo();
  const names = cluster ? info.clusterAddrTable[cluster] ?? [] : Object.keys(info.brokerAddrTable);
  const out = new Map<string, string>();
  for (const name of names) {
    const addr = info.brokerAddrTable[name]?.brokerAddrs[String(MASTER_ID)];
    if (addr) out.set(name, addr);
  }
  return out;
}

export async function topicCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  const ns = new NameServerClient({ namesrvAddr: namesrv });
  const remoting = new RemotingClient();
  try {
    switch (sub) {
      case "list":
        return printJson(await ns.getTopicList());
      case "route":
        return printJson(await ns.getRoute(required(values, "topic")));
      case "create": {
        const topic = required(values, "topic");
        const queues = intOption(values.queues as string | undefined, "queues", 8, 1, 1024);
        const brokers = await masters(ns, values.cluster as string | undefined);
        if (brokers.size === 0) throw new UsageError("no master broker is registered with the NameServer");
        for (const [name, addr] of brokers) {
          const r = await remoting.invoke(addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: queues, writeQueueNums: queues }));
          if (r.code !== ResponseCode.SUCCESS) throw new ResponseError(addr, r.code, r.remark, "UPDATE_AND_CREATE_TOPIC");
          printLine(`created topic ${topic} with ${queues} queues on ${name} (${addr})`);
        }
        return;
      }
      case "delete": {
        const topic = required(values, "topic");
        for (const [name, addr] of await masters(ns, values.cluster as string | undefined)) {
          const r = await remoting.invoke(addr, createRequest(RequestCode.DELETE_TOPIC_IN_BROKER, { topic }));
          if (r.code === ResponseCode.SUCCESS) printLine(`deleted topic ${topic} on ${name}`);
        }
        await ns.deleteTopic(topic, values.cluster as string | undefined);
        printLine(`deleted route of topic ${topic}`);
        return;
      }
      default:
        throw new UsageError(`"topic" takes create, list, route or delete, got "${sub ?? ""}"`);
    }
  } finally {
    remoting.close();
    ns.close();
  }
}

export async function clusterCommand(namesrv: string): Promise<void> {
  const ns = new NameServerClient({ namesrvAddr: namesrv });
  const remoting = new RemotingClient();
  try {
    const info = await ns.getClusterInfo();
    const brokers: unknown[] = [];
    for (const [cluster, names] of Object.entries(info.clusterAddrTable)) {
      for (const name of names) {
        for (const [id, addr] of Object.entries(info.brokerAddrTable[name]?.brokerAddrs ?? {})) {
          let runtime: unknown = "unreachable";
          try {
            const r = await remoting.invoke(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO), 2000);
            if (r.code === 0) runtime = decodeBody<{ table: unknown }>(r.body, r.serializeType).table;
          } catch { /* shown as unreachable */ }
          brokers.push({ cluster, brokerName: name, brokerId: Number(id), addr, role: id === "0" ? "MASTER" : "SLAVE", runtime });
        }
      }
    }
    printJson(brokers);
  } finally {
    remoting.close();
    ns.close();
  }
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
    while (seen < count && Date.now() - lastMessageAt < idleMs) {
      const msgs = await consumer.poll(Math.min(1000, idleMs), Math.min(256, count - seen));
      for (const m of msgs) {
        printLine(JSON.stringify({ topic: m.topic, queueId: m.queueId, queueOffset: m.queueOffset, msgId: m.msgId, tags: m.tags, keys: m.keys, body: new TextDecoder().decode(m.body), storeTimestamp: m.storeTimestamp }));
      }
      if (msgs.length > 0) {
        seen += msgs.length;
        lastMessageAt = Date.now();
        await consumer.commit();
      }
    }
  } catch (err) {
    if (err instanceof BolideError) throw err;
    throw err;
  } finally {
    await consumer.shutdown();
  }
}
