import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
import { describe, testNeeding } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { createAdminApp } from "../../src/admin/app.ts";
import { Admin } from "../../src/client/admin.ts";
import { MessageQuery } from "../../src/client/message_query.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { serveHttp } from "../../src/platform/http_server.ts";

/** Debian's chromium (.ci/run installs it); no browser is ever downloaded. */
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "../artifacts");
const TOKEN = "dash-t0ken";
const FAST = { rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 200, pullDelayWhenExceptionMs: 100, consumeFromWhere: "first" as const };

describe("the dashboard in a real browser (headless Chromium through playwright-core)", () => {
  testNeeding({ what: "a Chromium at /usr/bin/chromium (Debian: chromium)", met: existsSync(CHROMIUM) }, "a topic appears after it is created; a group's lag rises while a producer sends and falls while a consumer drains it; a dead letter is resent and consumed; it fits a phone", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await using c = await startCluster({ topics: { Lagging: 2, Fragile: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const messages = new MessageQuery({ namesrvAddr: c.namesrvAddr });
    c.track({ shutdown: () => Promise.resolve(messages.close()) });
    const server = await serveHttp(createAdminApp({ admin, messages, access: { token: TOKEN } }).fetch, { host: "127.0.0.1", port: 0 });
    c.track({ shutdown: () => server.close() });
    const url = `http://127.0.0.1:${server.port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    c.track({ shutdown: () => browser.close() });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // Overview: the broker, and the chart drawn by the bundled uPlot.
    await page.goto(`${url}/#/`);
    await page.fill("#token", TOKEN);
    await page.waitForSelector("#brokers-table >> text=broker-a", { timeout: 20_000 });
    await page.waitForSelector("#tps .uplot", { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, "overview.png") });

    // Topics: one created elsewhere appears; one created here reaches the cluster.
    await page.goto(`${url}/#/topics`);
    await admin.createTopic("SeenInBrowser", { queues: 1 });
    await page.waitForSelector("#topics-table >> text=SeenInBrowser", { timeout: 20_000 });
    await page.fill("#topic-create input[name=topic]", "MadeInBrowser");
    await page.click("#topic-create button");
    await page.waitForSelector("#topic-msg >> text=created", { timeout: 20_000 });
    assert.ok((await admin.topicList()).includes("MadeInBrowser"));
    await page.screenshot({ path: join(ARTIFACTS, "topics.png") });

    // A group with offsets at 0 on both queues: its lag rises with each message sent...
    const pull = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "LagG", consumeFromWhere: "first" }));
    const mqs = [0, 1].map((queueId) => ({ topic: "Lagging", brokerName: "broker-a", queueId }));
    await pull.assign(mqs);
    for (const mq of mqs) await pull.commitOffset(mq, 0);
    await pull.shutdown();
    await page.goto(`${url}/#/group/LagG`);
    await page.waitForSelector("#lag-table", { timeout: 20_000 });
    for (let i = 0; i < 40; i++) await c.producer.send({ topic: "Lagging", body: `m${i}` });
    await page.waitForFunction(() => Number(document.querySelector("#lag-total")?.textContent) === 40, undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, "group-lag-risen.png") });
    // ... and falls to 0 while a consumer drains it.
    const drain = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "LagG", ...FAST }));
    drain.subscribe("Lagging").registerMessageListener(() => {});
    await drain.start();
    await page.waitForFunction(() => document.querySelector("#lag-total")?.textContent === "0", undefined, { timeout: 30_000 });
    await page.waitForSelector(`#members-table >> text=${drain.clientId}`, { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, "group-lag-drained.png") });

    // A dead letter: listed, resent with the token, consumed again.
    let healthy = false;
    const consumed: string[] = [];
    const fragile = c.track(new PushConsumer({ namesrvAddr: c.namesrvAddr, group: "FragileG", maxReconsumeTimes: 0, ...FAST }));
    fragile.subscribe("Fragile").registerMessageListener((msgs) => {
      if (!healthy) return "RECONSUME_LATER";
      consumed.push(...msgs.map((m) => new TextDecoder().decode(m.body)));
    });
    await fragile.start();
    await c.producer.send({ topic: "Fragile", body: "poison" });
    await page.goto(`${url}/#/dlq/FragileG`);
    await page.waitForSelector("#dlq-table [data-resend]", { timeout: 30_000 });
    healthy = true;
    await page.click("#dlq-table [data-resend]");
    await page.waitForSelector("#dlq-table >> text=resent", { timeout: 20_000 });
    await waitFor(() => consumed.includes("poison"), { timeoutMs: 20_000, what: "the resent dead letter consumed" });
    await page.screenshot({ path: join(ARTIFACTS, "dead-letters.png") });

    // A phone: the page fits its width (tables scroll inside their own boxes).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/#/`);
    await page.waitForSelector("#brokers-table >> text=broker-a", { timeout: 20_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
    await page.screenshot({ path: join(ARTIFACTS, "phone.png") });
    assert.deepEqual(errors, [], "no script errors on the page");
  });
});
