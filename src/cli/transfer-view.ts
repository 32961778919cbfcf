// How a transfer looks: cli-progress bars on a terminal, one summary line per file otherwise,
// or one JSON object per line with --json. Both sides show the receiver's confirmed progress.
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import type { SkippedLink } from '../transfer/offer.js';
import type { FileResult, ProgressEvent, TransferResult } from '../transfer/types.js';
import type { CliContext } from './context.js';
import { printable, printableJson } from '../protocol/printable.js';
import { formatBytes } from './output.js';

export type ViewMode = 'bars' | 'plain' | 'json';

/** Bars only when stderr (where they go) is a terminal and JSON was not asked for. */
export function viewMode(ctx: CliContext, json: boolean): ViewMode {
  if (json) return 'json';
  return ctx.stderr.isTTY ? 'bars' : 'plain';
}

const JSON_PROGRESS_MS = 250;
const MAX_FILE_BARS = 6;

/** `1.5 MiB/s` from bytes moved over milliseconds. */
export function formatRate(bytes: number, ms: number): string {
  return `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : 0)}/s`;
}

const SKIPPED_BECAUSE: Record<SkippedLink['reason'], string> = {
  outside: 'points outside the directory (--follow-symlinks sends it)',
  loop: 'loops back into a directory being sent',
  broken: 'points nowhere',
};

/** One line for a symbolic link that was not sent (issue 26, point 7). */
export function skippedLine(s: SkippedLink): string {
  return `skipped ${s.path}: a symbolic link to ${s.target}, which ${SKIPPED_BECAUSE[s.reason]}`;
}

/** One line for a verified file: name, size, time, rate, sha256 and where it resumed. */
export function fileSummary(r: FileResult): string {
  const moved = r.size - r.resumedFrom;
  const resumed = r.resumedFrom > 0 ? `  resumed from ${formatBytes(r.resumedFrom)}` : '';
  // A receiver that had to pick another name (never clobber) says where the file went.
  const renamed = r.savedAs && basename(r.savedAs) !== basename(r.path) ? `  saved as ${printable(r.savedAs)}` : '';
  if (r.identical) return `${printable(r.path)}  ${formatBytes(r.size)}  sha256 ${r.sha256}  already there, identical: kept, not saved again${renamed}`;
  return `${printable(r.path)}  ${formatBytes(r.size)}  ${(r.elapsedMs / 1000).toFixed(1)}s  ${formatRate(moved, r.elapsedMs)}  sha256 ${r.sha256}${resumed}${renamed}`;
}

export class TransferView {
  readonly #ctx: CliContext;
  readonly #mode: ViewMode;
  readonly #paths: string[];
  /** Set when one of several transfers (a group send): prefixes lines, tags JSON with `to`. */
  readonly #label: string | undefined;
  readonly #startedAt = Date.now();
  #multibar: cliProgress.MultiBar | undefined;
  #total: cliProgress.SingleBar | undefined;
  #bars = new Map<number, { bar: cliProgress.SingleBar; startedAt: number }>();
  #lastJson = 0;
  #pending: ProgressEvent | undefined;
  #skipped: SkippedLink[] = [];

  constructor(ctx: CliContext, mode: ViewMode, files: { path: string }[], label?: string) {
    this.#ctx = ctx;
    this.#mode = mode;
    this.#paths = files.map((f) => f.path);
    this.#label = label;
  }

  /** Every line shown passes the sanitizer here: it names peers, paths and reasons. */
  #line(text: string): string {
    return printable(this.#label ? `${this.#label}: ${text}` : text);
  }

  #json(event: Record<string, unknown>): string {
    return printableJson(this.#label ? { ...event, to: this.#label } : event);
  }

