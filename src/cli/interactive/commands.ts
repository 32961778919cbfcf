// The slash commands of the interactive client. Each runs against a Shell (what the session
// offers them) and prints through it; the table also drives /help and Tab completion.
import path from 'node:path';
import type { ChatClient } from '../../client/client.js';
import type { ClientError } from '../../client/errors.js';
import type { ChatMessage, FriendInfo, OfferInfo } from '../../protocol/messages.js';
import { normalizeGroup, normalizeName } from '../../protocol/names.js';
import { formatOffer, fullOffer } from '../commands/offers.js';
import { CliError, type GlobalOptions } from '../context.js';
import { safetyNumbers } from '../commands/verify.js';
import { pinPeer, verifiedUsers } from '../known-peers.js';
import { keyLabel } from '../../transfer/index.js';
import { printable } from '../../protocol/printable.js';
import { FRIEND_ACTIONS, expandHome, splitWords, type ArgKind } from './completer.js';
import { messageLine, type Palette } from './render.js';
import { isGroup, type ChatState, type Directory } from './state.js';
import type { NetworkOptions, Transfers } from './transfers.js';
import { parseTransferFlags, transferSettings } from '../transfer-options.js';

/** What commands may use: the session implements it. */
export interface Shell {
  readonly state: ChatState;
  readonly directory: Directory;
  readonly transfers: Transfers;
  readonly palette: Palette;
  /** The connected client; throws a CliError while reconnecting. */
  client(): ChatClient;
  /** Prints `* text`. */
  say(text: string): void;
  print(...lines: string[]): void;
  /** Sends `text` to a user or '#group' and shows it. */
  sendText(to: string, text: string): Promise<void>;
  /** Makes `name` current and shows `recent` messages, then its unread ones. */
  switchTo(name: string | null, recent?: ChatMessage[]): void;
  /** Open offers known to the session, by id. */
  readonly offers: Map<string, OfferInfo>;
  /** CHAT_HOME, --server and the other global options (identity and pins, /verify). */
  readonly where: GlobalOptions;
  /** chat's --bind, --advertise and --advertise-only, for /send and /accept. */
  readonly network: NetworkOptions;
  /** Reloads online users, friends and groups (for completion and notices). */
  reloadDirectory(): Promise<void>;
}

export type Outcome = 'quit' | void;

interface Command {
  usage: string;
  help: string;
  args: ArgKind[];
  run(shell: Shell, args: string[], raw: string): Promise<Outcome> | Outcome;
}

/** A parsed input line: text for the current conversation, or a command with its arguments. */
export type Input = { kind: 'text'; text: string } | { kind: 'command'; name: string; args: string[]; raw: string } | { kind: 'empty' };

export function parseInput(line: string): Input {
  const text = line.trim();
  if (text === '') return { kind: 'empty' };
  // `//text` sends a line that starts with a slash.
  if (!text.startsWith('/') || text.startsWith('//')) return { kind: 'text', text: text.startsWith('//') ? text.slice(1) : text };
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text)!;
  return { kind: 'command', name: m[1]!.toLowerCase(), args: splitWords(m[2]!), raw: m[2]! };
}

/** A user or '#group' named on the command line, normalized; a CliError if it cannot be one. */
export function parseTarget(raw: string | undefined): string {
  if (!raw) throw new CliError('whom? give a user or #group');
  const name = raw.startsWith('#') ? normalizeGroup(raw) : normalizeName(raw);
  if (!name) throw new CliError(`not a user or #group name: ${printable(raw)}`);
  return raw.startsWith('#') ? `#${name}` : name;
}

/** A group name (without '#') from `raw`. */
function groupName(raw: string | undefined): string {
  if (!raw) throw new CliError('which group? give #name');
  const name = normalizeGroup(raw);
  if (!name) throw new CliError(`not a group name: ${printable(raw)}`);
  return name;
}

