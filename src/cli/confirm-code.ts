// Confirming a verification code before any file byte (protocol.md §T10.4): `--verify-code`
// for scripts (a mismatch aborts), y/N on a terminal, and a refusal with neither.
import { createInterface } from 'node:readline/promises';
import { CliError, type CliContext } from './context.js';

const digits = (s: string): string => s.replace(/\D/g, '');

// Without a terminal, the code the other side shows is read as one line from stdin.
async function confirmFromStdin(ctx: CliContext, code: string): Promise<void> {
  ctx.err('type the code the other side shows (one line on stdin), or pass --verify-code CODE');
  const rl = createInterface({ input: ctx.stdin });
  try {
    const line = await new Promise<string | undefined>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(undefined));
    });
    if (line === undefined) throw new CliError('--verify: no code on stdin and no terminal to confirm it: aborted, no data sent');
    compareCode(code, line);
  } finally {
    rl.close();
  }
}

/** On a terminal, asks `question` and resolves whether the answer was yes; false without one. */
export async function yesOnTty(ctx: CliContext, question: string): Promise<boolean> {
  if (!ctx.stdin.isTTY) return false;
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** --verify-code: the code given must be the one computed here (digits compared); throws if not. */
export function compareCode(code: string, given: string): void {
  if (digits(given) !== digits(code)) throw new CliError(`verification code mismatch: this side computed ${code}, not ${given.trim().slice(0, 40)}; someone may be intercepting: aborted, no data sent`);
}

/** Resolves when the user confirmed `code`; throws a CliError (the transfer aborts) otherwise. */
export async function confirmCode(ctx: CliContext, code: string, given: string | undefined): Promise<void> {
  if (given !== undefined) return compareCode(code, given);
  if (!ctx.stdin.isTTY) return confirmFromStdin(ctx, code);
  if (!(await yesOnTty(ctx, 'Does the other side show the same code? [y/N] '))) throw new CliError('the codes were not confirmed: aborted, no data sent');
}
