import { adminBrokerProcessor } from "./admin_broker_processor.ts";
import { consumerManageProcessor } from "./consumer_manage_processor.ts";
import { endTransactionProcessor } from "./end_transaction_processor.ts";
import type { BrokerProcessor } from "./processor_table.ts";
import { pullMessageProcessor } from "./pull_message_processor.ts";
import { queryMessageProcessor } from "./query_message_processor.ts";
import { sendBackProcessor } from "./send_back_processor.ts";
import { sendMessageProcessor } from "./send_message_processor.ts";

/** Every family of request codes the broker serves, in registration order (RocketMQ's processor map). */
export const PROCESSORS: readonly BrokerProcessor[] = [
  sendMessageProcessor,
  pullMessageProcessor,
  consumerManageProcessor,
  sendBackProcessor,
  endTransactionProcessor,
  queryMessageProcessor,
  adminBrokerProcessor,
];
