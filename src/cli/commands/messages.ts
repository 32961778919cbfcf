// chat send, who, history, listen.
import type { ChatMessage } from '../../protocol/messages.js';
import { printable, printableJson } from '../../protocol/printable.js';
import type { ChatClient } from '../../client/client.js';
import { ClientError } from '../../client/errors.js';
import { connectSession } from '../connect.js';
import { backoffDelay, Link } from '../interactive/reconnect.js';
import { readStdin } from '../password.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';
import { clock, formatMessage, formatPresence, stamp } from '../output.js';
import { verifiedUsers } from '../known-peers.js';

const FRIEND_WORDS = {
  requested: 'wants to be your friend (chat friend accept)',
  accepted: 'accepted your friend request',
  declined: 'declined your friend request',
  removed: 'removed you from their friends',
} as const;

export const sendCommand = leaf({
  ...COMMAND_LIST.send,
  builder: (y) => y.positional('user', { type: 'string', demandOption: true }).positional('text', { type: 'string', array: true }),
  options: async (argv, ctx) => ({ ...globalsOf(argv), to: argv.user, text: await textOf((argv.text ?? []).map(String), ctx), json: argv.json }),
  run: runSend,
});

/** The words given, or stdin for "-" or no words when stdin is not a terminal (as `git commit -F -`). */
async function textOf(words: string[], ctx: CliContext): Promise<string> {
  if (words.length > 0 && !(words.length === 1 && words[0] === '-')) return words.join(' ');
  if (words.length === 0 && ctx.stdin.isTTY) throw new CliError('nothing to send: chat send <user> <text>, or pipe the text in', 2);
  return readStdin(ctx, 'message');
}

export async function runSend(opts: GlobalOptions & { to: string; text: string; json: boolean }, ctx: CliContext) {
  const client = await connectSession(opts);
  try {
    const message = await client.send(opts.to, opts.text);
    ctx.out(opts.json ? printableJson(message) : `sent to ${printable(message.to)} (id ${printable(String(message.id))})`);
  } finally {
    await client.close();
  }
}

export const whoCommand = leaf({
  ...COMMAND_LIST.who,
  builder: (y) => y,
  options: (argv) => ({ ...globalsOf(argv), json: argv.json }),
  run: runWho,
});

function tags(friend: boolean, verified: boolean): string {
  const words = [friend ? 'friend' : '', verified ? 'verified' : ''].filter(Boolean);
  return words.length > 0 ? ` (${words.join(', ')})` : '';
}

export async function runWho(opts: GlobalOptions & { json: boolean }, ctx: CliContext) {
  const client = await connectSession(opts);
  try {
    const [online, friendList] = await Promise.all([client.who(), client.friendList()]);
    const friends = new Set(friendList.filter((f) => f.state === 'friend').map((f) => f.user));
    // Friends first, each part in name order.
    const users = [...online.filter((u) => friends.has(u)), ...online.filter((u) => !friends.has(u))];
    const verified = verifiedUsers(opts.home, opts.server);
    if (opts.json) ctx.out(printableJson({ users, friends: users.filter((u) => friends.has(u)), verified: users.filter((u) => verified.has(u)) }));
    else if (users.length === 0) ctx.out('nobody is online');
    else for (const user of users) ctx.out(`${printable(user)}${user === client.user ? ' (you)' : tags(friends.has(user), verified.has(user))}`);
  } finally {
    await client.close();
  }
}

export const historyCommand = leaf({
  ...COMMAND_LIST.history,
  builder: (y) =>
    y
      .positional('user', { type: 'string', demandOption: true })
      .option('limit', { type: 'number', default: 50, describe: 'messages per page' })
      .option('before', { type: 'number', describe: 'only messages older than this id' }),
  options: (argv) => {
    if (!Number.isInteger(argv.limit) || argv.limit < 1) throw new CliError('--limit must be a positive integer', 2);
    return { ...globalsOf(argv), with: argv.user, limit: argv.limit, before: argv.before, json: argv.json };
  },
  run: runHistory,
});

