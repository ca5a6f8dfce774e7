import { NameServerClient } from "../client/name_server_client.ts";
import { BolideError } from "../common/errors.ts";
import { createLogger, type LogLevel } from "../common/log.ts";
import { NameServer } from "../namesrv/name_server.ts";
import { parseArgs } from "../platform/args.ts";
import { argv, env, exit, onShutdownSignal, onUnhandled, printLine, runtimeVersion } from "../platform/runtime.ts";
import { VERSION } from "../common/version.ts";

const HELP = `bolide ${VERSION}: a RocketMQ-style message queue

Usage: bolide <command> [options]

Servers
  start                  NameServer with embedded defaults (the broker joins it once it exists)
      --namesrv-port N   port of the NameServer (default 9876; 0 picks a free port)
      --host H           address to listen on (default 127.0.0.1)
  namesrv                run a NameServer
      --port N           port (default 9876; 0 picks a free port)
      --host H           address to listen on (default 127.0.0.1)
      --expire-ms N      drop a broker silent this long (default 120000)
      --scan-ms N        how often to look for silent brokers (default 5000)

Client
  route --topic T        print a topic's route (queues and brokers) as JSON
  cluster                print the brokers of every cluster as JSON
  topic list             print every topic the NameServer knows
  topic delete --topic T remove a topic's route from every NameServer

Common options
  --namesrv ADDR         NameServer address(es), "host:port;host:port" (default 127.0.0.1:9876,
                         or the NAMESRV_ADDR environment variable)
  --log-level L          debug | info | warn | error (default info)
  -h, --help             this help
  -v, --version          print the version

A server prints the address it listens on as its first line of output.`;

const options = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  host: { type: "string" },
  port: { type: "string" },
  "namesrv-port": { type: "string" },
  "expire-ms": { type: "string" },
  "scan-ms": { type: "string" },
  namesrv: { type: "string" },
  topic: { type: "string" },
  cluster: { type: "string" },
  "log-level": { type: "string" },
} as const;

class UsageError extends Error {
  override name = "UsageError";
}

function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function logLevel(value: string | undefined): LogLevel {
  const v = value ?? "info";
  if (!["debug", "info", "warn", "error", "silent"].includes(v)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, got "${v}"`);
  }
  return v as LogLevel;
}

export async function main(args: string[] = argv()): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    fail(`${(err as Error).message}\nRun "bolide --help" for usage.`, 2);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    printLine(`bolide ${VERSION} (${runtimeVersion()})`);
    return;
  }
  const [command, sub] = positionals;
  if (values.help || command === undefined || command === "help") {
    printLine(HELP);
    return;
  }
  try {
    switch (command) {
      case "start":
      case "namesrv":
        return await runNameServer(command, values);
      case "route":
        return await withClient(values, async (c) => printJson(await c.getRoute(required(values.topic, "topic"))));
      case "cluster":
        return await withClient(values, async (c) => printJson(await c.getClusterInfo()));
      case "topic":
        if (sub === "list") return await withClient(values, async (c) => printJson(await c.getTopicList()));
        if (sub === "route") return await withClient(values, async (c) => printJson(await c.getRoute(required(values.topic, "topic"))));
        if (sub === "delete") {
          return await withClient(values, async (c) => {
            const topic = required(values.topic, "topic");
            await c.deleteTopic(topic, values.cluster);
            printLine(`deleted route of topic ${topic}`);
          });
        }
        throw new UsageError(`"topic" takes list, route or delete, got "${sub ?? ""}"`);
      default:
        throw new UsageError(`Unknown command "${command}". Run "bolide --help" for usage.`);
    }
  } catch (err) {
    if (err instanceof UsageError) fail(err.message, 2);
    if (err instanceof BolideError) fail(`${err.name} (code ${err.code}): ${err.message}`, 1);
    throw err;
  }
}

function required(v: string | undefined, name: string): string {
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

function fail(message: string, code: number): never {
  console.error(`bolide: ${message}`);
  return exit(code);
}

function printJson(v: unknown): void {
  printLine(JSON.stringify(v, null, 2));
}

async function withClient(values: { namesrv?: string }, fn: (c: NameServerClient) => Promise<void>): Promise<void> {
  const client = new NameServerClient({
    namesrvAddr: values.namesrv ?? env("NAMESRV_ADDR") ?? "127.0.0.1:9876",
  });
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

async function runNameServer(command: string, values: Record<string, string | boolean | undefined>): Promise<void> {
  const log = createLogger("namesrv", logLevel(values["log-level"] as string | undefined));
  const portFlag = command === "start" ? values["namesrv-port"] : values.port;
  const ns = new NameServer({
    host: (values.host as string | undefined) ?? "127.0.0.1",
    port: intOption(portFlag as string | undefined, command === "start" ? "namesrv-port" : "port", 9876, 0, 65535),
    brokerChannelExpiredTimeMs: intOption(values["expire-ms"] as string | undefined, "expire-ms", 120_000, 1),
    scanNotActiveBrokerIntervalMs: intOption(values["scan-ms"] as string | undefined, "scan-ms", 5_000, 1),
    log,
  });
  // A bug in one request must not take the registry down: log it and keep serving.
  onUnhandled((kind, err) => log.error(`${kind}: ${(err as Error)?.stack ?? String(err)}`));
  const addr = await ns.start();
  printLine(`bolide namesrv listening on ${addr}`);
  await new Promise<void>((resolve) => {
    onShutdownSignal(async (signal) => {
      log.info(`${signal}: shutting down`);
      await ns.stop();
      resolve();
    });
  });
  exit(0);
}
