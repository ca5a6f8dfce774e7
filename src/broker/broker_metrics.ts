import { Limits } from "../common/limits.ts";
import { rssBytes } from "../platform/runtime.ts";
import { histogramSamples, type MetricFamily, type MetricSample } from "../util/prometheus_text.ts";
import type { BrokerContext } from "./broker_context.ts";
import { StatsName, type StatsNameValue } from "./broker_stats_manager.ts";

/**
 * The broker's figures as Prometheus metric families (served at the admin port's /metrics):
 * messages and bytes in per topic and out per group, sends' latency, pulls held and answered,
 * each group's lag per queue, the store, pending timers and delays, connections and memory.
 * Series of one family past Limits.maxMetricsSeries are left out, and
 * bolide_metrics_series_dropped says how many.
 */
export function brokerMetricFamilies(ctx: BrokerContext): MetricFamily[] {
  const broker = ctx.config.brokerName;
  const dropped: MetricSample[] = [];
  const capped = (family: string, samples: MetricSample[]): MetricSample[] => {
    if (samples.length <= Limits.maxMetricsSeries) return samples;
    dropped.push({ labels: { broker, family }, value: samples.length - Limits.maxMetricsSeries });
    return samples.slice(0, Limits.maxMetricsSeries);
  };
  const byTopic = (name: StatsNameValue) => ctx.statsManager.totals(name).map(([topic, value]) => ({ labels: { broker, topic }, value }));
  const byGroup = (name: StatsNameValue) =>
    ctx.statsManager.totals(name).map(([key, value]) => {
      const at = key.lastIndexOf("@");
      return { labels: { broker, topic: key.slice(0, at), group: key.slice(at + 1) }, value };
    });
  const lag: MetricSample[] = [];
  for (const [key, queues] of Object.entries(ctx.offsets.table())) {
    const at = key.lastIndexOf("@");
    const topic = key.slice(0, at);
    const group = key.slice(at + 1);
    for (const [queueId, offset] of Object.entries(queues)) {
      lag.push({ labels: { broker, group, topic, queue: queueId }, value: Math.max(0, ctx.store.maxOffset(topic, Number(queueId)) - Math.max(0, offset)) });
    }
  }
  const latency = ctx.statsManager.sendLatency();
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "gauge", samples: [{ labels: { broker }, value }] });
  const families: MetricFamily[] = [
    { name: "bolide_messages_in_total", help: "Messages stored, by topic, since the broker started.", type: "counter", samples: capped("bolide_messages_in_total", byTopic(StatsName.TOPIC_PUT_NUMS)) },
    { name: "bolide_bytes_in_total", help: "Record bytes stored, by topic.", type: "counter", samples: capped("bolide_bytes_in_total", byTopic(StatsName.TOPIC_PUT_SIZE)) },
    { name: "bolide_messages_out_total", help: "Messages handed to pulls, by topic and consumer group.", type: "counter", samples: capped("bolide_messages_out_total", byGroup(StatsName.GROUP_GET_NUMS)) },
    { name: "bolide_bytes_out_total", help: "Record bytes handed to pulls, by topic and consumer group.", type: "counter", samples: capped("bolide_bytes_out_total", byGroup(StatsName.GROUP_GET_SIZE)) },
    { name: "bolide_messages_sent_back_total", help: "Messages consumers sent back for a retry, by topic and group.", type: "counter", samples: capped("bolide_messages_sent_back_total", byGroup(StatsName.SNDBCK_PUT_NUMS)) },
    { name: "bolide_send_duration_seconds", help: "Time from a send request's arrival to its answer.", type: "histogram", samples: histogramSamples(latency.bounds, latency.counts, latency.sum, { broker }) },
    { name: "bolide_consumer_lag_messages", help: "Messages of a queue not yet committed by a consumer group.", type: "gauge", samples: capped("bolide_consumer_lag_messages", lag) },
    { name: "bolide_pulls_answered_with_messages_total", help: "Pulls answered with messages.", type: "counter", samples: [{ labels: { broker }, value: ctx.stats.pullsFound }] },
    gauge("bolide_pulls_held", "Long-polling pulls held now, waiting for messages.", ctx.holds.heldCount),
    gauge("bolide_sends_in_flight", "Sends received and not yet answered.", ctx.stats.sendsInFlight),
    gauge("bolide_commitlog_bytes", "Bytes of the CommitLog kept (its max offset minus its min).", ctx.store.commitLogMaxOffset - ctx.store.commitLogMinOffset),
    gauge("bolide_commitlog_max_offset_bytes", "The CommitLog's end offset.", ctx.store.commitLogMaxOffset),
    gauge("bolide_disk_full", "1 while appends are refused because the disk is above diskFullRatio.", ctx.store.isDiskFull ? 1 : 0),
    gauge("bolide_timers_pending", "Timer messages waiting for their time.", ctx.timer.pending),
    { name: "bolide_delayed_messages_pending", help: "Delay-level messages waiting, by level.", type: "gauge", samples: ctx.schedule.pending().map((n, i) => ({ labels: { broker, level: String(i + 1) }, value: n })) },
    gauge("bolide_transaction_half_backlog", "Half messages not yet committed or rolled back.", ctx.tx.halfBacklog),
    gauge("bolide_connections", "Client connections open.", ctx.remoting.connections.size),
    gauge("bolide_clients", "Registered producers and consumers.", ctx.clients.size),
    gauge("bolide_is_slave", "1 on a slave, 0 on a master.", ctx.role.isSlave ? 1 : 0),
    { name: "process_resident_memory_bytes", help: "Resident memory of the broker process.", type: "gauge", samples: [{ value: rssBytes() }] },
  ];
  families.push({ name: "bolide_metrics_series_dropped", help: "Series left out of a family past Limits.maxMetricsSeries.", type: "gauge", samples: dropped });
  return families;
}