/** The group named, or the current conversation if it is a group. */
function groupOrCurrent(shell: Shell, raw: string | undefined): string {
  const current = shell.state.current;
  return groupName(raw ?? (current && isGroup(current) ? current : undefined));
}

function userArg(raw: string | undefined): string {
  const name = normalizeName(raw ?? '');
  if (!name) throw new CliError(raw ? `not a user name: ${printable(raw)}` : 'which user?');
  return name;
}

/** The text after the first `n` words of `raw` (the message of /msg, a note, a reason). */
function textAfter(raw: string, n: number): string {
  return raw.replace(new RegExp(`^(?:\\S+\\s+){${n}}`), '').trim();
}

/** The options of /send and /accept: those of chat send-file and chat accept, minus the network ones (chat's). */
const SHARED_FLAGS = ['verify', 'verify-code', 'via', 'limit-rate', 'parallel', 'insecure-peer'] as const;
const ACCEPT_FLAGS = [...SHARED_FLAGS, 'force-copy'] as const;
const SEND_FLAGS = [...SHARED_FLAGS, 'follow-symlinks'] as const;

function flagList(flags: readonly string[]): string {
  return flags.map((f) => `--${f}`).join(' ');
}
const OFFER_ID = /^[abcdefghjkmnpqrstuvwxyz23456789]{8}$/;

export const COMMANDS = new Map<string, Command>([
  ['/to', { usage: '/to <user|#group>', help: 'talk to someone: plain lines go there', args: ['name'], run: to }],
  ['/msg', { usage: '/msg <user|#group> <text>', help: 'send one message without switching', args: ['name', 'text'], run: msg }],
  ['/who', { usage: '/who', help: 'who is online', args: [], run: who }],
  ['/friends', { usage: '/friends', help: 'your friends and friend requests', args: [], run: friends }],
  ['/friend', { usage: '/friend <add|accept|decline|remove|note> <user>', help: 'manage contacts (note: /friend note <user> <text>)', args: ['friend-action', 'name', 'text'], run: friend }],
  ['/block', { usage: '/block [user]', help: 'refuse a user\'s messages, offers and invitations (they are not told); no user: list', args: ['name'], run: block }],
  ['/unblock', { usage: '/unblock <user>', help: 'accept that user again', args: ['name'], run: unblock }],
  ['/verify', { usage: '/verify <user> [number|yes]', help: 'safety numbers with a user\'s devices; with the number (or yes) marks them verified', args: ['name', 'text'], run: verify }],
  ['/groups', { usage: '/groups', help: 'public groups and yours', args: [], run: groups }],
  ['/join', { usage: '/join <#group>', help: 'join a group and talk there', args: ['group'], run: join }],
  ['/leave', { usage: '/leave [#group]', help: 'leave a group (default: the current one)', args: ['member-group'], run: leave }],
  ['/members', { usage: '/members [#group]', help: 'who is in a group (default: the current one)', args: ['member-group'], run: members }],
  ['/create', { usage: '/create <#group> [private]', help: 'create a group (you own it)', args: ['text', 'text'], run: create }],
  ['/invite', { usage: '/invite <#group> <user>', help: 'invite a user to a group', args: ['member-group', 'name'], run: invite }],
  ['/kick', { usage: '/kick <#group> <user>', help: 'remove a member (owner only)', args: ['member-group', 'name'], run: kick }],
  ['/delete', { usage: '/delete <#group>', help: 'delete a group and its history (owner only)', args: ['member-group'], run: remove }],
  ['/history', { usage: '/history [user|#group] [n]', help: 'the last n messages (default: current, 20)', args: ['name', 'text'], run: history }],
  ['/send', { usage: '/send [options] <path...>', help: `offer files to the current user (options: ${flagList(SEND_FLAGS)})`, args: ['path'], run: send }],
  ['/offers', { usage: '/offers', help: 'file offers waiting for you', args: [], run: offers }],
  ['/accept', { usage: '/accept [options] [id] [dir]', help: `receive an offer, into the current directory (options: ${flagList(ACCEPT_FLAGS)})`, args: ['offer', 'path'], run: accept }],
  ['/reject', { usage: '/reject <id> [reason]', help: 'decline an offer', args: ['offer', 'text'], run: reject }],
  ['/confirm', { usage: '/confirm [id]', help: 'yes to a transfer\'s question (the same code on both sides, a new device)', args: ['offer'], run: (shell, args) => answer(shell, args, true) }],
  ['/deny', { usage: '/deny [id]', help: 'no to a transfer\'s question: it is aborted, no data sent', args: ['offer'], run: (shell, args) => answer(shell, args, false) }],
  ['/help', { usage: '/help', help: 'this help', args: ['command'], run: help }],
  ['/quit', { usage: '/quit', help: 'leave (running transfers are cancelled)', args: [], run: () => 'quit' }],
]);

