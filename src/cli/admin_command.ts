import { createAdminApp } from "../admin/app.ts";
import { Admin } from "../client/admin.ts";
import { MessageQuery } from "../client/message_query.ts";
import { createLogger } from "../common/log.ts";
import { serveHttp } from "../platform/http_server.ts";
import { env, printLine } from "../platform/runtime.ts";
import { intOption, logLevel, serveUntilSignal, UsageError } from "./server_commands.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * `bolide admin --namesrv …`: the admin HTTP endpoint alone (docs/admin-api.md). Loopback by
 * default; any other bind needs the admin token (--admin-token or BOLIDE_ADMIN_TOKEN), which
 * then guards reads too. Writes always need it. The first output line says where it listens.
 */
export async function runAdmin(values: Record<string, unknown>, namesrv: string): Promise<void> {
  const host = (values["admin-host"] as string | undefined) ?? "127.0.0.1";
  const port = intOption(values["admin-port"] as string | undefined, "admin-port", 8080, 0, 65535);
  const token = (values["admin-token"] as string | undefined) ?? env("BOLIDE_ADMIN_TOKEN");
  const open = !LOOPBACK.has(host);
  if (open && !token) throw new UsageError(`--admin-host ${host} is not loopback: set an admin token (--admin-token or BOLIDE_ADMIN_TOKEN) first`);
  const log = createLogger("admin", logLevel(values["log-level"] as string | undefined));
  const admin = new Admin({ namesrvAddr: namesrv });
  const messages = new MessageQuery({ namesrvAddr: namesrv });
  const app = createAdminApp({ admin, messages, access: { token, readsNeedToken: open }, log });
  const server = await serveHttp(app.fetch, { host, port });
  printLine(`bolide admin listening on http://${host.includes(":") ? `[${host}]` : host}:${server.port} (NameServer ${namesrv})`);
  await serveUntilSignal(log, async () => {
    await server.close();
    messages.close();
    await admin.shutdown();
  });
}
