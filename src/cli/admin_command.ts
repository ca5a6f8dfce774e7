import { createAdminApp } from "../admin/app.ts";
import { Admin } from "../client/admin.ts";
import { MessageQuery } from "../client/message_query.ts";
import { createLogger, type Logger } from "../common/log.ts";
import { serveHttp } from "../platform/http_server.ts";
import { env, printLine } from "../platform/runtime.ts";
import { intOption, logLevel, serveUntilSignal, UsageError } from "./options.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The admin HTTP endpoint (docs/admin-api.md) for the cluster of `namesrv`, from --admin-host
 * (127.0.0.1) and --admin-port (8080; 0 picks a free one). Any bind but loopback needs the admin
 * token (--admin-token or BOLIDE_ADMIN_TOKEN), which then guards reads too; writes always need it.
 */
export async function startAdminEndpoint(
  values: Record<string, unknown>,
  namesrv: string,
  log: Logger,
  metrics?: () => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const host = (values["admin-host"] as string | undefined) ?? "127.0.0.1";
  const port = intOption(values["admin-port"] as string | undefined, "admin-port", 8080, 0, 65535);
  const token = (values["admin-token"] as string | undefined) ?? env("BOLIDE_ADMIN_TOKEN");
  const open = !LOOPBACK.has(host);
  if (open && !token) throw new UsageError(`--admin-host ${host} is not loopback: set an admin token (--admin-token or BOLIDE_ADMIN_TOKEN) first`);
  const cors = values["admin-cors-origin"] as string | undefined;
  const corsOrigins = cors ? cors.split(",").map((o) => o.trim()).filter(Boolean) : undefined;
  for (const o of corsOrigins ?? []) if (!/^https?:\/\/[^/\s]+$/.test(o)) throw new UsageError(`--admin-cors-origin takes origins like https://ops.example.com, got "${o}"`);
  const admin = new Admin({ namesrvAddr: namesrv });
  const messages = new MessageQuery({ namesrvAddr: namesrv });
  const app = createAdminApp({ admin, messages, access: { token, readsNeedToken: open, corsOrigins }, log, metrics });
  let server;
  try {
    server = await serveHttp(app.fetch, { host, port });
  } catch (err) {
    messages.close();
    await admin.shutdown();
    throw err;
  }
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`,
    close: async () => {
      await server.close();
      messages.close();
      await admin.shutdown();
    },
  };
}

/** `bolide admin --namesrv …`: the admin endpoint alone; the first output line says where it listens. */
export async function runAdmin(values: Record<string, unknown>, namesrv: string): Promise<void> {
  const log = createLogger("admin", logLevel(values["log-level"] as string | undefined));
  const web = await startAdminEndpoint(values, namesrv, log);
  printLine(`bolide admin listening on ${web.url} (NameServer ${namesrv})`);
  await serveUntilSignal(log, () => web.close());
}
