import { BrokerController } from "../broker/broker_controller.ts";
import { BROKER_SETTINGS, type BrokerConfig, brokerConfig, brokerSettingsHelp, parseProperties } from "../broker/broker_config.ts";
import { createLogger, type Logger } from "../common/log.ts";
import { startAdminEndpoint } from "./admin_command.ts";
import { type MetricFamily, prometheusText } from "../util/prometheus_text.ts";
import { intOption, logLevel, serveUntilSignal, UsageError } from "./options.ts";
import { NameServer } from "../namesrv/name_server.ts";
import { ControllerService, DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS } from "../controller/controller_service.ts";
import { RemotingServer } from "../remoting/remoting_server.ts";
import { nodeFileSystem } from "../platform/file_system.ts";
import { env, printLine } from "../platform/runtime.ts";

export { intOption, logLevel, serveUntilSignal, UsageError } from "./options.ts";

export async function runNameServer(values: Record<string, unknown>): Promise<void> {
  const log = createLogger("namesrv", logLevel(values["log-level"] as string | undefined));
  const ns = new NameServer({
    host: (values.host as string | undefined) ?? "127.0.0.1",
    port: intOption(values.port as string | undefined, "port", 9876, 0, 65535),
    brokerChannelExpiredTimeMs: intOption(values["expire-ms"] as string | undefined, "expire-ms", 120_000, 1),
    scanNotActiveBrokerIntervalMs: intOption(values["scan-ms"] as string | undefined, "scan-ms", 5_000, 1),
    controller: { heartbeatTimeoutMs: controllerTimeout(values) },
    log,
  });
  const addr = await ns.start();
  // The admin endpoint (and this NameServer's /metrics) only when asked for, with --admin-port.
  const stop = () => ns.stop();
  const web = await adminBeside(values, addr, log, () => ns.metricFamilies(), stop);
  printLine(`bolide namesrv listening on ${addr}${web ? ` admin ${web.url}` : ""}`);
  await serveUntilSignal(log, async () => {
    await web?.close();
    await stop();
  });
}

/**
 * The admin endpoint beside a server, over the cluster of `namesrv`, with this process's
 * `families` at /metrics: always for `start`, otherwise only with --admin-port. If it cannot
 * start, `stop` stops the server first.
 */
async function adminBeside(
  values: Record<string, unknown>,
  namesrv: string,
  log: Logger,
  families: () => MetricFamily[],
  stop: () => Promise<void>,
  always = false,
): Promise<Awaited<ReturnType<typeof startAdminEndpoint>> | undefined> {
  if (!always && values["admin-port"] === undefined) return undefined;
  try {
    return await startAdminEndpoint(values, namesrv, log.child("admin"), () => prometheusText(families()));
  } catch (err) {
    await stop();
    throw err;
  }
}

const controllerTimeout = (values: Record<string, unknown>) =>
  intOption(values["controller-timeout-ms"] as string | undefined, "controller-timeout-ms", DEFAULT_CONTROLLER_HEARTBEAT_TIMEOUT_MS, 100, 600_000);

/**
 * `bolide controller`: the failover controller on its own port, for brokers whose controllerAddr
 * names it. With `--etcd URL[,URL]` it is one member of a controller group (run three): etcd
 * elects the leader and keeps the state, so the group survives the loss of any member.
 */
export async function runController(values: Record<string, unknown>): Promise<void> {
  const log = createLogger("controller", logLevel(values["log-level"] as string | undefined));
  const etcd = (values.etcd as string | undefined)?.split(",").map((s) => s.trim()).filter(Boolean);
  const service = new ControllerService({ heartbeatTimeoutMs: controllerTimeout(values), etcdEndpoints: etcd }, log);
  const server = new RemotingServer({
    host: (values.host as string | undefined) ?? "127.0.0.1",
    port: intOption(values.port as string | undefined, "port", 9878, 0, 65535),
    log,
  });
  service.registerOn(server);
  const { host, port } = await server.start();
  service.start(`${host}:${port}`);
  printLine(`bolide controller listening on ${host}:${port}${etcd ? ` (group member, etcd ${etcd.join(",")})` : ""}`);
  await serveUntilSignal(log, async () => {
    await service.stop();
    await server.stop();
  });
}

