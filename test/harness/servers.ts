import { NameServer, type NameServerOptions } from "../../src/namesrv/name_server.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import type { RegisterBrokerBody, TopicConfig } from "../../src/common/route.ts";
import { type BrokerIdentity, registerBrokerRequest } from "../../src/protocol/namesrv_requests.ts";
import { createRequest, type RemotingCommand } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";

/** An in-process NameServer on a free loopback port, stopped when disposed. */
export async function startNameServer(opts: NameServerOptions = {}): Promise<NameServer & AsyncDisposable> {
  const ns = new NameServer({ port: 0, ...opts }) as NameServer & AsyncDisposable;
  await ns.start();
  ns[Symbol.asyncDispose] = () => ns.stop();
  return ns;
}

export function topicConfig(topicName: string, queues = 4, perm = 6): TopicConfig {
  return { topicName, readQueueNums: queues, writeQueueNums: queues, perm, topicSysFlag: 0, order: false };
}

export function registerBody(topics: TopicConfig[], counter = 1): RegisterBrokerBody {
  const topicConfigTable: Record<string, TopicConfig> = {};
  for (const t of topics) topicConfigTable[t.topicName] = t;
  return { topicConfigSerializeWrapper: { topicConfigTable, dataVersion: { timestamp: 1, counter } }, filterServerList: [] };
}

/**
 * A stand-in broker for NameServer tests: it speaks REGISTER_BROKER over its own connection, so
 * closing it is what a dead broker looks like to the NameServer.
 */
export class FakeBroker implements AsyncDisposable {
  readonly client = new RemotingClient();
  constructor(readonly id: BrokerIdentity) {}

  register(namesrvAddr: string, topics: TopicConfig[], counter = 1): Promise<RemotingCommand> {
    return this.client.invoke(namesrvAddr, registerBrokerRequest(this.id, registerBody(topics, counter)));
  }

  close(): void {
    this.client.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

import { BrokerController } from "../../src/broker/broker_controller.ts";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import type { Logger } from "../../src/common/log.ts";

/** An in-process broker on a free port with its store in `dir`, registered with `namesrvAddr`. */
export async function startBroker(
  namesrvAddr: string,
  dir: string,
  extra: Partial<BrokerConfig> = {},
  log?: Logger,
): Promise<BrokerController & AsyncDisposable> {
  const b = new BrokerController({
    namesrvAddr,
    listenPort: 0,
    storePathRootDir: dir,
    commitLogSegmentBytes: 8 * 1024 * 1024,
    maxMessageSize: 1024 * 1024,
    registerNameServerPeriod: 1_000,
    ...extra,
  }, { log }) as BrokerController & AsyncDisposable;
  await b.start();
  b[Symbol.asyncDispose] = () => b.shutdown(1_000).catch(() => {});
  return b;
}

/** Brokers a test starts and restarts, each shut down at dispose even when the test fails midway. */
export class Brokers implements AsyncDisposable {
  readonly #all: BrokerController[] = [];
  track<B extends BrokerController>(b: B): B {
    this.#all.push(b);
    return b;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    for (const b of this.#all) await b.shutdown(1_000).catch(() => {});
  }
}

/** Creates `topic` with `queues` read and write queues on one broker, asserting it worked. */
export async function createTopic(brokerAddr: string, topic: string, queues: number): Promise<void> {
  const admin = new RemotingClient();
  try {
    const r = await admin.invoke(brokerAddr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: queues, writeQueueNums: queues }));
    if (r.code !== 0) throw new Error(`UPDATE_AND_CREATE_TOPIC of ${topic} on ${brokerAddr} answered ${r.code}: ${r.remark ?? ""}`);
  } finally {
    admin.close();
  }
}
