import { BROKER_SETTINGS } from "../broker/broker_config.ts";
import { BolideError, RemotingError } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import { Admin } from "../client/admin.ts";
import { parseArgs } from "../platform/args.ts";
import { ListenError } from "../platform/tcp.ts";
import { argv, env, exit, printLine, runtimeVersion } from "../platform/runtime.ts";
import { runBench } from "./bench_commands.ts";
import { runAdmin } from "./admin_command.ts";
import { brokerAdminCommand, producerCommand } from "./broker_commands.ts";
import { clusterCommand, consumeCommand, namesrvOf, printRoute, required, sendCommand, topicCommand } from "./client_commands.ts";
import { dlqCommand, GROUP_SETTING_FLAGS, groupCommand, offsetCommand } from "./group_commands.ts";
import { messageCommand } from "./message_commands.ts";
import { brokerHelp, logLevel, runBroker, runController, runNameServer, runStart, UsageError } from "./server_commands.ts";

const HELP = `bolide ${VERSION}: a RocketMQ-style message queue

Usage: bolide <command> [options]

Servers (each prints the address it listens on as its first line of output)
  start                  a NameServer and a master broker in one process
      --data DIR         data directory (default ./data, or BOLIDE_HOME)
      --namesrv-port N   NameServer port (default 9876; 0 picks a free port)
      --broker-port N    broker port (default 10911; 0 picks a free port)
      --admin-port N     admin HTTP API port (default 8080 on --admin-host 127.0.0.1; 0 picks a free port)
  namesrv                a NameServer (with the failover controller embedded): --port N --host H
                         --expire-ms N --scan-ms N --controller-timeout-ms N
  controller             a standalone failover controller: --port N --host H --controller-timeout-ms N
                         [--etcd URL,URL: one member of a controller group kept in etcd; run three]
  broker                 a broker: --config FILE and --<setting> VALUE (bolide broker --help)
  admin                  the admin HTTP API alone (docs/admin-api.md): --namesrv A --admin-host H
                         --admin-port N (default 127.0.0.1:8080; 0 picks a free port)
                         --admin-token T (or BOLIDE_ADMIN_TOKEN; needed for writes, and any non-loopback bind)
                         --admin-cors-origin https://a,https://b (CORS off otherwise); namesrv, broker
                         and start take the same --admin-* options (start serves it by default)

Client (all take --namesrv host:port[;host:port], default 127.0.0.1:9876 or NAMESRV_ADDR)
  topic create --topic T [--queues N] [--cluster C]   create on every master broker
                         [--read-queues N] [--write-queues N] [--perm R|W|RW] [--order true|false]
  topic update --topic T [--perm R|W|RW] [--read-queues N] [--write-queues N] [--order true|false]
  topic list | route --topic T | delete --topic T
  topic status --topic T                               each queue's offsets and last update, per broker
  send --topic T --body B [--tags T] [--keys K]        or one message per line of stdin
  consume --topic T --group G [--from first|last] [--count N] [--timeout-ms N] [--tags EXPR]
  cluster [list]                                       brokers, roles, in/out TPS (--json: runtime state too)
  broker wipe-write --broker B                         producers drain away from broker group B
  broker add-write --broker B                          (before maintenance); and back
  broker config get --broker B | --addr A | --cluster C      every setting (live: changeable now)
  broker config set --broker B | --addr A | --cluster C name=value ...   live settings, kept in the file
  broker stats --broker B --name TOPIC_PUT_NUMS|GROUP_GET_NUMS|... --key TOPIC|TOPIC@GROUP   last minute, hour, day
  group list [--cluster C]                             every master's consumer groups and their settings
  group create|update --group G [--cluster C] [--consumeEnable true|false] [--consumeBroadcastEnable true|false]
                         [--retryMaxTimes N] [--retryQueueNums N] [--whichBrokerWhenConsumeSlowly N]
                         [--notifyConsumerIdsChangedEnable true|false]   create or change a group (others kept)
  group delete --group G [--cluster C] [--clean-offset]                 its settings (and committed offsets)
  group [connections] --group G                        a consumer group's members and subscriptions
  producer connections --group G                       a producer group's live clients, per broker
  group progress --group G [--topic T]                 per queue: broker and group offsets, lag
  group running --group G [--client ID]                what each member is doing (its queues, rates)
  consumer status|connections --group G                the same as group running|connections
  offset reset --group G --topic T --to earliest|latest|now|MS|ISO-TIME [--rewind-only]
                         [or --broker B --queue N --offset N]   live members move at once
  dlq list --group G [--count N]                       dead letters of a group
  dlq read --group G --offset N                        one dead letter, with its body
  dlq resend --group G [--offset N]                    back to the group (one, or all) via %RETRY%G
  route --topic T                                      same as topic route
  message query --topic T --key K [--begin T] [--end T] [--count N]   by key (or unique id), newest first
  message get --id ID [--topic T]                      by offset id, or with --topic by unique id
  message resend-to-client --group G --client ID --id ID [--topic T]   one message to one member's listener

Benchmarks
  bench produce --topic T [--size 1024] [--mode sync|async] [--inflight N] [--duration S]
  bench consume --topic T --group G [--duration S] [--push [--rate N [--warmup S]]]
  bench timer --topic T [--rate N] [--duration S] [--delay-ms N] [--pending N]   timer accuracy, RSS

  --json          output as JSON for scripts (send and consume print JSON lines always)
  --log-level L   debug | info | warn | error (default info)
  -h, --help      this help;   -v, --version   the version`;

/**
 * A command's own lines of the help (`bolide topic --help`): its entries with their
 * continuation lines, and the global options; undefined for a command the help does not list.
 */
