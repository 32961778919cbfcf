// LineBuffer: collects the lines of a Readable (a child's stdout/stderr) and lets a test wait
// for one, with a bound. Nothing sleeps: waitFor resolves on the line itself or fails on timeout.
import type { Readable } from 'node:stream';

type Waiter = { match: (line: string) => boolean; resolve: (line: string) => void };

function matcher(pattern: RegExp | string): (line: string) => boolean {
  if (typeof pattern === 'string') return (line) => line.includes(pattern);
  // A fresh copy so a /g or /y pattern's lastIndex cannot make tests order-dependent.
  const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return (line) => re.test(line);
}

export class LineBuffer {
  /** Every complete line received so far (without the newline), from all attached streams. */
  readonly lines: string[] = [];
  #partials = new Map<object, string>();
  #open = 0;
  #ended = false;
  #waiters = new Set<Waiter>();
  #endWaiters = new Set<() => void>();

  /** Reads the given streams (e.g. a child's stdout and stderr, merged line by line). */
  constructor(...streams: (Readable | null | undefined)[]) {
    for (const stream of streams) if (stream) this.attach(stream);
  }

  /** Starts reading `stream` (utf8); the buffer ends when every attached stream has ended. */
  attach(stream: Readable): void {
    const key = {};
    this.#open++;
    let done = false;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.#feed(key, chunk));
    const finish = (): void => {
      if (done) return;
      done = true;
      const rest = this.#partials.get(key);
      this.#partials.delete(key);
      if (rest) this.#addLine(rest);
      if (--this.#open === 0) this.end();
    };
    stream.on('end', finish);
    stream.on('close', finish);
  }

  /** Feeds text by hand (for tests of the helper, or other sources). */
  push(text: string): void {
    this.#feed(this, text);
  }

  #feed(key: object, text: string): void {
    const parts = ((this.#partials.get(key) ?? '') + text).split('\n');
    this.#partials.set(key, parts.pop()!);
    for (const part of parts) this.#addLine(part.replace(/\r$/, ''));
  }

  /** No more input: a last line without a newline still counts; pending waits fail now. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const rest of this.#partials.values()) if (rest) this.#addLine(rest);
    this.#partials.clear();
    for (const w of [...this.#endWaiters]) w();
    this.#endWaiters.clear();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** All lines joined, for error messages and whole-output assertions. */
  get text(): string {
    return this.lines.join('\n');
  }

  #addLine(line: string): void {
    this.lines.push(line);
    for (const w of [...this.#waiters]) {
      if (w.match(line)) {
        this.#waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  /**
   * The first line (already received or still to come) matching `pattern` (a substring or a RegExp).
   * Rejects after `timeoutMs` with the lines seen so far, or earlier if the input ends without one.
   */
  waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const match = matcher(pattern);
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const fail = (why: string): void => {
        this.#waiters.delete(waiter);
        this.#endWaiters.delete(onEnd);
        clearTimeout(timer);
        reject(new Error(`${why} for a line matching ${String(pattern)}; lines so far:\n${this.#describe()}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms waiting`), timeoutMs);
      const onEnd = (): void => fail('output ended while waiting');
      const waiter: Waiter = {
        match,
        resolve: (line) => {
          clearTimeout(timer);
          this.#endWaiters.delete(onEnd);
          resolve(line);
        },
      };
      if (this.#ended) return onEnd();
      this.#waiters.add(waiter);
      this.#endWaiters.add(onEnd);
    });
  }

  #describe(): string {
    const partial = [...this.#partials.values()].filter(Boolean).map((p) => `${p} (no newline yet)`);
    const all = [...this.lines, ...partial];
    return all.length === 0 ? '  (none)' : all.map((l) => `  | ${l}`).join('\n');
  }
}
