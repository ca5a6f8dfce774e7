import { Limits } from "../../common/limits.ts";
import type { ClusterInfo, TopicList, TopicRouteData } from "../../common/route.ts";
import { check, defineBody } from "./body_schema.ts";

const brokerData = check.object({
  cluster: check.string(),
  brokerName: check.string(),
  brokerAddrs: check.record(check.string(), 1_024),
});

/** GET_ROUTEINFO_BY_TOPIC's answer. */
export const TopicRouteBody = defineBody("TopicRouteData", (v, p): TopicRouteData => {
  const r = check.object({
    orderTopicConf: check.optional(check.string()),
    queueDatas: check.array(check.object({
      brokerName: check.string(),
      readQueueNums: check.int(0, Limits.maxQueueNums),
      writeQueueNums: check.int(0, Limits.maxQueueNums),
      perm: check.int(0, 15),
      topicSysFlag: check.optional(check.int()),
    }), Limits.maxBrokers),
    brokerDatas: check.array(brokerData, Limits.maxBrokers),
    filterServerTable: check.optional(check.record(check.array(check.string(), 1_024), Limits.maxBrokers)),
  })(v, p);
  return {
    ...(r.orderTopicConf !== undefined ? { orderTopicConf: r.orderTopicConf } : {}),
    queueDatas: r.queueDatas.map((q) => ({ ...q, topicSysFlag: q.topicSysFlag ?? 0 })),
    brokerDatas: r.brokerDatas,
    filterServerTable: r.filterServerTable ?? {},
  };
});

/** GET_BROKER_CLUSTER_INFO's answer. */
export const ClusterInfoBody = defineBody("ClusterInfo", (v, p): ClusterInfo => check.object({
  brokerAddrTable: check.record(brokerData, Limits.maxBrokers),
  clusterAddrTable: check.record(check.array(check.string(), Limits.maxBrokers), Limits.maxBrokers),
})(v, p));

/** GET_ALL_TOPIC_LIST_FROM_NAMESERVER's answer. */
export const TopicListBody = defineBody("TopicList", (v, p): TopicList => check.object({
  topicList: check.array(check.string(), Limits.maxTopics),
})(v, p));