export function commandHelp(command: string): string | undefined {
  const lines = HELP.split("\n");
  const out: string[] = [];
  let taking = false;
  for (const line of lines) {
    const m = /^ {2}(\S+)/.exec(line);
    if (m) taking = m[1] === command;
    else if (!/^ {3,}\S/.test(line)) taking = false; // a heading or a blank line ends an entry
    if (taking) out.push(line);
  }
  if (out.length === 0) return undefined;
  return `Usage: bolide ${command} [options]\n\n${out.join("\n")}\n\n${lines.slice(-3).join("\n")}`;
}

const brokerFlags = Object.fromEntries([...Object.keys(BROKER_SETTINGS), ...GROUP_SETTING_FLAGS].map((k) => [k, { type: "string" as const }]));

const options = {
  ...brokerFlags,
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  client: { type: "string" },
  version: { type: "boolean", short: "v" },
  config: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  data: { type: "string" },
  "namesrv-port": { type: "string" },
  "broker-port": { type: "string" },
  "expire-ms": { type: "string" },
  "scan-ms": { type: "string" },
  "controller-timeout-ms": { type: "string" },
  etcd: { type: "string" },
  namesrv: { type: "string" },
  topic: { type: "string" },
  group: { type: "string" },
  cluster: { type: "string" },
  queues: { type: "string" },
  body: { type: "string" },
  tags: { type: "string" },
  keys: { type: "string" },
  from: { type: "string" },
  count: { type: "string" },
  "timeout-ms": { type: "string" },
  size: { type: "string" },
  mode: { type: "string" },
  inflight: { type: "string" },
  duration: { type: "string" },
  "log-level": { type: "string" },
  offset: { type: "string" },
  push: { type: "boolean" },
  "clean-offset": { type: "boolean" },
  "rewind-only": { type: "boolean" },
  "admin-host": { type: "string" },
  "admin-port": { type: "string" },
  "admin-token": { type: "string" },
  "admin-cors-origin": { type: "string" },
  "read-queues": { type: "string" },
  "write-queues": { type: "string" },
  perm: { type: "string" },
  order: { type: "string" },
  to: { type: "string" },
  queue: { type: "string" },
  broker: { type: "string" },
  addr: { type: "string" },
  name: { type: "string" },
  rate: { type: "string" },
  warmup: { type: "string" },
  key: { type: "string" },
  "delay-ms": { type: "string" },
  pending: { type: "string" },
  id: { type: "string" },
  begin: { type: "string" },
  end: { type: "string" },
} as const;

export async function main(args: string[] = argv()): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    fail(`${(err as Error).message}\nRun "bolide --help" for usage.`, 2);
  }
  const { values, positionals } = parsed;
  const [command, sub] = positionals;
  if (values.version) {
    printLine(`bolide ${VERSION} (${runtimeVersion()})`);
    return;
  }
  if (command === "broker" && values.help) {
    printLine(brokerHelp());
    return;
  }
  if (values.help && command !== undefined && command !== "help") {
    const own = commandHelp(command);
    if (own === undefined) fail(`Unknown command "${command}". Run "bolide --help" for usage.`, 2);
    printLine(own);
    return;
  }
  if (values.help || command === undefined || command === "help") {
    printLine(HELP);
    return;
  }
  const namesrv = namesrvOf(values, env("NAMESRV_ADDR"));
  try {
    logLevel(values["log-level"]); // every command: a wrong level is a usage error, not ignored
    switch (command) {
      case "start":
        return await runStart(values);
      case "namesrv":
        return await runNameServer(values);
      case "controller":
        return await runController(values);
      case "admin":
        return await runAdmin(values, namesrv);
      case "broker":
        return sub === undefined ? await runBroker(values) : await brokerAdminCommand(sub, values, namesrv, positionals.slice(2));
      case "route":
        return await withAdmin(namesrv, async (admin) => printRoute(await admin.topicRoute(required(values, "topic")), values.json === true));
      case "cluster":
        if (sub !== undefined && sub !== "list") throw new UsageError(`"cluster" takes list (or nothing), got "${sub}"`);
        return await clusterCommand(namesrv, values.json === true);
      case "consumer":
        // mqadmin consumerStatus / consumerConnection under the names an operator knows.
        if (sub !== "status" && sub !== "connections") throw new UsageError(`"consumer" takes status or connections, got "${sub ?? ""}"`);
        return await groupCommand(sub === "status" ? "running" : "connections", values, namesrv);
      case "topic":
        return await topicCommand(sub, values, namesrv);
      case "send":
        return await sendCommand(values, namesrv);
      case "consume":
        return await consumeCommand(values, namesrv);
      case "group":
        return await groupCommand(sub, values, namesrv);
      case "producer":
        return await producerCommand(sub, values, namesrv);
      case "offset":
        return await offsetCommand(sub, values, namesrv);
      case "dlq":
        return await dlqCommand(sub, values, namesrv);
      case "message":
        return await messageCommand(sub, values, namesrv);
      case "bench":
        return await runBench(sub, values, namesrv);
      default:
        throw new UsageError(`Unknown command "${command}". Run "bolide --help" for usage.`);
    }
  } catch (err) {
    if (err instanceof UsageError) fail(err.message, err.exitCode);
    // A connection that failed is this side's finding, not an answer: no broker code to show.
    if (err instanceof RemotingError) fail(`${err.name}: ${err.message}`, 1);
    if (err instanceof BolideError) fail(`${err.name} (code ${err.code}): ${err.message}`, 1);
    if (err instanceof ListenError) fail(err.message, 1);
    throw err;
  }
}

function fail(message: string, code: number): never {
  console.error(`bolide: ${message}`);
  return exit(code);
}

async function withAdmin(addr: string, fn: (admin: Admin) => Promise<void>): Promise<void> {
  await using admin = new Admin({ namesrvAddr: addr });
  await fn(admin);
}