export async function runHistory(opts: GlobalOptions & { with: string; limit: number; before?: number; json: boolean }, ctx: CliContext) {
  const client = await connectSession(opts);
  try {
    const page = await client.history(opts.with, { limit: opts.limit, before: opts.before });
    for (const m of page.messages) ctx.out(opts.json ? printableJson(m) : `${printable(String(m.id))} ${formatMessage(m, null, stamp)}`);
    if (page.more && !opts.json) ctx.err(`older messages: chat history ${printable(opts.with)} --before ${printable(String(page.messages[0]!.id))}`);
  } finally {
    await client.close();
  }
}

export const listenCommand = leaf({
  ...COMMAND_LIST.listen,
  builder: (y) => y,
  options: (argv) => ({ ...globalsOf(argv), json: argv.json }),
  run: runListen,
});

export async function runListen(opts: GlobalOptions & { json: boolean }, ctx: CliContext): Promise<void> {
  const link = new Link({ connect: () => connectSession(opts), fatal: (err) => err instanceof CliError });
  // What the server replays while subscribing (the backlog) is held until the banner is out, so
  // that it shows below "listening as …" (or "reconnected"), not above it.
  let held: string[] | null = null;
  const flush = (): void => {
    for (const line of held ?? []) ctx.out(line);
    held = null;
  };
  const print = (event: string, data: object, line: string): void => {
    const out = opts.json ? printableJson({ event, ...data }) : line;
    if (held) held.push(out);
    else ctx.out(out);
  };
  link.on('subscribing', () => (held ??= []));
  // After a reconnect the server replays what this device had not acknowledged yet: print once.
  const printed = new Set<number>();
  link.on('message', (m: ChatMessage) => {
    link.client?.acknowledge(m.id);
    if (printed.has(m.id)) return;
    if (printed.size >= 10_000) printed.clear();
    printed.add(m.id);
    print('message', m, formatMessage(m, link.client?.user ?? null));
  });
  link.on('presence', (p) => {
    if (p.user !== link.client?.user) print('presence', p, formatPresence(p)); // not our own "online"
  });
  link.on('offer', (o) => print('offer', { id: o.id, from: o.from, fileCount: o.fileCount, totalBytes: o.totalBytes },
    printable(`* ${o.from} offers ${o.fileCount} file(s): chat accept ${o.id}`)));
  link.on('group', (e) => print('group', e, printable(`${clock(e.at)} * #${e.group}: ${e.user} ${e.action}${e.by !== e.user ? ` by ${e.by}` : ''}`)));
  link.on('friend', (e) => print('friend', e, `${clock(e.at)} * ${printable(e.user)} ${FRIEND_WORDS[e.action] ?? printable(e.action)}`));
  // It waits for a server that is down or restarts, as IRC clients do; only Ctrl-C or a revoked session ends it.
  link.on('lost', () => {
    flush();
    ctx.err(`chat: lost the connection to ${opts.server}; reconnecting…`);
  });
  // The banner says the subscription is in place (scripts wait for it); the backlog follows it.
  link.on('subscribed', ({ reconnected }) => {
    if (reconnected) ctx.err(`chat: reconnected to ${opts.server}`);
    else ctx.err(`listening as ${printable(link.client?.user)} on ${opts.server} (Ctrl-C to stop)`);
    flush();
  });
  const ended = new Promise<Error | null>((resolve) => {
    link.on('failed', (err) => resolve(err));
    process.once('SIGINT', () => resolve(null));
    process.once('SIGTERM', () => resolve(null));
  });
  let failure: Error | null;
  try {
    await Promise.race([openWhenReachable(link, ctx, ended), ended]);
    failure = await ended;
  } finally {
    flush();
    await link.close();
  }
  if (failure) throw failure;
}

/** Opens the link, waiting (with backoff) while the server cannot be reached; null once `ended`. */
async function openWhenReachable(link: Link, ctx: CliContext, ended: Promise<Error | null>): Promise<ChatClient | null> {
  let stop = false;
  void ended.then(() => (stop = true));
  for (let attempt = 0; ; attempt++) {
    try {
      return await link.open();
    } catch (err) {
      if (stop || !(err instanceof ClientError) || (err.code !== 'unreachable' && err.code !== 'closed')) throw err;
      if (attempt === 0) ctx.err(`chat: ${printable(err.message)}; waiting for the server…`);
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
      if (stop) return null;
    }
  }
}
