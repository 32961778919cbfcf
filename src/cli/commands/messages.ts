// chat send, who, history, listen.
import type { Argv } from 'yargs';
import type { ChatMessage } from '../../protocol/messages.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { connectSession } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { clock, formatMessage, formatPresence, stamp } from '../output.js';
import { verifiedUsers } from '../known-peers.js';

const FRIEND_WORDS = {
  requested: 'wants to be your friend (chat friend accept)',
  accepted: 'accepted your friend request',
  declined: 'declined your friend request',
  removed: 'removed you from their friends',
} as const;

type Argvs = Record<string, unknown>;
const g = (argv: Argvs) => argv as unknown as GlobalOptions;
const jsonOption = (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' });

export const sendCommand = (ctx: CliContext) => ({
  command: 'send <user> <text..>',
  describe: 'send a direct message, or to a group with #name',
  builder: (y: Argv) => jsonOption(y.positional('user', { type: 'string' }).positional('text', { type: 'string', array: true })),
  handler: (argv: Argvs) =>
    runSend({ ...g(argv), to: String(argv.user), text: (argv.text as string[]).join(' '), json: Boolean(argv.json) }, ctx),
});

export async function runSend(opts: GlobalOptions & { to: string; text: string; json: boolean }, ctx: CliContext) {
  const client = await connectSession(opts);
  try {
    const message = await client.send(opts.to, opts.text);
    ctx.out(opts.json ? printableJson(message) : `sent to ${printable(message.to)} (id ${printable(String(message.id))})`);
  } finally {
    await client.close();
  }
}

export const whoCommand = (ctx: CliContext) => ({
  command: 'who',
  describe: 'list online users',
  builder: jsonOption,
  handler: (argv: Argvs) => runWho({ ...g(argv), json: Boolean(argv.json) }, ctx),
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

export const historyCommand = (ctx: CliContext) => ({
  command: 'history <user>',
  describe: 'show your conversation with a user, oldest first',
  builder: (y: Argv) =>
    jsonOption(y.positional('user', { type: 'string' }))
      .option('limit', { type: 'number', default: 50, describe: 'messages per page' })
      .option('before', { type: 'number', describe: 'only messages older than this id' }),
  handler: (argv: Argvs) =>
    runHistory(
      { ...g(argv), with: String(argv.user), limit: argv.limit as number, before: argv.before as number | undefined, json: Boolean(argv.json) },
      ctx,
    ),
});

export async function runHistory(opts: GlobalOptions & { with: string; limit: number; before?: number; json: boolean }, ctx: CliContext) {
  if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new CliError('--limit must be a positive integer', 2);
  const client = await connectSession(opts);
  try {
    const page = await client.history(opts.with, { limit: opts.limit, before: opts.before });
    for (const m of page.messages) ctx.out(opts.json ? printableJson(m) : `${printable(String(m.id))} ${formatMessage(m, null, stamp)}`);
    if (page.more && !opts.json) ctx.err(`older messages: chat history ${printable(opts.with)} --before ${printable(String(page.messages[0]!.id))}`);
  } finally {
    await client.close();
  }
}

export const listenCommand = (ctx: CliContext) => ({
  command: 'listen',
  describe: 'print messages and presence as they arrive, until Ctrl-C',
  builder: jsonOption,
  handler: (argv: Argvs) => runListen({ ...g(argv), json: Boolean(argv.json) }, ctx),
});

export async function runListen(opts: GlobalOptions & { json: boolean }, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  const print = (event: string, data: object, line: string): void => {
    ctx.out(opts.json ? printableJson({ event, ...data }) : line);
  };
  client.on('message', (m: ChatMessage) => {
    print('message', m, formatMessage(m, client.user));
    client.acknowledge(m.id);
  });
  client.on('presence', (p) => print('presence', p, formatPresence(p)));
  client.on('offer', (o) => print('offer', { id: o.id, from: o.from, fileCount: o.fileCount, totalBytes: o.totalBytes },
    printable(`* ${o.from} offers ${o.fileCount} file(s): chat accept ${o.id}`)));
  client.on('group', (e) => print('group', e, printable(`${clock(e.at)} * #${e.group}: ${e.user} ${e.action}${e.by !== e.user ? ` by ${e.by}` : ''}`)));
  client.on('friend', (e) => print('friend', e, `${clock(e.at)} * ${printable(e.user)} ${FRIEND_WORDS[e.action] ?? printable(e.action)}`));
  const ended = new Promise<string | null>((resolve) => {
    client.on('shutdown', (s) => resolve(`server shut down: ${s.reason}`));
    client.on('close', (err) => resolve(err ? err.message : null));
    process.once('SIGINT', () => resolve(null));
    process.once('SIGTERM', () => resolve(null));
  });
  await client.subscribe();
  ctx.err(`listening as ${printable(client.user)} on ${opts.server} (Ctrl-C to stop)`);
  const reason = await ended;
  await client.close();
  if (reason) throw new CliError(reason);
}
