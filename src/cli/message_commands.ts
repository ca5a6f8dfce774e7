import { InvalidParameterError } from "../common/errors.ts";
import type { MessageExt } from "../client/message.ts";
import { Admin } from "../client/admin.ts";
import { MessageQuery } from "../client/message_query.ts";
import { printLine } from "../platform/runtime.ts";
import { required } from "./client_commands.ts";
import { intOption, UsageError } from "./server_commands.ts";
import { printTable } from "./table.ts";

type Values = Record<string, string | boolean | undefined>;

/**
 * `bolide message query --topic T --key K [--begin TIME] [--end TIME] [--count N]`: messages by
 * key, one JSON line each, newest first. `bolide message get --id ID [--topic T]`: one message
 * with its properties and body, by offset id or (with --topic) by unique id.
 */
export async function messageCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  const query = new MessageQuery({ namesrvAddr: namesrv });
  try {
    switch (sub) {
      case "query": {
        const topic = required(values, "topic");
        const key = required(values, "key");
        const found = await query.queryByKey(topic, key, {
          begin: timeOption(values.begin, "begin"),
          end: timeOption(values.end, "end"),
          maxNum: intOption(values.count as string | undefined, "count", 32, 1, 64),
        });
        if (found.length === 0) throw new UsageError(`no message of ${topic} with key ${key}`);
        if (values.json === true) return printLine(JSON.stringify(found.map(summary), null, 2));
        printTable(found.map((m) => ({
          queue: m.queueId, offset: m.queueOffset, msgId: m.msgId, tags: m.tags ?? "-", keys: m.keys.join(" ") || "-",
          stored: new Date(m.storeTimestamp).toISOString(), bytes: m.body.byteLength,
        })), false);
        return;
      }
      case "get": {
        const id = required(values, "id");
        const topic = values.topic as string | undefined;
        // Unique ids and offset ids are both 32 hex digits: with a topic the id is looked up as
        // a unique id first (what users hold), then as an offset id.
        let m = topic ? await query.getByUniqueId(topic, id) : undefined;
        if (!m) {
          m = await query.getByOffsetId(id).catch((err) => {
            if (topic) return undefined;
            // Without a topic only an offset id can be looked up: say what to add.
            if (err instanceof InvalidParameterError) throw new UsageError(`${err.message}: give --topic to look up a unique id`);
            throw err;
          });
        }
        if (!m) throw new UsageError(`no message with id ${id}${topic ? ` in ${topic}` : ""}`);
        printLine(JSON.stringify({ ...summary(m), properties: m.properties, body: new TextDecoder().decode(m.body) }, null, 2));
        return;
      }
      case "resend-to-client": {
        // mqadmin consumeMessage: one stored message to one member's listener, nothing committed.
        const group = required(values, "group");
        const client = required(values, "client");
        const id = required(values, "id");
        await using admin = new Admin({ namesrvAddr: namesrv });
        const r = await admin.consumeMessageDirectly(group, client, id, values.topic as string | undefined);
        printLine(JSON.stringify(r, null, 2));
        if (r.consumeResult !== "CR_SUCCESS") throw new UsageError(`the listener of ${client} answered ${r.consumeResult}`, 1);
        return;
      }
      default:
        throw new UsageError(`"message" takes query, get or resend-to-client, got "${sub ?? ""}"`);
    }
  } finally {
    query.close();
  }
}

/** ms since the epoch, or an ISO-8601 date ("2026-11-24T18:00:00Z"). */
function timeOption(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) throw new UsageError(`--${name} must be ms since the epoch or an ISO date, got "${s}"`);
  return t;
}

function summary(m: MessageExt) {
  return {
    topic: m.topic,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    msgId: m.msgId,
    offsetMsgId: m.offsetMsgId,
    tags: m.tags,
    keys: m.keys,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    storeHost: m.storeHost,
    bodyBytes: m.body.byteLength,
  };
}
