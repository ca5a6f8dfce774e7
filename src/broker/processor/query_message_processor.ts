import { Limits } from "../../common/limits.ts";
import { MessageProperty } from "../../common/message.ts";
import { validateTopic } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader } from "../../protocol/headers/query_message_header.ts";
import { createResponse, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import { concatBytes } from "../../util/bytes.ts";
import type { BrokerContext } from "../broker_context.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/** RocketMQ's QueryMessageProcessor: messages by key or unique id (the IndexFile), and by CommitLog offset. */
export function queryMessageProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [
    { code: RequestCode.QUERY_MESSAGE, handle: (r) => queryMessage(ctx, r) },
    {
      code: RequestCode.VIEW_MESSAGE_BY_ID,
      handle: (r) => {
        const { offset } = ViewMessageRequestHeader.decode(r);
        const raw = ctx.store.readRecord(offset);
        return raw ? successResponse(undefined, raw) : createResponse(ResponseCode.QUERY_NOT_FOUND, `no message at CommitLog offset ${offset}`);
      },
    },
  ];
}

function queryMessage(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const { topic, key, ...h } = QueryMessageRequestHeader.decode(req);
  validateTopic(topic);
  const maxNum = Math.min(Limits.maxQueryMessages, Math.max(1, h.maxNum ?? 32));
  let found = ctx.store.queryMessage(topic, key, maxNum, h.beginTimestamp ?? 0, h.endTimestamp ?? Number.MAX_SAFE_INTEGER);
  // Unique ids and keys share the index: a query by unique id drops messages that only have it as a key.
  if (h.uniqueKeyQuery) found = found.filter((m) => m.properties[MessageProperty.UNIQ_KEY] === key);
  if (found.length === 0) return createResponse(ResponseCode.QUERY_NOT_FOUND, `no message of ${topic} with key ${key}`);
  const raws = found.map((m) => ctx.store.readRecord(m.physicalOffset)!).filter(Boolean);
  return successResponse(QueryMessageResponseHeader.encode({ indexLastUpdatePhyoffset: ctx.store.dispatchedOffset }), concatBytes(raws));
}
