// Yes/no questions a background transfer asks while the user keeps chatting (is the code the
// same on both sides? send to a verified contact's new device?): the input line stays the chat's,
// and the answer is /confirm or /deny, with the transfer's id when several are waiting.
import { CliError } from '../context.js';

interface Open {
  resolve(yes: boolean): void;
}

export class Questions {
  readonly #open = new Map<string, Open>();
  readonly #say: (text: string) => void;

  constructor(say: (text: string) => void) {
    this.#say = say;
  }

  /** Asks `question` for transfer `id`; resolves with the answer (false if it is withdrawn). */
  ask(id: string, question: string): Promise<boolean> {
    this.#open.get(id)?.resolve(false);
    this.#say(`${question}: /confirm ${id} or /deny ${id}`);
    return new Promise<boolean>((resolve) => {
      this.#open.set(id, {
        resolve: (yes) => {
          this.#open.delete(id);
          resolve(yes);
        },
      });
    });
  }

  /** The user's answer; without an id, to the only open question. */
  answer(id: string | undefined, yes: boolean): string {
    const open = [...this.#open.keys()];
    const which = id ?? (open.length === 1 ? open[0] : undefined);
    if (which === undefined || !this.#open.has(which)) {
      if (open.length === 0) throw new CliError('no question is waiting for an answer');
      throw new CliError(id ? `nothing to answer for ${id}: waiting are ${open.join(', ')}` : `several questions wait: ${yes ? '/confirm' : '/deny'} <id> (${open.join(', ')})`);
    }
    this.#open.get(which)!.resolve(yes);
    return which;
  }

  /** A transfer ended: its question, if any, is answered no. */
  withdraw(id: string): void {
    this.#open.get(id)?.resolve(false);
  }

  get ids(): string[] {
    return [...this.#open.keys()];
  }
}
