// The terminal side of the interactive client. On a TTY, lines are printed above the prompt and
// the prompt (optionally with a status line above it) is redrawn with what the user was typing;
// an own message's line can be rewritten in place when its ✓✓ arrives. Without a TTY every line
// is simply written out and there is no prompt.
import { createInterface, type Completer, type Interface } from 'node:readline';
import type { CliContext } from '../context.js';
import { stripAnsi } from './render.js';

/** A printed line that may be rewritten later (same width only). */
export interface LineHandle {
  /** Rows printed before it. */
  row: number;
  text: string;
  columns: number;
  /** Output generation: bumped when something we cannot count (a completion list) was printed. */
  generation: number;
}

export class Screen {
  readonly rl: Interface;
  readonly tty: boolean;
  readonly #ctx: CliContext;
  #prompt = '> ';
  #status = '';
  #promptShown = false;
  #rows = 0;
  #generation = 0;

  constructor(ctx: CliContext, completer?: Completer) {
    this.#ctx = ctx;
    this.tty = ctx.isTTY && Boolean(ctx.stdin.isTTY);
    this.rl = createInterface({
      input: ctx.stdin,
      output: ctx.stdout,
      terminal: this.tty,
      completer: completer && this.tty ? this.#countingCompleter(completer) : undefined,
      historySize: 200,
    });
    // Nothing is read until the line handlers exist (piped input would be lost otherwise).
    this.rl.pause();
    this.rl.setPrompt(this.#prompt);
  }

  get columns(): number {
    return this.#ctx.stdout.columns || 80;
  }

  /** Prints lines above the prompt without garbling the input being typed. */
  print(...lines: string[]): LineHandle[] {
    if (!this.tty) {
      for (const line of lines) this.#ctx.out(line);
      return [];
    }
    const handles: LineHandle[] = [];
    const up = this.#promptShown ? this.rl.getCursorPos().rows : 0;
    let out = this.#promptShown ? `${up > 0 ? `\x1b[${up}A` : ''}\r\x1b[J` : '';
    for (const text of lines) {
      handles.push({ row: this.#rows, text, columns: this.columns, generation: this.#generation });
      this.#rows += rowsOf(text, this.columns);
      out += `${text}\n`;
    }
    // readline's redraw first moves up as many rows as the cursor was below the prompt's start.
    this.#ctx.stdout.write(out + '\n'.repeat(up));
    if (this.#promptShown) this.rl.prompt(true);
    return handles;
  }

  /** Replaces a printed line if it is still on screen and has the same height; false otherwise. */
  rewrite(handle: LineHandle, text: string): boolean {
    if (!this.tty || handle.generation !== this.#generation || handle.columns !== this.columns) return false;
    const height = rowsOf(handle.text, handle.columns);
    if (rowsOf(text, this.columns) !== height) return false;
    const cursor = this.#promptShown ? this.rl.getCursorPos().rows : 0;
    const up = this.#rows - handle.row + cursor;
    if (up >= (this.#ctx.stdout.rows || 24) - 1) return false;
    handle.text = text;
    // Save the cursor, go up to the line, rewrite it, come back.
    this.#ctx.stdout.write(`\x1b7\x1b[${up}A\r\x1b[2K${text}\x1b8`);
    return true;
  }

  /** The input prompt, e.g. `[bob] (2 unread: alice 2) > `. */
  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#apply();
  }

  /** One status line above the prompt (terminal only); '' removes it. */
  setStatus(status: string): void {
    this.#status = status;
    this.#apply();
  }

  /** Shows the prompt (terminal only). */
  prompt(): void {
    if (!this.tty) return;
    this.#promptShown = true;
    this.rl.prompt(true);
  }

  /** The user pressed Enter: readline moved to a new row and the prompt is gone until prompt(). */
  entered(line: string, keep: boolean): void {
    if (!this.tty) return;
    this.#promptShown = false;
    // Erase the echo (with the status line, which must not stay behind in the scrollback); a
    // command is shown again after its prompt, a message comes back with its time and mark.
    const rows = rowsOf(this.#fullPrompt() + line, this.columns);
    this.#ctx.stdout.write(`\x1b[${rows}A\r\x1b[J`);
    if (keep) this.print(this.#prompt + line);
  }

  /** The text typed so far (terminal only). */
  get typed(): string {
    return this.tty ? this.rl.line : '';
  }

  clearInput(): void {
    if (!this.tty) return;
    this.rl.write(null, { ctrl: true, name: 'e' });
    this.rl.write(null, { ctrl: true, name: 'u' });
  }

  close(): void {
    if (this.tty && this.#promptShown) {
      const up = this.rl.getCursorPos().rows;
      this.#ctx.stdout.write(`${up > 0 ? `\x1b[${up}A` : ''}\r\x1b[J`);
    }
    this.#promptShown = false;
    this.rl.close();
  }

  #fullPrompt(): string {
    return this.#status ? `${this.#status}\n${this.#prompt}` : this.#prompt;
  }

  #apply(): void {
    const full = this.#fullPrompt();
    if (!this.tty || full === (this.rl as unknown as { getPrompt(): string }).getPrompt()) return;
    this.rl.setPrompt(full);
    if (this.#promptShown) this.rl.prompt(true);
  }

  #countingCompleter(completer: Completer): Completer {
    return (line: string) => {
      const result = completer(line) as [string[], string];
      // Several candidates: readline may list them, adding rows we cannot count.
      if (result[0].length > 1) this.#generation++;
      return result;
    };
  }
}

/** Terminal rows a line takes at `columns` (at least 1). */
export function rowsOf(text: string, columns: number): number {
  let rows = 1;
  let col = 0;
  for (const c of stripAnsi(text)) {
    if (c === '\n') {
      rows++;
      col = 0;
      continue;
    }
    if (col === columns) {
      rows++;
      col = 0;
    }
    col++;
  }
  return rows;
}
