import { InvalidParameterError } from "../common/errors.ts";
import type { ClusterInfo } from "../common/route.ts";

/** One broker of a group: the master (brokerId 0) or a slave. */
export interface BrokerReplica {
  brokerName: string;
  brokerId: number;
  addr: string;
}

/** Which brokers an operation reaches: one address, every replica of a broker group, every broker of a cluster (none given: all). */
export interface BrokerTarget {
  addr?: string;
  brokerName?: string;
  cluster?: string;
}

/** The brokers of the cluster table that `target` names, by broker name then id; throws if none. */
export function replicasOf(info: ClusterInfo, target: BrokerTarget): BrokerReplica[] {
  const names = target.cluster !== undefined ? info.clusterAddrTable[target.cluster] ?? [] : target.brokerName !== undefined ? [target.brokerName] : Object.keys(info.brokerAddrTable);
  const out: BrokerReplica[] = [];
  for (const brokerName of names) {
    for (const [id, addr] of Object.entries(info.brokerAddrTable[brokerName]?.brokerAddrs ?? {})) {
      if (target.addr === undefined || target.addr === addr) out.push({ brokerName, brokerId: Number(id), addr });
    }
  }
  if (out.length === 0) throw new InvalidParameterError(`no registered broker matches ${JSON.stringify(target)}`);
  return out.sort((a, b) => a.brokerName.localeCompare(b.brokerName) || a.brokerId - b.brokerId);
}
