// chat (no command): an interactive client on readline. Incoming lines are printed above the
// prompt and the prompt is redrawn with what the user was typing.
import { createInterface, type Interface } from 'node:readline';
import type { ChatClient } from '../../client/client.js';
import { connectSession } from '../connect.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatMessage, formatPresence, stamp } from '../output.js';

const HELP = [
  '/to <user>          talk to <user>: plain lines go there',
  '/msg <user> <text>  send one message to <user>',
  '/who                who is online',
  '/history [user] [n] the last n messages with user (default: current)',
  '/help               this help',
  '/quit               leave',
];

export const interactiveCommand = (ctx: CliContext) => ({
  command: '$0',
  describe: 'interactive chat',
  handler: (argv: Record<string, unknown>) => runInteractive(argv as unknown as GlobalOptions, ctx),
});

class Session {
  target: string | null = null;
  readonly #rl: Interface;

  constructor(
    readonly client: ChatClient,
    readonly ctx: CliContext,
  ) {
    this.#rl = createInterface({ input: ctx.stdin, output: ctx.stdout, terminal: ctx.isTTY && Boolean(ctx.stdin.isTTY) });
    // Nothing is read until the line handlers exist (piped input would be lost otherwise).
    this.#rl.pause();
    this.#setPrompt();
  }

  get rl(): Interface {
    return this.#rl;
  }

  /** Prints a line above the prompt without garbling the input being typed. */
  print(line: string): void {
    if (!this.ctx.isTTY) return this.ctx.out(line);
    this.ctx.stdout.write('\r\x1b[2K');
    this.ctx.out(line);
    this.#rl.prompt(true);
  }

  #setPrompt(): void {
    this.#rl.setPrompt(this.target ? `[${this.target}] > ` : '> ');
  }

  prompt(): void {
    if (this.ctx.isTTY) this.#rl.prompt(true);
  }

  async line(input: string): Promise<boolean> {
    const text = input.trim();
    if (text === '') return true;
    if (!text.startsWith('/')) return this.#say(this.target, text);
    const [cmd, ...rest] = text.split(/\s+/);
    switch (cmd) {
      case '/quit':
      case '/exit':
        return false;
      case '/help':
        HELP.forEach((l) => this.print(l));
        return true;
      case '/to':
        this.target = rest[0] ?? null;
        this.#setPrompt();
        this.print(this.target ? `* talking to ${this.target}` : '* no conversation selected');
        return true;
      case '/msg':
        return this.#say(rest[0] ?? null, text.split(/\s+/).slice(2).join(' '));
      case '/who': {
        const users = await this.client.who();
        this.print(`* online: ${users.join(', ') || 'nobody'}`);
        return true;
      }
      case '/history':
        return this.#history(rest[0] ?? this.target, Number(rest[1] ?? 20));
      default:
        this.print(`* unknown command ${cmd}: try /help`);
        return true;
    }
  }

  async #say(to: string | null, text: string): Promise<boolean> {
    if (!to) {
      this.print('* no conversation: use /to <user> or /msg <user> <text>');
      return true;
    }
    if (!text) return true;
    const m = await this.client.send(to, text);
    this.print(formatMessage(m, null));
    return true;
  }

  async #history(user: string | null, limit: number): Promise<boolean> {
    if (!user) {
      this.print('* whose history? /history <user>');
      return true;
    }
    const page = await this.client.history(user, { limit: Number.isInteger(limit) && limit > 0 ? limit : 20 });
    for (const m of page.messages) this.print(formatMessage(m, null, stamp));
    if (page.messages.length === 0) this.print(`* no messages with ${user}`);
    return true;
  }
}

export async function runInteractive(opts: GlobalOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  const session = new Session(client, ctx);
  client.on('message', (m) => {
    session.print(formatMessage(m, client.user));
    client.acknowledge(m.id);
  });
  client.on('presence', (p) => session.print(formatPresence(p)));
  client.on('offer', (o) => session.print(`* ${o.from} offers ${o.fileCount} file(s): chat accept ${o.id}`));
  await client.subscribe();
  session.print(`* connected to ${opts.server} as ${client.user}; /help for commands`);
  session.prompt();
  const lost = await new Promise<string | null>((resolve) => {
    let chain = Promise.resolve(true);
    client.on('close', (err) => resolve(err ? `connection lost: ${err.message}` : null));
    client.on('shutdown', (s) => resolve(`server shut down: ${s.reason}`));
    // End of input: finish what was typed before it, then leave.
    session.rl.on('close', () => void chain.then(() => resolve(null)));
    session.rl.on('SIGINT', () => resolve(null));
    session.rl.on('line', (input) => {
      chain = chain
        .then((go) => (go ? session.line(input) : false))
        .catch((err: Error) => {
          session.print(`* ${err.message}`);
          return true;
        })
        .then((go) => {
          if (!go) resolve(null);
          else session.prompt();
          return go;
        });
    });
    session.rl.resume();
  });
  session.rl.close();
  await client.close();
  if (lost) ctx.err(lost);
  if (lost) process.exitCode = 1;
}
