// Human units on the command line: durations ("90s", "10m", "1h", "90d") and rates ("500K", "10M", "1G" per second).
import { CliError } from './context.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "10m" → 600000. A bare number means seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] ?? 's']! : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new CliError(`bad ${flag} "${text}": use e.g. 90s, 10m or 1h`, 2);
  return Math.round(ms);
}

/** "10M" or "10MB" (per second) → bytes per second; "0" means no limit. */
export function parseRate(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i.exec(text.trim());
  const rate = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isFinite(rate) || rate < 0) throw new CliError(`bad ${flag} "${text}": use bytes per second, e.g. 500K or 10M`, 2);
  return Math.floor(rate);
}

/** 600000 → "10m", 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h${m % 60}m` : `${Math.floor(m / 60)}h`;
}
