import { Admin, type ResetPoint, type SubscriptionGroupSettings } from "../client/admin.ts";
import { parseResetPoint } from "../client/reset_point.ts";
import { InvalidParameterError } from "../common/errors.ts";
import type { MessageExt } from "../client/message.ts";
import { MessageProperty } from "../common/message.ts";
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, validateGroup } from "../common/names.ts";
import { printLine } from "../platform/runtime.ts";
import { required } from "./client_commands.ts";
import { intOption, UsageError } from "./server_commands.ts";
import { printTable } from "./table.ts";

type Values = Record<string, unknown>;

/** A consumer group's settings as the CLI takes them: RocketMQ's names, as `--<name> VALUE`. */
const GROUP_BOOLS = ["consumeEnable", "consumeFromMinEnable", "consumeBroadcastEnable", "notifyConsumerIdsChangedEnable"] as const;
const GROUP_INTS = { retryQueueNums: [1, 64], retryMaxTimes: [0, 10_000], brokerId: [0, 1_000], whichBrokerWhenConsumeSlowly: [0, 1_000] } as const;
/** The flags `group update` reads (main.ts declares them). */
export const GROUP_SETTING_FLAGS = [...GROUP_BOOLS, ...Object.keys(GROUP_INTS)];

function groupSettings(group: string, values: Values): SubscriptionGroupSettings {
  const s: SubscriptionGroupSettings = { groupName: group };
  for (const name of GROUP_BOOLS) {
    const v = values[name] as string | undefined;
    if (v === undefined) continue;
    if (v !== "true" && v !== "false") throw new UsageError(`--${name} must be true or false, got "${v}"`);
    s[name] = v === "true";
  }
  for (const [name, [min, max]] of Object.entries(GROUP_INTS)) {
    const v = values[name] as string | undefined;
    if (v !== undefined) (s as Record<string, unknown>)[name] = intOption(v, name, 0, min, max);
  }
  return s;
}

/**
 * `bolide group …`: consumer groups. `list` shows every master's groups and settings;
 * `update` creates or changes one (mqadmin updateSubGroup); `delete` removes it
 * (deleteSubGroup); `connections`, `progress` and `running` show its members and lag.
 */
