/**
 * The chaos checker's history and its verdict, in the manner of a Jepsen checker: what producers
 * were told (acknowledged, failed), what consumers got, what faults ran when; then which of the
 * run's guarantees held.
 *
 * Guarantees (RocketMQ's, at least once): every acknowledged message is delivered; nothing is
 * delivered that was never sent; on an ordered stream (one key, one queue, an orderly consumer)
 * no message is delivered before an earlier acknowledged one of its key was delivered at least
 * once. Duplicates are allowed (a crash rewinds a consumer to its last committed offset) and
 * counted; a failed send may or may not have been stored, so it may or may not arrive.
 */

export interface Sent {
  id: string;
  /** An ordered stream's key and the message's place in it; absent for unordered messages. */
  key?: string;
  seq?: number;
  /** When the producer got its answer, ms since the epoch. */
  at: number;
  acked: boolean;
}

export interface Delivery {
  id: string;
  key?: string;
  seq?: number;
  at: number;
}

export interface Fault {
  kind: string;
  /** When the fault began and when it was undone (healed, continued, restarted). */
  start: number;
  end: number;
}

export interface Verdict {
  ok: boolean;
  acked: number;
  failed: number;
  delivered: number;
  lost: string[];
  duplicated: number;
  unexpected: string[];
  /** Deliveries that came before an earlier acknowledged message of their key had come. */
  reordered: string[];
  /** Per fault: ms from its end to the first acknowledged send after it (undefined: none came). */
  recovery: { kind: string; ms: number | undefined }[];
}

export function checkHistory(sent: readonly Sent[], delivered: readonly Delivery[], faults: readonly Fault[]): Verdict {
  const byId = new Map<string, Sent>();
  for (const s of sent) byId.set(s.id, s);
  const count = new Map<string, number>();
  const unexpected: string[] = [];
  for (const d of delivered) {
    count.set(d.id, (count.get(d.id) ?? 0) + 1);
    if (!byId.has(d.id)) unexpected.push(d.id);
  }
  const acked = sent.filter((s) => s.acked);
  const lost = acked.filter((s) => !count.has(s.id)).map((s) => s.id);
  let duplicated = 0;
  for (const n of count.values()) if (n > 1) duplicated += n - 1;

  // Order: per key, the acknowledged seqs not yet delivered; a delivery of seq s while an
  // acknowledged t < s is still outstanding is out of order. Redeliveries of earlier ones are not.
  const outstanding = new Map<string, number[]>();
  for (const s of [...acked].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
    if (s.key === undefined || s.seq === undefined) continue;
    const list = outstanding.get(s.key) ?? [];
    list.push(s.seq);
    outstanding.set(s.key, list);
  }
  const done = new Map<string, Set<number>>();
  const reordered: string[] = [];
  for (const d of delivered) {
    if (d.key === undefined || d.seq === undefined) continue;
    const seen = done.get(d.key) ?? new Set<number>();
    done.set(d.key, seen);
    const list = outstanding.get(d.key) ?? [];
    // The lowest acknowledged seq of the key not yet delivered.
    while (list.length > 0 && seen.has(list[0])) list.shift();
    if (list.length > 0 && list[0] < d.seq && !seen.has(d.seq)) reordered.push(`${d.id} before ${d.key}#${list[0]}`);
    seen.add(d.seq);
    while (list.length > 0 && seen.has(list[0])) list.shift();
  }

  const ackTimes = acked.map((s) => s.at).sort((a, b) => a - b);
  const recovery = faults.map((f) => {
    const first = ackTimes.find((t) => t >= f.end);
    return { kind: f.kind, ms: first === undefined ? undefined : first - f.end };
  });
  return {
    ok: lost.length === 0 && unexpected.length === 0 && reordered.length === 0,
    acked: acked.length,
    failed: sent.length - acked.length,
    delivered: delivered.length,
    lost,
    duplicated,
    unexpected,
    reordered,
    recovery,
  };
}