  /** A status line: stderr for people, an event object on stdout with --json. */
  info(line: string, event?: { event: string } & Record<string, unknown>): void {
    if (this.#mode === 'json') {
      if (event) this.#ctx.out(this.#json(event));
    } else if (this.#multibar) this.#multibar.log(`${this.#line(line)}\n`);
    else this.#ctx.err(this.#line(line));
  }

  /** Lists the symbolic links left out of the offer, now and again in the summary (done). */
  skipped(list: SkippedLink[]): void {
    this.#skipped = list;
    for (const s of list) this.info(skippedLine(s), { event: 'skipped', ...s });
  }

  /** Also told of every progress event (a group send draws one bar per member). */
  onProgress: ((ev: ProgressEvent) => void) | undefined;

  progress(ev: ProgressEvent): void {
    this.onProgress?.(ev);
    if (this.#mode === 'json') return this.#jsonProgress(ev);
    if (this.#mode === 'bars') this.#barProgress(ev);
  }

  file(r: FileResult): void {
    if (this.#mode === 'json') {
      this.#flushJson();
      return this.#ctx.out(this.#json({ event: 'file', ...r }));
    }
    const entry = this.#bars.get(r.index);
    if (entry) {
      this.#multibar!.remove(entry.bar);
      this.#bars.delete(r.index);
    }
    if (this.#multibar) this.#multibar.log(`${this.#line(fileSummary(r))}\n`);
    else this.#ctx.out(this.#line(fileSummary(r)));
  }

  /** The end: verified, with totals. */
  done(result: TransferResult, what: string): void {
    this.stop();
    const skipped = this.#skipped;
    const also = skipped.length > 0 ? `; skipped ${skipped.length} symbolic link(s): ${skipped.map((s) => s.path).join(', ')}` : '';
    const line = `${what}: ${result.files.length} file(s), ${formatBytes(totalSize(result))} verified in ${(result.elapsedMs / 1000).toFixed(1)}s (${formatRate(result.bytes, result.elapsedMs)})${also}`;
    if (this.#mode === 'json') {
      this.#ctx.out(this.#json({
        event: 'done', files: result.files.length, totalBytes: totalSize(result), moved: result.bytes, elapsedMs: result.elapsedMs, via: result.path,
        ...(skipped.length > 0 && { skipped }),
      }));
    } else this.#ctx.err(this.#line(line));
  }

  /** Removes the bars (before an error line or on exit). */
  stop(): void {
    this.#flushJson();
    // cli-progress prints log() lines at its next redraw, and stop() does not redraw: without
    // this the last file's summary line never appeared on a terminal (issue 27, item 1).
    this.#multibar?.update();
    this.#multibar?.stop();
    this.#multibar = undefined;
  }

  #barProgress(ev: ProgressEvent): void {
    if (!this.#multibar) {
      this.#multibar = new cliProgress.MultiBar(
        {
          stream: this.#ctx.stderr,
          format: '{name} |{bar}| {percentage}% {done}/{size} {rate} ETA {eta}',
          hideCursor: true,
          clearOnComplete: true,
          autopadding: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#total = this.#multibar.create(ev.totalSize, 0, this.#payload('total', 0, ev.totalSize, this.#startedAt));
    }
    this.#total!.update(ev.totalBytes, this.#payload('total', ev.totalBytes, ev.totalSize, this.#startedAt));
    let entry = this.#bars.get(ev.index);
    if (!entry && this.#bars.size < MAX_FILE_BARS && ev.bytes < ev.size) {
      entry = { bar: this.#multibar.create(ev.size, 0), startedAt: Date.now() };
      this.#bars.set(ev.index, entry);
    }
    entry?.bar.update(ev.bytes, this.#payload(shorten(this.#paths[ev.index] ?? '?'), ev.bytes, ev.size, entry.startedAt));
  }

  #payload(name: string, bytes: number, size: number, since: number) {
    const elapsed = Date.now() - since;
    return { name, done: formatBytes(bytes), size: formatBytes(size), rate: formatRate(bytes, elapsed), eta: formatEta(bytes, size, elapsed) };
  }

  #jsonProgress(ev: ProgressEvent): void {
    this.#pending = ev;
    const now = Date.now();
    if (now - this.#lastJson < JSON_PROGRESS_MS) return;
    this.#lastJson = now;
    this.#flushJson();
  }

  #flushJson(): void {
    if (!this.#pending || this.#mode !== 'json') return;
    const ev = this.#pending;
    this.#pending = undefined;
    this.#ctx.out(this.#json({ event: 'progress', index: ev.index, bytes: ev.bytes, size: ev.size, totalDone: ev.totalBytes, totalBytes: ev.totalSize }));
  }
}

/** Time left at the rate so far: "--" before anything moved (cli-progress printed "NULL" cut to "LLs"). */
export function formatEta(bytes: number, size: number, elapsedMs: number): string {
  if (bytes <= 0 || elapsedMs <= 0) return '--';
  const s = Math.ceil(((size - bytes) * elapsedMs) / bytes / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function totalSize(result: TransferResult): number {
  return result.files.reduce((sum, f) => sum + f.size, 0);
}

function shorten(path: string, max = 30): string {
  const clean = printable(path);
  return clean.length <= max ? clean.padEnd(max) : `…${clean.slice(-(max - 1))}`;
}
