// How messages and events look on a terminal, one line each.
import type { ChatMessage } from '../protocol/messages.js';
import { printable, printableText } from '../protocol/printable.js';

/** HH:MM:SS in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Local date and time for history: YYYY-MM-DD HH:MM:SS. */
export function stamp(ms: number): string {
  const d = new Date(ms);
  const date = [d.getFullYear(), d.getMonth() + 1, d.getDate()].map((n) => String(n).padStart(2, '0')).join('-');
  return `${date} ${clock(ms)}`;
}

/**
 * `12:00:01 <alice> hi`, or `<alice → bob>` for what `me` sent from another device; every field
 * passes the sanitizer, and a text's further lines are indented (no line passes for a message).
 */
export function formatMessage(m: ChatMessage, me: string | null, time = clock): string {
  const text = printableText(m.text);
  if (m.to.startsWith('#')) return `${time(m.at)} ${printable(m.to)} <${printable(m.from)}> ${text}`;
  const who = m.from === me && m.to !== me ? `${m.from} → ${m.to}` : m.from;
  return `${time(m.at)} <${printable(who)}> ${text}`;
}

export function formatPresence(p: { user: string; online: boolean; at: number }): string {
  return `${clock(p.at)} * ${printable(p.user)} is ${p.online ? 'online' : 'offline'}`;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(size: number): string {
  const n = Number(size); // a number from a peer may be anything
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${value.toFixed(1)} ${units[i]}`;
}