export async function groupCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  await using admin = new Admin({ namesrvAddr: namesrv });
  const json = values.json === true;
  const cluster = values.cluster as string | undefined;
  if (sub === "list") {
    const rows = (await admin.groups(cluster)).flatMap((b) => b.groups.map((g) => ({ broker: b.brokerName, ...g })));
    printTable(rows.map(({ broker, groupName, consumeEnable, consumeBroadcastEnable, retryQueueNums, retryMaxTimes, whichBrokerWhenConsumeSlowly, notifyConsumerIdsChangedEnable }) => ({
      group: groupName, broker, consume: consumeEnable, broadcast: consumeBroadcastEnable, retryQueues: retryQueueNums, retryMaxTimes,
      slowReadsFrom: whichBrokerWhenConsumeSlowly, notify: notifyConsumerIdsChangedEnable,
    })), json);
    return;
  }
  const group = required(values, "group");
  validateGroup(group);
  switch (sub) {
    case "create": // mqadmin updateSubGroup creates or changes alike
    case "update": {
      const settings = groupSettings(group, values);
      const brokers = await admin.updateGroup(settings, cluster);
      const now = (await admin.groups(cluster)).flatMap((b) => b.groups.filter((g) => g.groupName === group).map((g) => ({ broker: b.brokerName, ...g })));
      printTable(now, json);
      if (!json) printLine(`updated ${group} on ${brokers.map((b) => b.brokerName).join(", ")}`);
      return;
    }
    case "delete": {
      const held = await admin.deleteGroup(group, { cluster, cleanOffset: values["clean-offset"] === true });
      if (held.length === 0) throw new UsageError(`consumer group ${group} has no settings on any master broker`, 1);
      printLine(`deleted ${group} on ${held.map((b) => b.brokerName).join(", ")}${values["clean-offset"] === true ? " (and its offsets)" : ""}`);
      return;
    }
    case undefined:
    case "connections": {
      const out = await admin.consumerConnections(group);
      for (const view of out) {
        if (!view.subscriptionsConsistent) console.error(`bolide: warning: members of ${group} subscribe differently on ${view.brokerName}; some messages are skipped`);
      }
      if (out.length === 0) throw new UsageError(`consumer group ${group} is not online on any broker`);
      if (json) return printLine(JSON.stringify(out, null, 2));
      printTable(out.flatMap((v) => v.members.map((m) => ({
        broker: v.brokerName, clientId: m.clientId, clientAddr: m.clientAddr, model: m.messageModel,
        subscriptions: m.subscriptions.map((s) => `${s.topic}(${s.subString})`).join(" "),
      }))), false);
      return;
    }
    case "progress": {
      // Per queue: the broker's offset, the group's, the lag (mqadmin consumerProgress).
      const progress = await admin.consumeProgress(group, values.topic as string | undefined);
      const stats = progress.offsetTable;
      if (stats.length === 0) throw new UsageError(`consumer group ${group} has no offsets and no online member on any broker`, 1);
      const rows = stats.map((s) => ({
        topic: s.mq.topic, broker: s.mq.brokerName, queue: s.mq.queueId, brokerOffset: s.offset.brokerOffset,
        consumerOffset: s.offset.consumerOffset, lag: s.offset.brokerOffset - s.offset.consumerOffset,
        lastConsumed: s.offset.lastTimestamp ? new Date(s.offset.lastTimestamp).toISOString() : "-",
      }));
      printTable(rows, json);
      if (!json) printLine(`total lag: ${rows.reduce((n, r) => n + r.lag, 0)}, consume TPS: ${progress.consumeTps.toFixed(2)}`);
      return;
    }
    case "running": {
      // What each member (or --client) is doing (mqadmin consumerStatus).
      const client = values.client as string | undefined;
      const ids = client ? [client] : [...new Set((await admin.consumerConnections(group)).flatMap((c) => c.connectionSet.map((x) => x.clientId)))];
      if (ids.length === 0) throw new UsageError(`consumer group ${group} is not online on any broker`, 1);
      const out: Record<string, Awaited<ReturnType<Admin["consumerRunningInfo"]>>> = {};
      for (const id of ids) out[id] = await admin.consumerRunningInfo(group, id);
      if (json) return printLine(JSON.stringify(out, null, 2));
      // One row per queue each member holds; then each member's rates per topic.
      printTable(Object.entries(out).flatMap(([id, info]) => info.mqTable.map(({ mq, info: q }) => ({
        clientId: id, topic: mq.topic, broker: mq.brokerName, queue: mq.queueId, committed: q.commitOffset, cached: q.cachedMsgCount,
        cachedMiB: Number(q.cachedMsgSizeInMiB.toFixed(2)), locked: q.locked, lastPull: q.lastPullTimestamp ? new Date(q.lastPullTimestamp).toISOString() : "-",
      }))), false);
      printLine("");
      printTable(Object.entries(out).flatMap(([id, info]) => Object.entries(info.statusTable).map(([topic, st]) => ({
        clientId: id, topic, pullTPS: Number(st.pullTPS.toFixed(2)), consumeOkTPS: Number(st.consumeOKTPS.toFixed(2)),
        consumeFailedTPS: Number(st.consumeFailedTPS.toFixed(2)), consumeRTms: Number(st.consumeRT.toFixed(2)), failedMsgs: st.consumeFailedMsgs,
      }))), false);
      return;
    }
    default:
      throw new UsageError(`"group" takes list, create, update, delete, connections, progress or running, got "${sub}"`);
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
  await using admin = new Admin({ namesrvAddr: namesrv });
  const offset = values.offset === undefined ? undefined : intOption(values.offset as string, "offset", 0, 0);
  const none = () => new UsageError(`group ${group} has no dead letters (no ${DLQ_GROUP_TOPIC_PREFIX + group} topic, or it is empty)`);
  switch (sub) {
    case "list": {
      const count = intOption(values.count as string | undefined, "count", 100, 1, 100_000);
      const dead = (await admin.deadLetters(group, { count })).map(summary);
      if (dead.length === 0) throw none();
      if (values.json === true) return printLine(JSON.stringify(dead, null, 2));
      printTable(dead.map((d) => ({ offset: d.offset, msgId: d.msgId, originTopic: d.originTopic ?? "-", reconsumeTimes: d.reconsumeTimes, tags: d.tags ?? "-", stored: new Date(d.storeTimestamp).toISOString(), bytes: d.bodyBytes })), false);
      return;
    }
    case "read": {
      if (offset === undefined) throw new UsageError("dlq read needs --offset N (from dlq list)");
      const [m] = await admin.deadLetters(group, { from: offset, count: 1 });
      if (!m || m.queueOffset !== offset) throw new UsageError(`no dead letter at offset ${offset}`);
      printLine(JSON.stringify({ ...summary(m), properties: m.properties, body: new TextDecoder().decode(m.body) }, null, 2));
      return;
    }
    case "resend": {
      const count = offset === undefined ? intOption(values.count as string | undefined, "count", 100_000, 1, 100_000) : 1;
      const dead = (await admin.deadLetters(group, { from: offset ?? 0, count })).filter((m) => offset === undefined || m.queueOffset === offset);
      if (dead.length === 0) throw new UsageError(offset === undefined ? "no dead letters to resend" : `no dead letter at offset ${offset}`);
      // One line per message: the progress of a long resend.
      for (const m of dead) {
        await admin.resendDeadLetter(group, m);
        printLine(JSON.stringify({ resent: m.queueOffset, msgId: m.msgId, to: RETRY_GROUP_TOPIC_PREFIX + group }));
      }
      return;
    }
    default:
      throw new UsageError(`"dlq" takes list, read or resend, got "${sub ?? ""}"`);
  }
}

