/**
 * Prometheus's text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then one line per
 * sample, label values escaped. Written here rather than taken from a library: the well-kept
 * one (prom-client) leans on Node's internals, and the format is small. Its output is checked
 * by the Prometheus project's own Python parser in the tests.
 */

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
  /** `_bucket`, `_sum` or `_count` for a histogram's series. */
  suffix?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: MetricSample[];
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function prometheusText(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${s.suffix ?? ""}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return out.join("\n") + "\n";
}

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** A histogram's cumulative bucket series, sum and count. */
export function histogramSamples(bounds: readonly number[], counts: readonly number[], sum: number, labels: Record<string, string> = {}): MetricSample[] {
  const out: MetricSample[] = [];
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i];
    out.push({ suffix: "_bucket", labels: { ...labels, le: String(bounds[i]) }, value: cumulative });
  }
  cumulative += counts[bounds.length] ?? 0;
  out.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: cumulative });
  out.push({ suffix: "_sum", labels, value: sum });
  out.push({ suffix: "_count", labels, value: cumulative });
  return out;
}