/** Runs one input line. */
export async function runInput(shell: Shell, input: Input): Promise<Outcome> {
  if (input.kind === 'empty') return;
  if (input.kind === 'text') {
    if (!shell.state.current) throw new CliError('no conversation: use /to <user|#group> or /msg <user> <text>');
    return shell.sendText(shell.state.current, input.text);
  }
  const name = input.name === '/exit' ? '/quit' : input.name;
  const command = COMMANDS.get(name);
  if (!command) throw new CliError(`unknown command ${printable(input.name)}: try /help`);
  return command.run(shell, input.args, input.raw);
}

/** Completion table: command → kinds of its arguments. */
export function completionTable(): Map<string, readonly ArgKind[]> {
  return new Map([...COMMANDS.entries()].map(([name, c]) => [name, c.args]));
}

/** Messages of a conversation shown on /to (as IRC clients show a channel's recent lines). */
const RECENT_ON_SWITCH = 5;

async function to(shell: Shell, args: string[]): Promise<void> {
  if (args.length === 0) {
    shell.say(shell.state.current ? `talking to ${shell.state.current}` : 'no conversation selected: /to <user|#group>');
    return;
  }
  const target = parseTarget(args[0]);
  shell.switchTo(target, await recentOf(shell, target));
}

/**
 * The last messages with `target`, which also refuses a user or group the server does not know
 * (a typo would otherwise become the conversation).
 */
async function recentOf(shell: Shell, target: string): Promise<ChatMessage[]> {
  if (target === shell.state.me) return [];
  let client: ChatClient;
  try {
    client = shell.client();
  } catch {
    return []; // reconnecting: cannot ask; a send will say if it does not exist
  }
  try {
    return (await client.history(target, { limit: RECENT_ON_SWITCH })).messages;
  } catch (err) {
    const code = (err as ClientError).code;
    if (code === 'no_such_user' || code === 'no_such_group') throw new CliError(`${(err as Error).message}: not switched`);
    if (code !== 'not_member') throw err; // a private group: it exists
    return [];
  }
}

async function msg(shell: Shell, args: string[], raw: string): Promise<void> {
  const target = parseTarget(args[0]);
  const text = textAfter(raw, 1);
  if (!text) throw new CliError('what? /msg <user|#group> <text>');
  await shell.sendText(target, text);
}

async function who(shell: Shell): Promise<void> {
  const users = await shell.client().who();
  shell.directory.setOnline(users);
  const me = shell.state.me;
  const verified = verifiedUsers(shell.where.home, shell.where.server);
  const tag = (u: string): string => [shell.directory.isFriend(u) ? 'friend' : '', verified.has(u) ? 'verified' : ''].filter(Boolean).join(', ');
  const label = (u: string): string => (u === me ? `${u} (you)` : tag(u) ? `${u} (${tag(u)})` : u);
  shell.say(`online: ${users.map(label).join(', ') || 'nobody'}`);
}

