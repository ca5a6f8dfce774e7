import { MessageProperty, SysFlag } from "../../common/message.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { EndTransactionRequestHeader } from "../../protocol/headers/transaction_header.ts";
import { createResponse, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { BrokerContext } from "../broker_context.ts";
import { committedOf } from "../transactional_message_service.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/** RocketMQ's EndTransactionProcessor: a producer commits or rolls back a half message. */
export function endTransactionProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [{ code: RequestCode.END_TRANSACTION, writes: true, handle: (r) => endTransaction(ctx, r) }];
}

/** Commit or roll back a half message (UNKNOWN leaves it to the check-back). */
async function endTransaction(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  const h = EndTransactionRequestHeader.decode(req);
  const type = h.commitOrRollback;
  if (type !== SysFlag.TRANSACTION_COMMIT_TYPE && type !== SysFlag.TRANSACTION_ROLLBACK_TYPE) return successResponse();
  const offset = h.commitLogOffset;
  const half = ctx.tx.halfAt(offset);
  if (!half) return createResponse(ResponseCode.SYSTEM_ERROR, `no half message at CommitLog offset ${offset}`);
  const group = h.producerGroup;
  if (half.properties[MessageProperty.PRODUCER_GROUP] !== group) {
    return createResponse(ResponseCode.SYSTEM_ERROR, `half message at ${offset} belongs to producer group ${half.properties[MessageProperty.PRODUCER_GROUP]}, not ${group}`);
  }
  await ctx.tx.decide(half, type === SysFlag.TRANSACTION_COMMIT_TYPE, committedOf);
  return successResponse();
}
