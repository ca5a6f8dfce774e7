/**
 * Run inside a test "host": sends one message every `intervalMs` straight to one broker (no
 * route lookup, no retry) for `durationMs`, printing `<ms since epoch> <body> <response code>`
 * per send (-1 when it failed), then `done`. Usage: bun direct_sender.ts ADDR TOPIC DURATION_MS [INTERVAL_MS]
 */
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";

const [addr, topic, duration, interval = "10"] = process.argv.slice(2);
const client = new RemotingClient();
const end = Date.now() + Number(duration);
for (let i = 0; Date.now() < end; i++) {
  const body = `direct-${i}`;
  let code = -1;
  try {
    const r = await client.invoke(addr, createRequest(RequestCode.SEND_MESSAGE, { producerGroup: "direct", topic, queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 }, new TextEncoder().encode(body)), 1000);
    code = r.code;
  } catch {
    // unreachable or timed out: not acknowledged
  }
  console.log(`${Date.now()} ${body} ${code}`);
  await new Promise((r) => setTimeout(r, Number(interval)));
}
console.log("done");
client.close();
process.exit(0);