// /verify bob: the numbers; /verify bob 12345 … (all 60 digits) or /verify bob yes: marks verified.
async function verify(shell: Shell, args: string[], raw: string): Promise<void> {
  const user = parseTarget(args[0]);
  if (isGroup(user)) throw new CliError('/verify takes a user, not a group');
  const numbers = await safetyNumbers(shell.client(), shell.where, user);
  const answer = textAfter(raw, 1);
  for (const n of numbers) shell.say(`${user} device "${printable(n.device)}", key ${keyLabel(n.key)}: safety number ${n.number}`);
  const digits = answer.replace(/\D/g, '');
  const chosen = answer.toLowerCase() === 'yes' ? numbers : digits ? numbers.filter((n) => n.number.replace(/\D/g, '') === digits) : [];
  if (digits && chosen.length === 0) throw new CliError('that safety number matches none of these devices: not verified (someone may be intercepting)');
  if (chosen.length === 0) return shell.say(`compare with ${user} out of band, then: /verify ${user} yes`);
  for (const n of chosen) pinPeer(shell.where.home, { server: shell.where.server, user, device: n.device, key: n.key, verified: true });
  shell.say(`${user} is now verified (${chosen.length} device${chosen.length === 1 ? '' : 's'})`);
}

async function friends(shell: Shell): Promise<void> {
  const list = await shell.client().friendList();
  setFriends(shell, list);
  const of = (state: FriendInfo['state']) => list.filter((f) => f.state === state);
  const note = (f: FriendInfo): string => (f.note ? ` "${printable(f.note)}"` : '');
  if (list.length === 0) return shell.say('no friends yet: /friend add <user>');
  if (of('friend').length > 0) shell.say(`friends: ${of('friend').map((f) => `${f.user} (${f.online ? 'online' : 'offline'})${note(f)}`).join(', ')}`);
  for (const f of of('incoming')) shell.say(`${f.user} wants to be your friend (/friend accept ${f.user})`);
  if (of('outgoing').length > 0) shell.say(`requests sent: ${of('outgoing').map((f) => f.user).join(', ')}`);
}

function setFriends(shell: Shell, list: FriendInfo[]): void {
  shell.directory.friends = new Map(list.map((f) => [f.user, f.state]));
  for (const f of list) if (f.state === 'friend') shell.directory.presence(f.user, f.online);
}

async function friend(shell: Shell, args: string[], raw: string): Promise<void> {
  const [action, rawUser] = args;
  if (!action || !FRIEND_ACTIONS.includes(action)) throw new CliError('/friend add|accept|decline|remove <user>, or /friend note <user> <text>');
  const user = userArg(rawUser);
  const client = shell.client();
  if (action === 'add') {
    const r = await client.friendAdd(user);
    shell.say(r.state === 'friend' ? `you and ${user} are friends` : `friend request sent to ${user}`);
  } else if (action === 'accept') {
    await client.friendAccept(user);
    shell.say(`you and ${user} are friends`);
  } else if (action === 'decline') {
    await client.friendDecline(user);
    shell.say(`declined ${user}'s request`);
  } else if (action === 'remove') {
    await client.friendRemove(user);
    shell.say(`removed ${user}`);
  } else {
    await client.friendNote(user, textAfter(raw, 2));
    shell.say(`noted`);
  }
  await shell.reloadDirectory();
}

async function groups(shell: Shell): Promise<void> {
  const list = await shell.client().groupList();
  shell.directory.groups = new Map(list.map((g) => [`#${g.name}`, g.member]));
  if (list.length === 0) return shell.say('no groups yet: /create <#group>');
  for (const g of list) {
    shell.say(`#${g.name}  ${g.members} member${g.members === 1 ? '' : 's'}  owner ${g.owner}${g.private ? '  private' : ''}${g.member ? '  (joined)' : ''}`);
  }
}