const toEnvName = (setting: string) => "BOLIDE_" + setting.replace(/[A-Z0-9]+/g, (m) => "_" + m).toUpperCase();

/** Broker settings: properties file, then BOLIDE_* environment variables, then flags. */
export function brokerConfigFrom(values: Record<string, unknown>, base: Record<string, string> = {}): BrokerConfig {
  const fromFile: Record<string, string> = {};
  const file = values.config as string | undefined;
  if (file) {
    const text = nodeFileSystem.readText(file);
    if (text === undefined) throw new UsageError(`--config ${file}: cannot read the file`);
    Object.assign(fromFile, parseProperties(text, file));
  }
  const fromEnv: Record<string, string | undefined> = {};
  for (const name of Object.keys(BROKER_SETTINGS)) fromEnv[name] = env(toEnvName(name));
  const fromFlags: Record<string, string | undefined> = {};
  for (const name of Object.keys(BROKER_SETTINGS)) fromFlags[name] = values[name] as string | undefined;
  if (!file) {
    // Without --config, the file settings changed at run time were written to is read back.
    const saved = nodeFileSystem.readText(runtimeConfigFile(brokerConfig(base, fromEnv, fromFlags), values));
    if (saved !== undefined) Object.assign(fromFile, parseProperties(saved, "broker.properties"));
  }
  return brokerConfig(base, fromFile, fromEnv, fromFlags);
}

/** Where a broker writes settings changed at run time: its --config file, else `<storePathRootDir>/config/broker.properties`. */
export function runtimeConfigFile(config: BrokerConfig, values: Record<string, unknown>): string {
  return (values.config as string | undefined) ?? `${config.storePathRootDir}/config/broker.properties`;
}

export function brokerHelp(): string {
  return `bolide broker [--config broker.properties] [--<setting> value ...]

Settings (properties file keys; flags of the same name and BOLIDE_<SNAKE_CASE> environment
variables override the file):
${brokerSettingsHelp()}`;
}

export async function runBroker(values: Record<string, unknown>): Promise<void> {
  const config = brokerConfigFrom(values);
  const log = createLogger(`broker.${config.brokerName}`, logLevel(values["log-level"] as string | undefined));
  const broker = new BrokerController(config, { log, configFile: runtimeConfigFile(config, values) });
  const addr = await broker.start();
  const stop = () => broker.shutdown();
  const web = await adminBeside(values, config.namesrvAddr, log, () => broker.metricFamilies(), stop);
  printLine(`bolide broker listening on ${addr}${web ? ` admin ${web.url}` : ""}`);
  await serveUntilSignal(log, async () => {
    await web?.close();
    await stop();
  });
}

/** `bolide start`: a NameServer and a master broker in one process, data under --data (./data). */
export async function runStart(values: Record<string, unknown>): Promise<void> {
  const log = createLogger("bolide", logLevel(values["log-level"] as string | undefined));
  const dataDir = (values.data as string | undefined) ?? env("BOLIDE_HOME") ?? "./data";
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  const ns = new NameServer({
    host,
    port: intOption(values["namesrv-port"] as string | undefined, "namesrv-port", 9876, 0, 65535),
    log: log.child("namesrv"),
  });
  const nsAddr = await ns.start();
  let broker: BrokerController;
  try {
    const config = brokerConfigFrom(values, {
      namesrvAddr: nsAddr,
      brokerIP1: host,
      listenPort: String(intOption(values["broker-port"] as string | undefined, "broker-port", 10911, 0, 65535)),
      storePathRootDir: `${dataDir}/store`,
    });
    broker = new BrokerController(config, { log: log.child("broker"), configFile: runtimeConfigFile(config, values) });
    await broker.start();
  } catch (err) {
    await ns.stop();
    throw err;
  }
  // The admin endpoint on 127.0.0.1:8080 unless told otherwise (--admin-port 0: a free port).
  const b = broker;
  const stop = async () => {
    await b.shutdown();
    await ns.stop();
  };
  const web = (await adminBeside(values, nsAddr, log, () => [...b.metricFamilies(), ...ns.metricFamilies()], stop, true))!;
  printLine(`bolide listening: namesrv ${nsAddr} broker ${broker.addr} admin ${web.url}`);
  await serveUntilSignal(log, async () => {
    await web.close();
    await stop();
  });
}
