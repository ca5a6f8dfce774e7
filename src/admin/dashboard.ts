/**
 * The dashboard: one page, no framework, served by the admin app at `/` with uPlot (bundled in
 * assets.generated.ts, no CDN). It reads the same /api/ routes as any client; writes send the
 * admin token typed into the header (kept in sessionStorage, never in the URL). Pages are hash
 * routes: overview, topics, a group (lag per queue and over time, members, reset), messages,
 * dead letters, broker settings. Laid out to work at 1,280 px and on a phone.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bolide</title><link rel="stylesheet" href="/assets/uplot.css">
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#16324f;color:#fff}
header a{color:#cfe3ff;text-decoration:none}header a.on{color:#fff;font-weight:600}
header .grow{flex:1}input,select,button{font:inherit;padding:.3rem .5rem}
main{padding:1rem;max-width:1280px;margin:auto}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:1rem;margin-bottom:1rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eceff3;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}form{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
.err{color:#b00020}.big{font-size:1.6rem;font-weight:600}
</style></head><body>
<header><strong>Bolide</strong>
<a href="#/">Overview</a><a href="#/topics">Topics</a><a href="#/groups">Groups</a><a href="#/messages">Messages</a><a href="#/dlq">Dead letters</a><a href="#/config">Config</a>
<span class="grow"></span><label>Token <input id="token" type="password" autocomplete="off" size="12"></label></header>
<main id="main"></main>
<script src="/assets/uplot.js"></script>
<script>
const $ = (s, el = document) => el.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const tokenInput = $("#token");
tokenInput.value = sessionStorage.getItem("bolide-token") ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem("bolide-token", tokenInput.value));
async function api(path, init = {}) {
  const headers = { ...(init.body ? { "content-type": "application/json" } : {}) };
  if (tokenInput.value) headers.authorization = "Bearer " + tokenInput.value;
  const r = await fetch("/api" + path, { ...init, headers });
  const body = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error((body && (body.detail || body.title)) || r.statusText);
  return body;
}
function table(id, cols, rows) {
  return '<div class="scroll"><table id="' + id + '"><thead><tr>' + cols.map((c) => "<th>" + esc(c[0]) + "</th>").join("") + "</tr></thead><tbody>" +
    rows.map((r) => "<tr>" + cols.map((c) => { const v = c[1](r); return typeof v === "number" ? '<td class="n">' + v + "</td>" : "<td>" + (c[2] ? v : esc(v)) + "</td>"; }).join("") + "</tr>").join("") + "</tbody></table></div>";
}
function chart(el, labels) {
  const data = [[], ...labels.map(() => [])];
  const plot = new uPlot({ width: Math.min(el.clientWidth || 600, 1200), height: 220, series: [{}, ...labels.map((l, i) => ({ label: l, stroke: ["#1f77b4", "#d62728", "#2ca02c"][i % 3] }))], axes: [{}, {}] }, data, el);
  return (values) => { data[0].push(Date.now() / 1000); values.forEach((v, i) => data[i + 1].push(v)); if (data[0].length > 300) data.forEach((d) => d.shift()); plot.setData(data); };
}
let timer;
const every = (ms, fn) => { clearInterval(timer); fn(); timer = setInterval(fn, ms); };
const fail = (el, e) => { el.innerHTML = '<p class="err">' + esc(e.message) + "</p>"; };
const pages = {
  "": (main) => {
    main.innerHTML = '<section><h2>Brokers</h2><div id="brokers"></div></section><section><h2>Messages per second</h2><div id="tps"></div></section>';
    const add = chart($("#tps"), ["in", "out"]);
    every(2000, async () => {
      try {
        const { brokers } = await api("/cluster");
        const first = (t) => Number(String(t ?? "0").split(" ")[0]);
        $("#brokers").innerHTML = table("brokers-table", [["broker", (b) => b.brokerName], ["id", (b) => b.brokerId], ["role", (b) => b.role], ["address", (b) => b.addr],
          ["in TPS", (b) => first(b.runtime.putTps)], ["out TPS", (b) => first(b.runtime.getTransferedTps)], ["disk full", (b) => b.runtime.diskFull ?? "-"], ["RSS MiB", (b) => Math.round(Number(b.runtime.rssBytes ?? 0) / 1048576)]], brokers);
        add([brokers.reduce((n, b) => n + first(b.runtime.putTps), 0), brokers.reduce((n, b) => n + first(b.runtime.getTransferedTps), 0)]);
      } catch (e) { fail($("#brokers"), e); }
    });
  },
  topics: (main) => {
    main.innerHTML = '<section><h2>Topics</h2><form id="topic-create"><input name="topic" placeholder="topic" required><input name="queues" type="number" min="1" max="1024" value="8"><button>Create</button><span id="topic-msg"></span></form><div id="topics"></div></section>';
    $("#topic-create").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try { await api("/topics", { method: "POST", body: JSON.stringify({ topic: f.get("topic"), queues: Number(f.get("queues")) }) }); $("#topic-msg").textContent = "created"; }
      catch (e) { $("#topic-msg").innerHTML = '<span class="err">' + esc(e.message) + "</span>"; }
    });
    every(2000, async () => {
      try { $("#topics").innerHTML = table("topics-table", [["topic", (t) => '<a href="#/topic/' + encodeURIComponent(t) + '">' + esc(t) + "</a>", true]], (await api("/topics")).filter((t) => !t.startsWith("%") && !t.startsWith("rmq_sys"))); }
      catch (e) { fail($("#topics"), e); }
    });
  },
  topic: (main, name) => {
    main.innerHTML = "<section><h2>Topic " + esc(name) + '</h2><div id="status"></div></section>';
    every(2000, async () => {
      try { $("#status").innerHTML = table("status-table", [["broker", (s) => s.mq.brokerName], ["queue", (s) => s.mq.queueId], ["min", (s) => s.offset.minOffset], ["max", (s) => s.offset.maxOffset], ["last update", (s) => s.offset.lastUpdateTimestamp ? new Date(s.offset.lastUpdateTimestamp).toISOString() : "-"]], await api("/topics/" + encodeURIComponent(name) + "/status")); }
      catch (e) { fail($("#status"), e); }
    });
  },
  groups: (main) => {
    main.innerHTML = '<section><h2>Consumer groups</h2><div id="groups"></div></section>';
    every(5000, async () => {
      try {
        const names = [...new Set((await api("/groups")).flatMap((b) => b.groups.map((g) => g.groupName)))].sort();
        $("#groups").innerHTML = table("groups-table", [["group", (g) => '<a href="#/group/' + encodeURIComponent(g) + '">' + esc(g) + "</a>", true]], names);
      } catch (e) { fail($("#groups"), e); }
    });
  },
  group: (main, name) => {
    main.innerHTML = "<section><h2>Group " + esc(name) + '</h2><p>Lag <span class="big" id="lag-total">…</span> · consume TPS <span id="consume-tps">…</span></p><div id="lag-chart"></div><div id="lag"></div></section>' +
      '<section><h3>Reset offsets</h3><form id="reset"><input name="topic" placeholder="topic" required><select name="to"><option>earliest</option><option>latest</option></select><button>Reset</button><span id="reset-msg"></span></form></section><section><h3>Members</h3><div id="members"></div></section>';
    const add = chart($("#lag-chart"), ["lag"]);
    $("#reset").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try { await api("/groups/" + encodeURIComponent(name) + "/reset", { method: "POST", body: JSON.stringify({ topic: f.get("topic"), to: f.get("to") }) }); $("#reset-msg").textContent = "reset"; }
      catch (e) { $("#reset-msg").innerHTML = '<span class="err">' + esc(e.message) + "</span>"; }
    });
    every(1000, async () => {
      try {
        const p = await api("/groups/" + encodeURIComponent(name) + "/progress");
        $("#lag-total").textContent = p.lag;
        $("#consume-tps").textContent = p.consumeTps.toFixed(1);
        add([p.lag]);
        $("#lag").innerHTML = table("lag-table", [["topic", (q) => q.mq.topic], ["broker", (q) => q.mq.brokerName], ["queue", (q) => q.mq.queueId], ["broker offset", (q) => q.offset.brokerOffset], ["group offset", (q) => q.offset.consumerOffset], ["lag", (q) => q.offset.brokerOffset - q.offset.consumerOffset]], p.queues);
        const members = (await api("/groups/" + encodeURIComponent(name) + "/connections")).flatMap((v) => v.members.map((m) => ({ ...m, broker: v.brokerName })));
        $("#members").innerHTML = table("members-table", [["client", (m) => m.clientId], ["address", (m) => m.clientAddr], ["broker", (m) => m.broker], ["model", (m) => m.messageModel]], members);
      } catch (e) { fail($("#lag"), e); }
    });
  },
  messages: (main) => {
    main.innerHTML = '<section><h2>Messages</h2><form id="search"><input name="topic" placeholder="topic"><input name="key" placeholder="key"><input name="id" placeholder="or message id"><button>Search</button></form><div id="found"></div></section>';
    clearInterval(timer);
    $("#search").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const q = new URLSearchParams([...f.entries()].filter(([, v]) => v));
      try { $("#found").innerHTML = table("found-table", [["topic", (m) => m.topic], ["queue", (m) => m.queueId], ["offset", (m) => m.queueOffset], ["msgId", (m) => m.msgId], ["tags", (m) => m.tags ?? ""], ["body (" + "preview)", (m) => m.bodyEncoding + ": " + m.bodyPreview]], await api("/messages?" + q)); }
      catch (e) { fail($("#found"), e); }
    });
  },
  dlq: (main, group) => {
    main.innerHTML = '<section><h2>Dead letters</h2><form id="dlq-group"><input name="group" placeholder="consumer group" value="' + esc(group ?? "") + '" required><button>Show</button></form><div id="dead"></div></section>';
    $("#dlq-group").addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = "#/dlq/" + encodeURIComponent(new FormData(ev.target).get("group")); });
    if (!group) return clearInterval(timer);
    every(2000, async () => {
      try {
        $("#dead").innerHTML = table("dlq-table", [["offset", (m) => m.queueOffset], ["msgId", (m) => m.msgId], ["origin", (m) => m.properties.DLQ_ORIGIN_TOPIC ?? ""], ["retries", (m) => m.reconsumeTimes], ["body", (m) => m.bodyPreview],
          ["", (m) => '<button data-resend="' + m.queueOffset + '">Resend</button>', true]], await api("/groups/" + encodeURIComponent(group) + "/dlq"));
        for (const b of document.querySelectorAll("[data-resend]")) b.onclick = async () => {
          try { await api("/groups/" + encodeURIComponent(group) + "/dlq/" + b.dataset.resend + "/resend", { method: "POST" }); b.textContent = "resent"; b.disabled = true; }
          catch (e) { b.insertAdjacentHTML("afterend", ' <span class="err">' + esc(e.message) + "</span>"); }
        };
      } catch (e) { fail($("#dead"), e); }
    });
  },
  config: (main) => {
    main.innerHTML = '<section><h2>Broker settings</h2><form id="cfg-pick"><select name="addr" id="cfg-addr"></select><button>Show</button></form><form id="cfg-set"><input name="pair" placeholder="name=value"><button>Set (live settings)</button><span id="cfg-msg"></span></form><div id="cfg"></div></section>';
    clearInterval(timer);
    api("/cluster").then(({ brokers }) => { $("#cfg-addr").innerHTML = brokers.map((b) => '<option value="' + esc(b.addr) + '">' + esc(b.brokerName + "[" + b.brokerId + "] " + b.addr) + "</option>").join(""); show(); });
    const show = async () => {
      try { const c = await api("/brokers/" + encodeURIComponent($("#cfg-addr").value) + "/config"); $("#cfg").innerHTML = table("cfg-table", [["setting", (r) => r[0]], ["value", (r) => r[1]]], Object.entries(c)); }
      catch (e) { fail($("#cfg"), e); }
    };
    $("#cfg-pick").addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
    $("#cfg-set").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const [k, ...v] = String(new FormData(ev.target).get("pair")).split("=");
      try { await api("/brokers/config", { method: "PUT", body: JSON.stringify({ target: { addr: $("#cfg-addr").value }, changes: { [k]: v.join("=") } }) }); $("#cfg-msg").textContent = "changed"; show(); }
      catch (e) { $("#cfg-msg").innerHTML = '<span class="err">' + esc(e.message) + "</span>"; }
    });
  },
};
function route() {
  const [, page = "", arg] = location.hash.replace(/^#/, "").split("/");
  for (const a of document.querySelectorAll("header a")) a.classList.toggle("on", a.getAttribute("href") === "#/" + page);
  (pages[page] ?? pages[""])($("#main"), arg === undefined ? undefined : decodeURIComponent(arg));
}
addEventListener("hashchange", route);
route();
</script></body></html>`;