async function join(shell: Shell, args: string[]): Promise<void> {
  const name = groupName(args[0]);
  const client = shell.client();
  // As on IRC, joining a group that does not exist creates it (public, owned by you).
  const r = await client.groupJoin(name).catch(async (err: ClientError) => {
    if (err.code !== 'no_such_group') throw err;
    const created = await client.groupCreate(name);
    shell.say(`created group #${created.group} (public: anyone may /join; you own it)`);
    return created;
  });
  shell.directory.groups.set(`#${r.group}`, true);
  shell.say(`joined #${r.group}`);
  shell.switchTo(`#${r.group}`);
}

async function leave(shell: Shell, args: string[]): Promise<void> {
  const r = await shell.client().groupLeave(groupOrCurrent(shell, args[0]));
  shell.directory.groups.set(`#${r.group}`, false);
  shell.state.leave(`#${r.group}`);
  shell.say(`left #${r.group}`);
}

async function members(shell: Shell, args: string[]): Promise<void> {
  const group = groupOrCurrent(shell, args[0]);
  const list = await shell.client().groupMembers(group);
  for (const m of list) shell.directory.presence(m.user, m.online);
  const label = (m: (typeof list)[number]): string => {
    const notes = [m.role === 'owner' ? 'owner' : '', m.online ? 'online' : ''].filter(Boolean);
    return notes.length > 0 ? `${m.user} (${notes.join(', ')})` : m.user;
  };
  shell.say(`#${group}: ${list.map(label).join(', ')}`);
}

async function create(shell: Shell, args: string[]): Promise<void> {
  const isPrivate = args[1] === 'private';
  if (args[1] !== undefined && !isPrivate) throw new CliError('/create <#group> [private]');
  const r = await shell.client().groupCreate(groupName(args[0]), { private: isPrivate });
  shell.directory.groups.set(`#${r.group}`, true);
  shell.say(`created ${r.private ? 'private ' : ''}group #${r.group}`);
  shell.switchTo(`#${r.group}`);
}

async function invite(shell: Shell, args: string[]): Promise<void> {
  const group = groupName(args[0]);
  const user = userArg(args[1]);
  await shell.client().groupInvite(group, user);
  shell.say(`invited ${user} to #${group}`);
}

async function kick(shell: Shell, args: string[]): Promise<void> {
  const group = groupName(args[0]);
  const user = userArg(args[1]);
  await shell.client().groupKick(group, user);
  shell.say(`removed ${user} from #${group}`);
}

async function remove(shell: Shell, args: string[]): Promise<void> {
  const group = groupName(args[0]);
  await shell.client().groupDelete(group);
  shell.directory.groups.delete(`#${group}`);
  shell.state.leave(`#${group}`);
  shell.say(`deleted #${group}`);
}

async function block(shell: Shell, args: string[]): Promise<void> {
  const client = shell.client();
  if (args.length === 0) {
    const list = await client.blocked();
    return shell.say(list.length === 0 ? 'you block nobody' : `blocked: ${list.map((b) => b.user).join(', ')}`);
  }
  const { user, added } = await client.block(userArg(args[0]));
  shell.say(added ? `blocked ${user}: their messages, offers and invitations are refused, and they are not told` : `${user} was already blocked`);
}

async function unblock(shell: Shell, args: string[]): Promise<void> {
  const { user } = await shell.client().unblock(userArg(args[0]));
  shell.say(`unblocked ${user}`);
}

async function history(shell: Shell, args: string[]): Promise<void> {
  const [first, second] = /^\d+$/.test(args[0] ?? '') ? [undefined, args[0]] : [args[0], args[1]];
  const target = first ? parseTarget(first) : shell.state.current;
  if (!target) throw new CliError('whose history? /history <user|#group> [n]');
  const limit = second ? Number(second) : 20;
  if (!Number.isInteger(limit) || limit < 1) throw new CliError('/history [user|#group] [n]: n is a positive number');
  const page = await shell.client().history(target, { limit });
  const view = { me: shell.state.me, current: target, palette: shell.palette };
  shell.print(...page.messages.map((m) => messageLine(m, view)));
  if (page.messages.length === 0) shell.say(`no messages with ${target}`);
  else if (page.more) shell.say(`older messages: /history ${target} ${limit * 2}`);
}

