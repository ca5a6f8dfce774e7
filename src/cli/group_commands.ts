import { NameServerClient } from "../client/name_server_client.ts";
import { PullConsumer } from "../client/pull_consumer.ts";
import type { MessageExt, MessageQueue } from "../client/message.ts";
import { ResponseError } from "../common/errors.ts";
import { encodeProperties, MessageProperty, SysFlag } from "../common/message.ts";
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, validateGroup } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { MASTER_ID } from "../common/route.ts";
import { decodeBody } from "../protocol/body_codec.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { printLine } from "../platform/runtime.ts";
import { masters, required } from "./client_commands.ts";
import { intOption, UsageError } from "./server_commands.ts";

type Values = Record<string, unknown>;

/** `bolide group --group G`: each broker's view of a consumer group's members and subscriptions. */
export async function groupCommand(values: Values, namesrv: string): Promise<void> {
  const group = required(values, "group");
  validateGroup(group);
  const ns = new NameServerClient({ namesrvAddr: namesrv });
  const remoting = new RemotingClient();
  try {
    const out: unknown[] = [];
    for (const [brokerName, addr] of await masters(ns)) {
      const r = await remoting.invoke(addr, createRequest(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: group }));
      if (r.code === ResponseCode.CONSUMER_NOT_ONLINE) continue;
      if (r.code !== ResponseCode.SUCCESS) throw new ResponseError(addr, r.code, r.remark, "GET_CONSUMER_CONNECTION_LIST");
      const view = decodeBody<{ subscriptionsConsistent: boolean }>(r.body, r.serializeType, "consumer connections");
      out.push({ brokerName, addr, ...view });
      if (!view.subscriptionsConsistent) console.error(`bolide: warning: members of ${group} subscribe differently on ${brokerName}; some messages are skipped`);
    }
    if (out.length === 0) throw new UsageError(`consumer group ${group} is not online on any broker`);
    printLine(JSON.stringify(out, null, 2));
  } finally {
    remoting.close();
    ns.close();
  }
}

/**
 * `bolide dlq list|read|resend --group G`: dead letters of a group. They are read from
 * %DLQ%<group> without committing anything; `resend` writes a dead letter to %RETRY%<group>
 * with reconsumeTimes 0, so that group (and no other) consumes it again.
 */
export async function dlqCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  const group = required(values, "group");
  validateGroup(group);
  const topic = DLQ_GROUP_TOPIC_PREFIX + group;
  const reader = new PullConsumer({ namesrvAddr: namesrv, group: "bolide-cli-dlq", consumeFromWhere: "first" });
  const remoting = new RemotingClient();
  try {
    const queues = await reader.queuesOf(topic).catch(() => [] as MessageQueue[]);
    if (queues.length === 0) throw new UsageError(`group ${group} has no dead letters (no ${topic} topic)`);
    await reader.assign(queues);
    const offset = values.offset === undefined ? undefined : intOption(values.offset as string, "offset", 0, 0);
    switch (sub) {
      case "list": {
        const count = intOption(values.count as string | undefined, "count", 100, 1, 100_000);
        for (const m of await readDead(reader, queues, 0, count)) printLine(JSON.stringify(summary(m)));
        return;
      }
      case "read": {
        if (offset === undefined) throw new UsageError("dlq read needs --offset N (from dlq list)");
        const [m] = await readDead(reader, queues, offset, 1);
        if (!m || m.queueOffset !== offset) throw new UsageError(`no dead letter at offset ${offset}`);
        printLine(JSON.stringify({ ...summary(m), properties: m.properties, body: new TextDecoder().decode(m.body) }, null, 2));
        return;
      }
      case "resend": {
        const count = offset === undefined ? intOption(values.count as string | undefined, "count", 100_000, 1, 100_000) : 1;
        const dead = (await readDead(reader, queues, offset ?? 0, count)).filter((m) => offset === undefined || m.queueOffset === offset);
        if (dead.length === 0) throw new UsageError(offset === undefined ? "no dead letters to resend" : `no dead letter at offset ${offset}`);
        const route = await new NameServerClient({ namesrvAddr: namesrv, remoting }).getRoute(RETRY_GROUP_TOPIC_PREFIX + group);
        const addrs = new Map(route.brokerDatas.map((b) => [b.brokerName, b.brokerAddrs[String(MASTER_ID)]]));
        for (const m of dead) {
          const addr = addrs.get(m.brokerName) ?? [...addrs.values()][0];
          if (!addr) throw new UsageError(`no broker serves ${RETRY_GROUP_TOPIC_PREFIX + group}; is a consumer of ${group} running?`);
          const props = { ...m.properties };
          delete props.DLQ_ORIGIN_TOPIC;
          delete props.DLQ_ORIGIN_MESSAGE_ID;
          const r = await remoting.invoke(addr, createRequest(RequestCode.SEND_MESSAGE, {
            producerGroup: "bolide-cli-dlq",
            topic: RETRY_GROUP_TOPIC_PREFIX + group,
            queueId: 0,
            sysFlag: m.sysFlag & ~SysFlag.COMPRESSED, // the body was decompressed when read
            bornTimestamp: Date.now(),
            flag: 0,
            properties: encodeProperties(props),
            reconsumeTimes: 0,
          }, m.body));
          if (r.code !== ResponseCode.SUCCESS) throw new ResponseError(addr, r.code, r.remark, "SEND_MESSAGE");
          printLine(JSON.stringify({ resent: m.queueOffset, msgId: m.msgId, to: RETRY_GROUP_TOPIC_PREFIX + group }));
        }
        return;
      }
      default:
        throw new UsageError(`"dlq" takes list, read or resend, got "${sub ?? ""}"`);
    }
  } finally {
    remoting.close();
    await reader.shutdown();
  }
}

async function readDead(reader: PullConsumer, queues: MessageQueue[], from: number, count: number): Promise<MessageExt[]> {
  for (const q of queues) reader.seek(q, from);
  const out: MessageExt[] = [];
  for (;;) {
    const got = await reader.poll(300, Math.min(256, count - out.length));
    if (got.length === 0) return out;
    out.push(...got);
    if (out.length >= count) return out.slice(0, count);
  }
}

function summary(m: MessageExt) {
  return {
    offset: m.queueOffset,
    msgId: m.msgId,
    originTopic: m.properties.DLQ_ORIGIN_TOPIC ?? m.properties[MessageProperty.RETRY_TOPIC],
    reconsumeTimes: m.reconsumeTimes,
    tags: m.tags,
    keys: m.keys,
    storeTimestamp: m.storeTimestamp,
    bodyBytes: m.body.byteLength,
  };
}
