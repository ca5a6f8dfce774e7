import type { RegisterBrokerBody } from "../common/route.ts";
import { encodeBody } from "./body_codec.ts";
import { RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader } from "./headers/broker_header.ts";
import { DeleteTopicFromNamesrvRequestHeader, GetRouteInfoRequestHeader } from "./headers/topic_header.ts";
import { createRequest, type RemotingCommand } from "./remoting_command.ts";
import { RequestCode } from "./request_code.ts";
import { SerializeType } from "./serialize_type.ts";

/** Builders for the requests NameServers answer, shared by brokers, clients, tools and tests. */

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerAddr: string;
  brokerId: number;
  haServerAddr?: string;
  /** How long the NameServer may go without hearing from this broker before dropping it. */
  heartbeatTimeoutMillis?: number;
}

export function registerBrokerRequest(
  id: BrokerIdentity,
  body: RegisterBrokerBody,
  type: number = SerializeType.CBOR,
): RemotingCommand {
  const ext = RegisterBrokerRequestHeader.encode({
    clusterName: id.clusterName,
    brokerName: id.brokerName,
    brokerAddr: id.brokerAddr,
    brokerId: id.brokerId,
    haServerAddr: id.haServerAddr ?? "",
    heartbeatTimeoutMillis: id.heartbeatTimeoutMillis,
  });
  return createRequest(RequestCode.REGISTER_BROKER, ext, encodeBody(body, type));
}

export function unregisterBrokerRequest(id: BrokerIdentity): RemotingCommand {
  return createRequest(RequestCode.UNREGISTER_BROKER, UnregisterBrokerRequestHeader.encode({
    clusterName: id.clusterName,
    brokerName: id.brokerName,
    brokerAddr: id.brokerAddr,
    brokerId: id.brokerId,
  }));
}

export function getRouteInfoRequest(topic: string): RemotingCommand {
  return createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader.encode({ topic }));
}

export function getClusterInfoRequest(): RemotingCommand {
  return createRequest(RequestCode.GET_BROKER_CLUSTER_INFO);
}

export function getAllTopicListRequest(): RemotingCommand {
  return createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
}

export function deleteTopicInNamesrvRequest(topic: string, clusterName?: string): RemotingCommand {
  return createRequest(RequestCode.DELETE_TOPIC_IN_NAMESRV, DeleteTopicFromNamesrvRequestHeader.encode({ topic, clusterName }));
}
