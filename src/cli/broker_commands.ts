import { Admin } from "../client/admin.ts";
import { LIVE_SETTINGS } from "../broker/runtime_config.ts";
import { printLine } from "../platform/runtime.ts";
import { required } from "./client_commands.ts";
import { UsageError } from "./server_commands.ts";
import { printTable } from "./table.ts";

type Values = Record<string, unknown>;

/**
 * `bolide broker <sub>`: a running broker's administration (`bolide broker` without one runs a
 * broker). `wipe-write` / `add-write` (mqadmin wipeWritePerm / addWritePerm) take a broker
 * group out of producers' routes on every NameServer, and put it back.
 */
export async function brokerAdminCommand(sub: string, values: Values, namesrv: string, args: string[] = []): Promise<void> {
  await using admin = new Admin({ namesrvAddr: namesrv });
  const json = values.json === true;
  switch (sub) {
    case "wipe-write":
    case "add-write": {
      const brokerName = required(values, "broker");
      const wipe = sub === "wipe-write";
      const done = wipe ? await admin.wipeWritePerm(brokerName) : await admin.addWritePerm(brokerName);
      printTable(done.map((d) => ({ namesrv: d.namesrv, topics: d.topics })), json);
      if (!json) {
        printLine(wipe
          ? `${brokerName} is read-only in the routes: producers move away at their next route refresh; consumers keep reading`
          : `${brokerName} takes writes again`);
      }
      return;
    }
    case "config": {
      // mqadmin getBrokerConfig / updateBrokerConfig, on one address, a broker group's replicas or a cluster.
      const [action, ...settings] = args;
      const target = { addr: values.addr as string | undefined, brokerName: values.broker as string | undefined, cluster: values.cluster as string | undefined };
      if (target.addr === undefined && target.brokerName === undefined && target.cluster === undefined) throw new UsageError("broker config needs --broker B, --addr HOST:PORT or --cluster C");
      if (action === "get") {
        const rows: Record<string, string | number | boolean>[] = [];
        for (const b of await admin.replicas(target)) {
          for (const [setting, value] of Object.entries(await admin.brokerConfig(b.addr))) {
            rows.push({ broker: b.brokerName, id: b.brokerId, setting, value, live: setting in LIVE_SETTINGS });
          }
        }
        printTable(rows, json);
        return;
      }
      if (action === "set") {
        const changes: Record<string, string> = {};
        for (const a of settings) {
          const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(a);
          if (!m) throw new UsageError(`broker config set takes name=value pairs, got "${a}"`);
          changes[m[1]] = m[2];
        }
        if (Object.keys(changes).length === 0) throw new UsageError("broker config set needs at least one name=value");
        const done = await admin.updateBrokerConfig(changes, target);
        printTable(done.map((d) => ({ broker: d.brokerName, id: d.brokerId, addr: d.addr, changed: d.changed.join(",") || "(already so)" })), json);
        return;
      }
      throw new UsageError(`"broker config" takes get or set, got "${action ?? ""}"`);
    }
    case "stats": {
      // RocketMQ's BrokerStatsManager figures (VIEW_BROKER_STATS_DATA) on each broker named.
      const statsName = required(values, "name");
      const statsKey = required(values, "key");
      const target = { addr: values.addr as string | undefined, brokerName: values.broker as string | undefined, cluster: values.cluster as string | undefined };
      const rows: Record<string, string | number>[] = [];
      for (const b of await admin.replicas(target)) {
        const d = await admin.brokerStats(b.addr, statsName, statsKey);
        for (const [window, w] of [["minute", d.statsMinute], ["hour", d.statsHour], ["day", d.statsDay]] as const) {
          rows.push({ broker: b.brokerName, id: b.brokerId, window, sum: w.sum, tps: Number(w.tps.toFixed(2)), avgpt: Number(w.avgpt.toFixed(2)) });
        }
      }
      printTable(rows, json);
      return;
    }
    default:
      throw new UsageError(`"broker" takes wipe-write, add-write, config or stats (or no subcommand, to run a broker), got "${sub}"`);
  }
}

/** `bolide producer connections --group G` (mqadmin producerConnection): who sends as the group, per broker. */
export async function producerCommand(sub: string | undefined, values: Values, namesrv: string): Promise<void> {
  if (sub !== "connections") throw new UsageError(`"producer" takes connections, got "${sub ?? ""}"`);
  const group = required(values, "group");
  await using admin = new Admin({ namesrvAddr: namesrv });
  const out = await admin.producerConnections(group);
  printTable(out.flatMap((b) => b.connectionSet.map((c) => ({ broker: b.brokerName, clientId: c.clientId, clientAddr: c.clientAddr, language: c.language, version: c.version }))), values.json === true);
}
