// Small numeric helpers shared by the load generator and the report: a growable sample buffer
// with exact percentiles, and rounding for the table and the JSON.

/** Latency samples in ms; percentiles are exact (sorted copy), fine for a few million values. */
export class Samples {
  #values = new Float64Array(1 << 16);
  #count = 0;

  get count() {
    return this.#count;
  }

  add(value) {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = value;
  }

  /** A copy of the samples. */
  values() {
    return this.#values.slice(0, this.#count);
  }

  /** { p50, p99, max } in ms, or nulls without samples. */
  summary() {
    if (this.#count === 0) return { p50: null, p99: null, max: null };
    const sorted = this.#values.slice(0, this.#count).sort();
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    return { p50: round(at(0.5), 3), p99: round(at(0.99), 3), max: round(sorted[sorted.length - 1], 3) };
  }
}

export function round(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** ours / theirs, or null when either is missing or theirs is 0. */
export function ratio(ours, theirs) {
  if (ours === null || ours === undefined || !theirs) return null;
  return round(ours / theirs, 2);
}
