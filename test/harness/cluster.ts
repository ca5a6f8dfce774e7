import { join } from "node:path";
import type { BrokerConfig } from "../../src/broker/broker_config.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";
import { Producer, type ProducerOptions } from "../../src/client/producer.ts";
import type { Logger } from "../../src/common/log.ts";
import type { NameServer, NameServerOptions } from "../../src/namesrv/name_server.ts";
import { createTopic, startBroker, startNameServer } from "./servers.ts";
import { tempDir } from "./temp_dir.ts";

export interface ClusterOptions {
  /** The brokers, each with its own settings (and store directory name, "a", "b", … by default). One by default. */
  brokers?: (Partial<BrokerConfig> & { dir?: string; log?: Logger })[];
  /** Topics created on every broker, with their queue counts. */
  topics?: Record<string, number>;
  namesrv?: NameServerOptions;
  /** A producer of this group, started, in `producer` (default: "pg"; false for none). */
  producerGroup?: string | false;
  producerOptions?: Partial<ProducerOptions>;
}

/** What a test gets from startCluster: running servers and clients, all stopped at dispose. */
export interface Cluster extends AsyncDisposable {
  /** The test's temporary directory (brokers keep their stores in `dirOf(i)` under it). */
  readonly dir: string;
  readonly ns: NameServer;
  readonly namesrvAddr: string;
  readonly brokers: BrokerController[];
  /** The first broker. */
  readonly broker: BrokerController;
  /** The producer (group "pg" unless told otherwise), started. */
  readonly producer: Producer;
  /** Where broker `i` keeps its store. */
  dirOf(i: number): string;
  /** A client stopped at dispose (before the servers), in the order tracked, last first. */
  track<C extends { shutdown(): Promise<void> }>(client: C): C;
  /** Stops broker `i` cleanly (or kills it) and starts it again on the same store; returns the new one. */
  restart(i: number, opts?: { kill?: boolean; extra?: Partial<BrokerConfig> }): Promise<BrokerController>;
}

/**
 * A NameServer and brokers on loopback (free ports, a temporary directory), topics created on
 * each, and a started producer: the preamble of most integration tests, cleaned up in reverse
 * order at dispose even when the test fails midway.
 *
 * @example
 * await using c = await startCluster({ topics: { Orders: 4 } });
 * await c.producer.send({ topic: "Orders", body: "hello" });
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const dir = tempDir();
  const clients: { shutdown(): Promise<void> }[] = [];
  const started: BrokerController[] = [];
  let ns: (NameServer & AsyncDisposable) | undefined;
  const specs = opts.brokers ?? [{}];
  const dirOf = (i: number) => join(dir.path, specs[i]?.dir ?? String.fromCharCode(97 + i));
  const dispose = async () => {
    for (const c of clients.reverse()) await c.shutdown().catch(() => {});
    for (const b of started) await b.shutdown(1_000).catch(() => {});
    await ns?.stop().catch(() => {});
    dir[Symbol.dispose]();
  };
  try {
    ns = await startNameServer(opts.namesrv);
    const brokers: BrokerController[] = [];
    const startOne = async (i: number, extra: Partial<BrokerConfig> = {}) => {
      const { dir: _dir, log, ...config } = specs[i];
      const b = await startBroker(ns!.addr, dirOf(i), { ...config, ...extra }, log);
      started.push(b);
      return b;
    };
    for (let i = 0; i < specs.length; i++) brokers.push(await startOne(i));
    for (const [topic, queues] of Object.entries(opts.topics ?? {})) for (const b of brokers) await createTopic(b.addr, topic, queues);
    for (const b of brokers) await b.registerAll();
    const track = <C extends { shutdown(): Promise<void> }>(client: C): C => {
      clients.push(client);
      return client;
    };
    let producer: Producer | undefined;
    if (opts.producerGroup !== false) {
      producer = track(new Producer({ namesrvAddr: ns.addr, group: opts.producerGroup ?? "pg", ...opts.producerOptions }));
      await producer.start();
    }
    return {
      dir: dir.path,
      ns,
      namesrvAddr: ns.addr,
      brokers,
      get broker() {
        return brokers[0];
      },
      get producer() {
        if (!producer) throw new Error("startCluster was asked for no producer");
        return producer;
      },
      dirOf,
      track,
      async restart(i, r = {}) {
        if (r.kill) await brokers[i].kill();
        else await brokers[i].shutdown(1_000);
        brokers[i] = await startOne(i, r.extra);
        return brokers[i];
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
