import { createRequire } from "node:module";

/**
 * The unmodified npm client `ali-ons` (pinned in package.json), loaded as the CommonJS module it
 * is, with the few shapes these tests touch typed. Its timers are configurable options, not
 * changes to the client: short ones make a test see a rebalance or an offset commit in seconds
 * instead of its 10 s and 5 s defaults.
 */
const ons = createRequire(import.meta.url)("ali-ons");

export interface OnsMessage {
  topic: string;
  tags: string;
  keys: string[] | string;
  body: Uint8Array;
  properties: Record<string, string>;
  msgId: string;
  queueId: number;
  queueOffset: number;
  reconsumeTimes: number;
}

export interface OnsClient {
  ready(): Promise<void>;
  close(): Promise<void>;
  on(event: "error", fn: (err: Error) => void): void;
  removeAllListeners(event?: string): unknown;
}

/**
 * Keeps `client`'s errors (in clientLog) for as long as it exists. ali-ons delivers some errors
 * a turn later (setImmediate), and a producer's close() drops every listener, so an error of
 * its shared MQClient still in flight would reach an emitter with no listener, which throws.
 * removeAllListeners puts the listener back itself. (This did not cure the uncaught error of
 * the broker-restart test, which comes from elsewhere in ali-ons: see that test.)
 */
function keepErrorsOf(client: OnsClient, label: string): void {
  const listen = () => client.on("error", (err) => keep(label)(err.message));
  listen();
  const removeAll = client.removeAllListeners.bind(client);
  client.removeAllListeners = (event?: string) => {
    const r = removeAll(event);
    if (event === undefined || event === "error") listen();
    return r;
  };
}

export interface OnsProducer extends OnsClient {
  send(msg: OnsMessage): Promise<{ sendStatus: string; msgId: string; messageQueue: { queueId: number } }>;
  _mqClient: { createTopic(addr: string, defaultTopic: string, config: Record<string, unknown>, timeoutMs: number): Promise<void> };
}

export interface OnsConsumer extends OnsClient {
  subscribe(topic: string, expression: string, handler: (msg: OnsMessage) => Promise<unknown>): void;
}

export const ACTION_RETRY: symbol = ons.Consumer.ACTION_RETRY;

/** What the clients logged at warn and error level, kept for failure messages instead of printed. */
export const clientLog: string[] = [];
const keep = (level: string) => (...args: unknown[]) => {
  clientLog.push(`${level} ${args.map(String).join(" ")}`.slice(0, 400));
  if (clientLog.length > 200) clientLog.shift();
};
const logger = { info() {}, debug() {}, warn: keep("warn"), error: keep("error") };

/** Options every client of a test shares: the NameServer, no HTTP lookup, fast timers. */
export function clientOptions(namesrvAddr: string, instanceName: string): Record<string, unknown> {
  return {
    logger,
    nameSrv: namesrvAddr,
    httpclient: {}, // asserted by the constructor even with a fixed nameSrv; never called
    clientIP: "127.0.0.1",
    instanceName,
    pollNameServerInteval: 1_000,
    heartbeatBrokerInterval: 1_000,
    rebalanceInterval: 1_000,
    persistConsumerOffsetInterval: 500,
  };
}


/**
 * The process-wide internal producer (send-back's fallback) that the first producer or consumer
 * creates, made here first so that it has a listener: it would print its errors otherwise.
 */
async function innerProducer(options: Record<string, unknown>): Promise<void> {
  if (ons.Producer.defaultProducer) return;
  // Its own instance name, so its own MQClient: one shared with a test's clients would outlive them.
  const opts = { ...options, producerGroup: "CLIENT_INNER_PRODUCER", instanceName: "inner" };
  const inner = new ons.Producer(opts) as OnsProducer;
  keepErrorsOf(inner, "inner producer error");
  ons.Producer.defaultProducer = inner;
  await inner.ready();
}

export async function startProducer(options: Record<string, unknown>): Promise<OnsProducer> {
  await innerProducer(options);
  const p = new ons.Producer(options) as OnsProducer;
  keepErrorsOf(p, "producer error");
  await p.ready();
  return p;
}

/** A push consumer with its subscriptions made, ready (its first heartbeat and rebalance under way). */
export async function startConsumer(
  options: Record<string, unknown>,
  subscriptions: [topic: string, expression: string, handler: (msg: OnsMessage) => Promise<unknown>][],
): Promise<OnsConsumer> {
  await innerProducer(options);
  const c = new ons.Consumer(options) as OnsConsumer;
  keepErrorsOf(c, "consumer error");
  for (const [topic, expression, handler] of subscriptions) c.subscribe(topic, expression, handler);
  await c.ready();
  return c;
}

export function message(topic: string, tags: string | undefined, body: Uint8Array | string): OnsMessage {
  return new ons.Message(topic, tags, typeof body === "string" ? body : Buffer.from(body)) as OnsMessage;
}

/** Creates a topic as `mqadmin updateTopic` does: UPDATE_AND_CREATE_TOPIC to the broker. */
export async function createTopic(p: OnsProducer, brokerAddr: string, topic: string, queues = 4): Promise<void> {
  await p._mqClient.createTopic(brokerAddr, "TBW102", {
    topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: 6, topicFilterType: "SINGLE_TAG", topicSysFlag: 0, order: false,
  }, 3_000);
}

/** Closes a client (its errors are still kept: see keepErrorsOf). */
export async function closeClient(c: OnsClient): Promise<void> {
  await c.close();
}