async function send(shell: Shell, args: string[]): Promise<void> {
  const to = shell.state.current;
  if (!to || isGroup(to)) throw new CliError('files go to one user: /to <user> first, then /send <path...>');
  const { options, rest: paths } = parseTransferFlags(args, SEND_FLAGS);
  if (paths.length === 0) throw new CliError('what? /send [options] <path...>');
  const settings = { ...transferSettings(options, shell.network), followSymlinks: Boolean(options.followSymlinks) };
  await shell.transfers.send(shell.client(), to, paths.map(expandHome), settings);
}

function answer(shell: Shell, args: string[], yes: boolean): void {
  const id = shell.transfers.questions.answer(args[0], yes);
  shell.say(yes ? `confirmed for ${id}` : `denied for ${id}: aborting`);
}

async function offers(shell: Shell): Promise<void> {
  const client = shell.client();
  const list = await client.offers();
  shell.offers.clear();
  for (const info of list) shell.offers.set(info.id, info);
  if (list.length === 0) return shell.say('no offers are waiting for you');
  for (const info of list) {
    const [head, ...files] = formatOffer(await fullOffer(client, info));
    shell.say(`${head!}  (/accept ${info.id})`);
    shell.print(...files);
  }
}

async function accept(shell: Shell, words: string[]): Promise<void> {
  const { options, rest: args } = parseTransferFlags(words, ACCEPT_FLAGS);
  const settings = { ...transferSettings(options, shell.network), forceCopy: Boolean(options.forceCopy) };
  const client = shell.client();
  const list = await client.offers();
  // `/accept ~/Downloads` with a single offer waiting: the argument is the directory.
  const [id, dirArg] = args[0] !== undefined && !OFFER_ID.test(args[0]) && args.length === 1 ? [undefined, args[0]] : [args[0], args[1]];
  const info = id ? list.find((o) => o.id === id) : list.length === 1 ? list[0] : undefined;
  if (!info) {
    if (id) throw new CliError(`no such offer: ${printable(id)} (see /offers)`);
    if (list.length === 0) throw new CliError('no offers are waiting for you');
    throw new CliError(`${list.length} offers are waiting: /accept <id> (see /offers)`);
  }
  const dir = path.resolve(expandHome(dirArg ?? '.'));
  const files = await client.offerFiles(info.id);
  shell.offers.delete(info.id);
  shell.transfers.accept(client, info, files, dir, settings);
}

async function reject(shell: Shell, args: string[], raw: string): Promise<void> {
  const id = args[0];
  if (!id) throw new CliError('which offer? /reject <id> [reason]');
  const reason = textAfter(raw, 1);
  // Forgotten first: the offer_closed event of our own reject may come before the reply, and
  // must not read as "rejected on another device".
  const info = shell.offers.get(id);
  shell.offers.delete(id);
  try {
    await shell.client().request('reject', { offer: id, reason: reason || undefined });
  } catch (err) {
    if (info) shell.offers.set(id, info);
    throw err;
  }
  shell.say(`rejected offer ${id}`);
}

function help(shell: Shell, args: string[]): void {
  const one = args[0] ? COMMANDS.get(`/${args[0].replace(/^\//, '').toLowerCase()}`) : undefined;
  if (one) return shell.print(`${one.usage}  ${one.help}`);
  const width = Math.max(...[...COMMANDS.values()].map((c) => c.usage.length));
  shell.print(...[...COMMANDS.values()].map((c) => `${c.usage.padEnd(width)}  ${c.help}`));
  shell.print('plain lines go to the current conversation (//text sends a line starting with /); Tab completes');
}