function summary(m: MessageExt) {
  return {
    offset: m.queueOffset,
    msgId: m.msgId,
    originTopic: m.properties[MessageProperty.DLQ_ORIGIN_TOPIC] ?? m.properties[MessageProperty.RETRY_TOPIC],
    reconsumeTimes: m.reconsumeTimes,
    tags: m.tags,
    keys: m.keys,
    storeTimestamp: m.storeTimestamp,
    bodyBytes: m.body.byteLength,
  };
}

/**
 * `--to` of `offset reset`: earliest, latest, now, ms since the epoch, an ISO 8601 time, or
 * mqadmin's `yyyy-MM-dd#HH:mm:ss:SSS` (local time, as mqadmin reads it).
 */
export function resetPointOf(to: string): ResetPoint {
  try {
    return parseResetPoint(to);
  } catch (err) {
    if (err instanceof InvalidParameterError) throw new UsageError(`--to ${err.message}`);
    throw err;
  }
}

/**
 * `bolide offset reset --group G --topic T --to …` (mqadmin resetOffsetByTime): moves the
 * group's offsets on every broker of the topic, live members included; `--rewind-only` leaves
 * queues the group has not reached yet. `--broker B --queue N --offset N` sets one queue.
 */
export async function offsetCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  if (sub !== "reset") throw new UsageError(`"offset" takes reset, got "${sub ?? ""}"`);
  const group = required(values, "group");
  const topic = required(values, "topic");
  validateGroup(group);
  const json = values.json === true;
  let to: ResetPoint;
  if (values.queue !== undefined || values.offset !== undefined) {
    if (values.to !== undefined) throw new UsageError("give either --to or --broker/--queue/--offset");
    to = { brokerName: required(values, "broker"), queueId: intOption(required(values, "queue"), "queue", 0, 0, 65_535), offset: intOption(required(values, "offset"), "offset", 0, 0) };
  } else to = resetPointOf(required(values, "to"));
  await using admin = new Admin({ namesrvAddr: namesrv });
  const done = await admin.resetOffsets(group, topic, to, {
    force: values["rewind-only"] !== true,
    // A progress line per broker: on many brokers and queues the whole reset takes a while.
    onBroker: (r) => console.error(`bolide: reset ${group} on ${r.brokerName}: ${r.offsets.length} queue(s)`),
  });
  const rows = done.flatMap((b) => b.offsets.map((o) => ({ topic: o.mq.topic, broker: o.mq.brokerName, queue: o.mq.queueId, offset: o.offset })));
  printTable(rows, json);
}
