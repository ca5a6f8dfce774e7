import { validateTopic } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { createResponse, extInt, extString, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
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
        const raw = ctx.store.readRecord(extInt(r, "offset"));
        return raw ? successResponse(undefined, raw) : createResponse(ResponseCode.QUERY_NOT_FOUND, `no message at CommitLog offset ${extInt(r, "offset")}`);
      },
    },
  ];
}

function queryMessage(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const topic = extString(req, "topic");
  validateTopic(topic);
  const key = extString(req, "key");
  const maxNum = Math.min(64, Math.max(1, extInt(req, "maxNum", false) ?? 32));
  const found = ctx.store.queryMessage(topic, key, maxNum, extInt(req, "beginTimestamp", false) ?? 0, extInt(req, "endTimestamp", false) ?? Number.MAX_SAFE_INTEGER);
  if (found.length === 0) return createResponse(ResponseCode.QUERY_NOT_FOUND, `no message of ${topic} with key ${key}`);
  const raws = found.map((m) => ctx.store.readRecord(m.physicalOffset)!).filter(Boolean);
  return successResponse({ indexLastUpdatePhyoffset: ctx.store.dispatchedOffset }, concatBytes(raws));
}
