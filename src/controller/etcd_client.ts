/**
 * The few etcd v3 calls the controller group needs, over etcd's JSON gateway (`/v3/...`) with
 * `fetch`: leases, elections and a guarded put. The gateway ships with every etcd server, and
 * fetch is the same on Bun, Deno and Node, so no gRPC stack is bundled into the binary. Keys and
 * values travel base64-encoded, 64-bit ids as decimal strings.
 */

export interface LeaderKey {
  name: string;
  key: string;
  rev: string;
  lease: string;
}

export class EtcdError extends Error {}

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const unb64 = (s: string) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

export class EtcdClient {
  #next = 0;

  constructor(private readonly endpoints: string[], private readonly timeoutMs = 2_000) {
    if (endpoints.length === 0) throw new EtcdError("no etcd endpoint given");
  }

  /** POST to the first endpoint that answers; the next call starts from the one that did. */
  async #post<T>(path: string, body: unknown, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const at = (this.#next + i) % this.endpoints.length;
      try {
        const res = await fetch(`${this.endpoints[at]}${path}`, {
          method: "POST",
          body: JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
        });
        const json = await res.json() as T & { error?: string; message?: string };
        if (!res.ok) throw new EtcdError(`etcd ${path}: ${json.message ?? json.error ?? res.status}`);
        this.#next = at;
        return json;
      } catch (err) {
        if (signal?.aborted) throw err;
        last = err;
      }
    }
    throw last instanceof Error ? last : new EtcdError(String(last));
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const r = await this.#post<{ ID: string }>("/v3/lease/grant", { TTL: ttlSeconds });
    return r.ID;
  }

  /** One keep-alive; returns the lease's remaining TTL in seconds (0: it expired). */
  async keepAlive(id: string): Promise<number> {
    // The gateway answers a stream; its first line is the answer to our one request.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const res = await fetch(`${this.endpoints[this.#next]}/v3/lease/keepalive`, { method: "POST", body: JSON.stringify({ ID: id }), signal: abort.signal });
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const line = JSON.parse(text.split("\n")[0]) as { result?: { TTL?: string }; error?: unknown };
      return Number(line.result?.TTL ?? 0);
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  async revokeLease(id: string): Promise<void> {
    await this.#post("/v3/lease/revoke", { ID: id }).catch(() => {});
  }

  /** Blocks until this lease's candidate leads the election `name` (or `signal` aborts). */
  async campaign(name: string, lease: string, value: string, signal: AbortSignal): Promise<LeaderKey> {
    const r = await this.#post<{ leader: LeaderKey }>("/v3/election/campaign", { name: b64(name), lease, value: b64(value) }, signal, 24 * 3_600_000);
    return r.leader;
  }

  /** The value the current leader of `name` proclaimed, if there is one. */
  async leader(name: string): Promise<string | undefined> {
    try {
      const r = await this.#post<{ kv?: { value?: string } }>("/v3/election/leader", { name: b64(name) });
      return r.kv?.value ? unb64(r.kv.value) : undefined;
    } catch (err) {
      if (err instanceof EtcdError && /no leader/.test(err.message)) return undefined;
      throw err;
    }
  }

  async resign(leader: LeaderKey): Promise<void> {
    await this.#post("/v3/election/resign", { leader }).catch(() => {});
  }

  /** Every key under `prefix`, with its value. */
  async range(prefix: string): Promise<{ key: string; value: string }[]> {
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const r = await this.#post<{ kvs?: { key: string; value?: string }[] }>("/v3/kv/range", { key: b64(prefix), range_end: b64(end) });
    return (r.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: kv.value ? unb64(kv.value) : "" }));
  }

  /**
   * Puts `key` only while `leader` still holds its election key (same create revision): a
   * deposed leader's late write is refused by etcd itself. Returns whether it was written.
   */
  async putIfLeader(leader: LeaderKey, key: string, value: string): Promise<boolean> {
    const r = await this.#post<{ succeeded?: boolean }>("/v3/kv/txn", {
      compare: [{ key: leader.key, result: "EQUAL", target: "CREATE", create_revision: leader.rev }],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
    });
    return r.succeeded === true;
  }
}
