/**
 * Bolide's client library, for Bun, Deno and Node. Explicit, alphabetised exports: values first,
 * then types. Servers are started with the `bolide` binary (cli.ts), not from here.
 */
export { Admin } from "./src/client/admin.ts";
export { allocateAveragely, allocateAveragelyByCircle, allocateByConsistentHash } from "./src/client/allocate_message_queue.ts";
export { ClientInstance } from "./src/client/client_instance.ts";
export { decodeMessages } from "./src/client/message.ts";
export { MessageQuery } from "./src/client/message_query.ts";
export { NameServerClient, parseNamesrvAddr } from "./src/client/name_server_client.ts";
export { Producer, selectByHash } from "./src/client/producer.ts";
export { PullConsumer } from "./src/client/pull_consumer.ts";
export { PushConsumer } from "./src/client/push_consumer.ts";
export { TransactionProducer } from "./src/client/transaction_producer.ts";
export {
  BolideError,
  errorFromResponse,
  errors,
  FrameError,
  InvalidParameterError,
  MessageIllegalError,
  NoPermissionError,
  RemotingClosedError,
  RemotingConnectError,
  RemotingError,
  RemotingTimeoutError,
  RemotingTooManyRequestsError,
  ResponseError,
  SendFailedError,
  ServiceNotAvailableError,
  SubscriptionParseError,
  SystemBusyError,
  TopicNotExistError,
} from "./src/common/errors.ts";
export { Limits } from "./src/common/limits.ts";
export { validateGroup, validateTopic } from "./src/common/names.ts";
export { ResponseCode, responseCodeName } from "./src/common/response_code.ts";
export { MessageProperty, SysFlag } from "./src/common/message.ts";
export { createOffsetMsgId, parseOffsetMsgId } from "./src/common/message_id.ts";
export { compileSql92 } from "./src/common/sql92_filter.ts";
export { MASTER_ID, Perm, PERM_READ_WRITE } from "./src/common/route.ts";
export { VERSION } from "./src/common/version.ts";
export { decodeBody, encodeBody } from "./src/protocol/body_codec.ts";
export { encodeFrame, encodeFrameBytes, FrameDecoder, FrameDecoderStream } from "./src/protocol/frame_codec.ts";
export { defineHeader, field, optional } from "./src/protocol/headers/header_schema.ts";
export {
  createRequest,
  createResponse,
  FLAG_ONEWAY,
  FLAG_RESPONSE,
  successResponse,
} from "./src/protocol/remoting_command.ts";
export { RequestCode, requestCodeName } from "./src/protocol/request_code.ts";
export { SerializeType } from "./src/protocol/serialize_type.ts";
export { RemotingClient } from "./src/remoting/remoting_client.ts";
export { RemotingServer } from "./src/remoting/remoting_server.ts";

export type {
  AdminOptions,
  BrokerGroups,
  BrokerReplica,
  BrokerTarget,
  ConsumerConnection,
  MasterBroker,
  OffsetReset,
  ProducerConnection,
  ResetPoint,
  SubscriptionGroupConfig,
  SubscriptionGroupSettings,
  TopicChanges,
  TopicCreation,
} from "./src/client/admin.ts";
export type { AllocateStrategy } from "./src/client/allocate_message_queue.ts";
export type { ClientInstanceOptions } from "./src/client/client_instance.ts";
export type { Message, MessageExt, MessageQueue } from "./src/client/message.ts";
export type { KeyQuery, MessageQueryOptions } from "./src/client/message_query.ts";
export type { NameServerClientOptions } from "./src/client/name_server_client.ts";
export type {
  LocalTransactionState,
  MessageQueueSelector,
  ProducerOptions,
  SendCallback,
  SendResult,
  SendStatus,
  TransactionListener,
  TransactionSendResult,
} from "./src/client/producer.ts";
export type { PullConsumerOptions } from "./src/client/pull_consumer.ts";
export type {
  ConsumerRunningInfo,
  ConsumeStats,
  OffsetWrapper,
  ProcessQueueInfo,
  TopicOffset,
  TopicStatsTable,
} from "./src/protocol/bodies/stats_bodies.ts";
export type { TransactionProducerOptions } from "./src/client/transaction_producer.ts";
export type {
  ConsumeConcurrentlyStatus,
  ConsumeContext,
  ConsumeOrderlyStatus,
  MessageListenerConcurrently,
  MessageListenerOrderly,
  PushConsumerOptions,
  PushConsumerStats,
} from "./src/client/push_consumer.ts";
export type { ResponseCodeName } from "./src/common/response_code.ts";
export type {
  BrokerData,
  ClusterInfo,
  DataVersion,
  QueueData,
  RegisterBrokerBody,
  TopicConfig,
  TopicRouteData,
} from "./src/common/route.ts";
export type { Field, HeaderCodec, HeaderOf } from "./src/protocol/headers/header_schema.ts";
export type { ExtFields, ExtValue, RemotingCommand } from "./src/protocol/remoting_command.ts";
export type { RemotingClientOptions } from "./src/remoting/remoting_client.ts";
export type { ConnectionLimits, Processor, RequestContext } from "./src/remoting/remoting_connection.ts";
export type { RemotingServerOptions } from "./src/remoting/remoting_server.ts";
