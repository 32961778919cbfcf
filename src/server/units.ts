// Sizes and durations in the server's error texts ("32 MiB", "1.5 GiB", "0.3 s", "24 h").

/** Bytes as MiB, or GiB from 1 GiB up, with at most one decimal. */
export function mib(bytes: number): string {
  return bytes >= 1 << 30 ? `${+(bytes / (1 << 30)).toFixed(1)} GiB` : `${+(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** A duration in s, min or h, with at most one decimal. */
export function duration(ms: number): string {
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} h`;
  return ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${+(ms / 1000).toFixed(1)} s`;
}
