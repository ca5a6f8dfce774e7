/**
 * A map of at most `max` entries, for values that are cheap to compute again but repeat a lot
 * (topic bytes, tag hashes, compiled filters). Past `max` the oldest entry goes, one at a time,
 * rather than the whole map at once; reads cost one Map lookup.
 */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`A BoundedCache needs a positive integer size, got ${max}`);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  set(key: K, value: V): V {
    if (this.#map.size >= this.max && !this.#map.has(key)) this.#map.delete(this.#map.keys().next().value as K);
    this.#map.set(key, value);
    return value;
  }

  /** The cached value of `key`, computed by `make` (and kept) when absent. */
  getOrCompute(key: K, make: (key: K) => V): V {
    const v = this.#map.get(key);
    return v !== undefined ? v : this.set(key, make(key));
  }
}
