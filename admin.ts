/**
 * The admin endpoint as an edge module: its default export is a Fetch handler (`{ fetch }`)
 * over the cluster at BOLIDE_NAMESRV ("host:port;host:port"), reached over TCP. It runs
 * unchanged under `deno serve admin.ts` and `bun admin.ts` (both serve a default `{ fetch }`);
 * docs/admin-api.md says how to deploy it. BOLIDE_ADMIN_TOKEN enables writes, and since an edge
 * deployment is never loopback, every route then needs it.
 */
import { createAdminApp } from "./src/admin/app.ts";
import { Admin } from "./src/client/admin.ts";
import { MessageQuery } from "./src/client/message_query.ts";
import { env } from "./src/platform/runtime.ts";

const namesrv = env("BOLIDE_NAMESRV");
if (!namesrv) throw new Error("BOLIDE_NAMESRV is not set: the NameServer addresses, host:port;host:port");
const token = env("BOLIDE_ADMIN_TOKEN");
const app = createAdminApp({
  admin: new Admin({ namesrvAddr: namesrv }),
  messages: new MessageQuery({ namesrvAddr: namesrv }),
  access: { token, readsNeedToken: env("BOLIDE_ADMIN_OPEN_READS") !== "true" },
});

export default {
  port: Number(env("PORT") ?? 8080),
  fetch: app.fetch,
};
