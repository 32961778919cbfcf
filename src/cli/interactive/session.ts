// The interactive session: server events go through the state to the screen, input lines go to
// the commands. The only part of the interactive client that knows about all the others.
import type { ChatClient } from '../../client/client.js';
import { ClientError } from '../../client/errors.js';
import type { ChatMessage, FriendEvent, GroupEvent, OfferCloseReason, OfferInfo } from '../../protocol/messages.js';
import { printable } from '../../protocol/printable.js';
import { connectSession, relayOf } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { messageWithHint } from '../hints.js';
import { loadSession } from '../sessions.js';
import { parseInput, runInput, completionTable, type Input, type Outcome, type Shell } from './commands.js';
import { complete, listDirectory, type CompletionSource } from './completer.js';
import { Link } from './reconnect.js';
import {
  colorsWanted, messageLine, newNotice, notice, offerNotice, palette, promptText, statusLine, unreadList, type Palette,
} from './render.js';
import { Screen, type LineHandle } from './screen.js';
import { ChatState, Directory, isGroup } from './state.js';
import { Transfers, type NetworkOptions } from './transfers.js';

export interface InteractiveOptions extends GlobalOptions {
  network: NetworkOptions;
}

type Ending = 'quit' | 'eof' | 'failed';

/** Redraw the transfer status line at most this often. */
const STATUS_EVERY_MS = 200;
/** Own lines remembered for a later ✓✓ (older ones have scrolled away anyway). */
const MAX_OWN_LINES = 50;
/** Lines typed while reconnecting that wait to be sent. */
const MAX_QUEUED_LINES = 100;
/** A first connection failing with these waits for the server instead of giving up. */
const SERVER_DOWN = new Set(['unreachable', 'closed', 'timeout', 'shutting_down', 'overloaded']);

const FRIEND_WORDS: Record<FriendEvent['action'], (u: string) => string> = {
  requested: (u) => `${u} wants to be your friend (/friend accept ${u})`,
  accepted: (u) => `${u} accepted your friend request`,
  declined: (u) => `${u} declined your friend request`,
  removed: (u) => `${u} removed you from their friends`,
};

const OFFER_END: Record<OfferCloseReason, string> = {
  accepted: 'was accepted on another device',
  rejected: 'was rejected on another device',
  withdrawn: 'was withdrawn',
  expired: 'expired',
  sender_gone: 'was withdrawn (the sender left)',
};

export class Session implements Shell {
  readonly state: ChatState;
  readonly directory = new Directory();
  readonly transfers: Transfers;
  readonly palette: Palette;
  readonly offers = new Map<string, OfferInfo>();

  /** CHAT_HOME and --server: this device's identity and its pins (/verify). */
  get where(): GlobalOptions {
    return this.#opts;
  }

  get network(): NetworkOptions {
    return this.#opts.network;
  }
  readonly #ctx: CliContext;
  readonly #opts: InteractiveOptions;
  readonly #link: Link;
  readonly #screen: Screen;
  #replaying = false;
  /** Conversations that got unread messages during a backlog replay, with the last sender. */
  #replayed = new Map<string, string>();
  #ownLines = new Map<number, { handle: LineHandle; message: ChatMessage; current: string | null }>();
  #statusTimer: NodeJS.Timeout | null = null;
  #statusDrawnAt = 0;
  #end: (how: Ending) => void = () => {};
  #failure: Error | null = null;

  constructor(ctx: CliContext, opts: InteractiveOptions) {
    this.#ctx = ctx;
    this.#opts = opts;
    // The saved login names us before the first connection (whose backlog needs to know who we are).
    this.state = new ChatState(loadSession(opts.home, opts.server)?.user ?? '');
    this.palette = palette(colorsWanted(ctx.isTTY, ctx.env));
    this.#link = new Link({
      connect: () => this.#connect(),
      fatal: (err) => err instanceof CliError,
      transient: (err) => err instanceof ClientError && SERVER_DOWN.has(err.code),
    });
    this.#screen = new Screen(ctx, (line) => complete(line, this.#completion()));
    this.transfers = new Transfers({
      link: this.#link, relay: () => relayOf(this.client(), opts), home: opts.home, server: opts.server, say: (text) => this.say(text), changed: () => this.#statusChanged(),
    });
    this.#listen();
  }

  /** Connects, runs until /quit or end of input; the exit code. */
  async run(): Promise<number> {
    if (!(await this.#open())) return 130;
    this.say(`connected to ${this.#opts.server} as ${this.state.me}; /help for commands`);
    this.#replaySummary();
    void this.reloadDirectory();
    this.#refreshPrompt();
    // Signals quit like /quit (offers withdrawn, transfers cancelled); on a terminal Ctrl-C comes
    // through readline instead.
    const onSignal = (): void => this.#end('quit');
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await this.#finish(await this.#readInput());
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  /** The first connection, waiting for a server that is down; false if the user gave up (Ctrl-C). */
  async #open(): Promise<boolean> {
    let gaveUp = false;
    const giveUp = (): void => {
      gaveUp = true;
      void this.#link.close();
    };
    process.on('SIGINT', giveUp);
    process.on('SIGTERM', giveUp);
    this.#screen.rl.on('SIGINT', giveUp); // Ctrl-C on a terminal
    try {
      await this.#link.open((err) => this.say(`${this.#opts.server} is not reachable (${err.message}); waiting for it (Ctrl-C to quit)`));
      return true;
    } catch (err) {
      this.#screen.close();
      if (gaveUp) return false;
      throw err;
    } finally {
      process.off('SIGINT', giveUp);
      process.off('SIGTERM', giveUp);
      this.#screen.rl.off('SIGINT', giveUp);
    }
  }

  /** Connects with the saved session; it must still be the same user (conversations are theirs). */
  async #connect(): Promise<ChatClient> {
    const client = await connectSession(this.#opts);
    if (client.user === this.state.me) return client;
    await client.close();
    throw new CliError(`the saved login for ${this.#opts.server} is now ${client.user}, not ${this.state.me}: start chat again`);
  }

  // Shell, for the commands.

  client(): ChatClient {
    const client = this.#link.client;
    if (!client) throw new CliError('not connected to the server (reconnecting…)');
    return client;
  }

  /** A notice line; it names peers and carries server and peer texts, so it passes the sanitizer. */
  say(text: string): void {
    this.print(notice(printable(text), this.palette));
  }

  print(...lines: string[]): void {
    this.#screen.print(...lines);
  }

  async sendText(to: string, text: string): Promise<void> {
    if (!this.#link.client) return this.#queue(to, text);
    let m: ChatMessage;
    try {
      m = await this.client().send(to, text);
    } catch (err) {
      // On a terminal the typed line was replaced by the sent one: give the text back.
      throw new CliError(`not sent to ${to} (${(err as Error).message}): ${text}`);
    }
    const mark = this.state.sent(m);
    const [handle] = this.#screen.print(this.#line(m, mark));
    if (handle) this.#rememberOwn(m, handle);
  }

  switchTo(name: string | null, recent: ChatMessage[] = []): void {
    const unread = this.state.switchTo(name);
    if (name) this.say(`talking to ${name}`);
    const unseen = new Set(unread.map((m) => m.id));
    this.print(...recent.filter((m) => !unseen.has(m.id)).map((m) => this.#line(m)));
    this.print(...unread.map((m) => this.#line(m)));
    this.#refreshPrompt();
  }

  // Lines typed while reconnecting wait here (bounded) and go out, in order, once connected.
  #queued: { to: string; text: string }[] = [];

  #queue(to: string, text: string): void {
    if (this.#queued.length >= MAX_QUEUED_LINES) throw new CliError(`not connected, and ${MAX_QUEUED_LINES} lines already wait: not sent to ${to}: ${text}`);
    this.#queued.push({ to, text });
    this.say(`not connected: sent to ${to} once reconnected (${this.#queued.length} waiting)`);
  }

  async #flushQueued(): Promise<void> {
    while (this.#queued.length > 0 && this.#link.client) {
      const { to, text } = this.#queued.shift()!;
      await this.sendText(to, text).catch((err: Error) => this.say(err.message));
    }
  }

  async reloadDirectory(): Promise<void> {
    const client = this.#link.client;
    if (!client) return;
    const [online, friends, groups] = await Promise.allSettled([client.who(), client.friendList(), client.groupList()]);
    if (online.status === 'fulfilled') this.directory.setOnline(online.value);
    if (friends.status === 'fulfilled') this.directory.friends = new Map(friends.value.map((f) => [f.user, f.state]));
    if (groups.status === 'fulfilled') this.directory.groups = new Map(groups.value.map((g) => [`#${g.name}`, g.member]));
  }

  // Server events.

  #listen(): void {
    const link = this.#link;
    link.on('subscribing', () => (this.#replaying = true));
    link.on('subscribed', ({ reconnected }) => this.#subscribed(reconnected));
    link.on('lost', () => {
      this.say('lost connection to server; reconnecting…');
      this.#refreshPrompt();
    });
    link.on('failed', (err) => {
      if (this.#queued.length > 0) this.say(`${this.#queued.length} line(s) typed while reconnecting were not sent`);
      this.#failure = err;
      this.#end('failed');
    });
    link.on('message', (m) => this.#onMessage(m));
    link.on('delivered', (d) => this.#onDelivered(d.id, d.to));
    link.on('presence', (p) => this.#onPresence(p.user, p.online));
    link.on('offer', (o) => void this.#onOffer(o));
    link.on('offer_closed', (e) => this.#onOfferClosed(e.offer, e.reason));
    link.on('group', (e) => this.#onGroup(e));
    link.on('friend', (e) => this.#onFriend(e));
  }

  #subscribed(reconnected: boolean): void {
    this.#replaying = false;
    if (!reconnected) return; // run() says hello first
    this.say('reconnected');
    void this.#flushQueued();
    this.#replaySummary();
    void this.reloadDirectory();
    this.#refreshPrompt();
  }

  #onMessage(m: ChatMessage): void {
    const arrival = this.state.receive(m);
    this.#link.client?.acknowledge(m.id);
    if (arrival.kind === 'show') this.print(this.#line(m));
    if (arrival.kind !== 'unread') return;
    // A replayed backlog gets one summary line instead of a notice per message.
    if (this.#replaying) this.#replayed.set(arrival.conversation, m.from);
    else this.print(newNotice(arrival.conversation, arrival.count, this.palette, m.from));
    this.#refreshPrompt();
  }

  #replaySummary(): void {
    const conversations = [...this.#replayed.keys()];
    this.#replayed.clear();
    if (conversations.length === 0) return;
    if (conversations.length === 1) {
      const name = conversations[0]!;
      return this.print(newNotice(name, this.state.unreadIn(name), this.palette));
    }
    const unread = this.state.unread();
    this.say(`${this.state.totalUnread()} new: ${unreadList(unread)} (/to ${unread[0]!.conversation})`);
  }

  #onDelivered(id: number, to: string): void {
    for (const changed of this.state.delivered(id, to)) {
      const own = this.#ownLines.get(changed);
      if (!own) continue;
      const view = { me: this.state.me, current: own.current, palette: this.palette, mark: 'delivered' as const };
      this.#screen.rewrite(own.handle, messageLine(own.message, view));
      this.#ownLines.delete(changed);
    }
  }

  #onPresence(user: string, online: boolean): void {
    this.directory.presence(user, online);
    const relevant = user === this.state.current || this.directory.isFriend(user);
    if (relevant && user !== this.state.me) this.say(`${user} is ${online ? 'online' : 'offline'}`);
  }

  async #onOffer(info: OfferInfo): Promise<void> {
    if (this.offers.has(info.id)) return; // offered again after a reconnect
    this.offers.set(info.id, info);
    const files = (await this.#link.client?.offerFiles(info.id).catch(() => null)) ?? null;
    this.print(offerNotice(info, files, this.palette));
  }

  #onOfferClosed(id: string, reason: OfferCloseReason): void {
    const info = this.offers.get(id);
    if (!info) return;
    this.offers.delete(id);
    this.say(`offer ${id} from ${info.from} ${OFFER_END[reason]}`);
  }

  #onGroup(e: GroupEvent): void {
    const name = `#${e.group}`;
    const me = this.state.me;
    if (e.user === me) this.directory.groups.set(name, e.action === 'joined' || e.action === 'created');
    if (e.action === 'deleted') this.directory.groups.delete(name);
    if ((e.user === me && ['left', 'kicked'].includes(e.action)) || e.action === 'deleted') this.state.leave(name);
    const text = this.#groupText(e, name);
    if (text) this.say(text);
    this.#refreshPrompt();
  }

  #groupText(e: GroupEvent, name: string): string | null {
    const me = this.state.me;
    if (e.by === me) return null; // our own command said it already
    if (e.action === 'invited' && e.user === me) return `${e.by} invited you to ${name} (/join ${name})`;
    if (e.action === 'kicked' && e.user === me) return `${e.by} removed you from ${name}`;
    if (e.action === 'deleted') return `${name} was deleted by ${e.by}`;
    if (name !== this.state.current) return null; // joins and leaves elsewhere are noise
    return `${name}: ${e.user} ${e.action}${e.by !== e.user ? ` by ${e.by}` : ''}`;
  }

  #onFriend(e: FriendEvent): void {
    if (e.action === 'requested') this.directory.friends.set(e.user, 'incoming');
    else if (e.action === 'accepted') this.directory.friends.set(e.user, 'friend');
    else this.directory.friends.delete(e.user);
    this.say(FRIEND_WORDS[e.action]?.(e.user) ?? `${e.user} ${e.action}`);
  }

  // Input.

  #readInput(): Promise<Ending> {
    return new Promise<Ending>((resolve) => {
      let ended = false;
      this.#end = (how) => {
        ended = true;
        resolve(how);
      };
      let chain: Promise<unknown> = Promise.resolve();
      const rl = this.#screen.rl;
      rl.on('line', (line) => {
        if (ended) return;
        const input = parseInput(line);
        this.#screen.entered(line, input.kind === 'command');
        this.#screen.prompt();
        chain = chain.then(async () => {
          if (!ended && (await this.#runLine(input)) === 'quit') this.#end('quit');
        });
      });
      // End of input: finish what was typed before it, then leave.
      rl.on('close', () => void chain.then(() => this.#end('eof')));
      rl.on('SIGINT', () => (this.#screen.typed ? this.#screen.clearInput() : this.#end('quit')));
      this.#screen.prompt();
      rl.resume();
    });
  }

  async #runLine(input: Input): Promise<Outcome> {
    try {
      return await runInput(this, input);
    } catch (err) {
      this.say(messageWithHint(err));
    } finally {
      this.#refreshPrompt(); // a command may have changed the conversation (/leave, /delete)
    }
  }

  async #finish(how: Ending): Promise<number> {
    // From now on a quit (Ctrl-C, a signal) only stops the wait for running transfers.
    const stop = new Promise<void>((resolve) => (this.#end = () => resolve()));
    try {
      if (how === 'eof' && this.transfers.count > 0) {
        this.say(`waiting for ${this.transfers.count} transfer(s) to finish (Ctrl-C cancels)`);
        await Promise.race([this.transfers.idle(), stop]);
      }
      if (this.transfers.count > 0) {
        this.say(`cancelling ${this.transfers.count} transfer(s)`);
        await this.transfers.cancelAll();
      }
    } finally {
      if (this.#statusTimer) clearTimeout(this.#statusTimer);
      this.#screen.close();
      await this.#link.close();
    }
    if (how !== 'failed') return 0;
    this.#ctx.err(`chat: ${printable(this.#failure?.message ?? 'cannot reconnect')}`);
    return 1;
  }

  // Drawing.

  #line(m: ChatMessage, mark = this.state.markOf(m.id)): string {
    // Marks go where lines can be updated in place; piped output stays plain.
    const view = { me: this.state.me, current: this.state.current, palette: this.palette, mark: this.#screen.tty ? mark : undefined };
    return messageLine(m, view);
  }

  #rememberOwn(m: ChatMessage, handle: LineHandle): void {
    if (this.state.markOf(m.id) !== 'stored' || isGroup(m.to)) return; // groups get no receipts
    this.#ownLines.set(m.id, { handle, message: m, current: this.state.current });
    if (this.#ownLines.size > MAX_OWN_LINES) this.#ownLines.delete(this.#ownLines.keys().next().value!);
  }

  #refreshPrompt(): void {
    const { current } = this.state;
    this.#screen.setPrompt(promptText({ current, unread: this.state.unread(), connected: this.#link.client !== null, palette: this.palette }));
  }

  #statusChanged(): void {
    if (!this.#screen.tty) return;
    if (this.transfers.count === 0) {
      if (this.#statusTimer) clearTimeout(this.#statusTimer);
      this.#statusTimer = null;
      return this.#screen.setStatus('');
    }
    if (this.#statusTimer) return;
    const wait = Math.max(0, this.#statusDrawnAt + STATUS_EVERY_MS - Date.now());
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = null;
      this.#statusDrawnAt = Date.now();
      if (this.transfers.count > 0) this.#screen.setStatus(statusLine(this.transfers.statuses(), this.#screen.columns - 1));
    }, wait);
  }

  // readline lists candidates as they are: names and offer ids come from the server.
  #completion(): CompletionSource {
    const me = this.state.me;
    const shown = (list: string[]): string[] => list.map(printable);
    return {
      commands: completionTable(),
      names: () => shown(this.directory.names(me, this.state.conversations())),
      groups: () => shown([...this.directory.groups.keys()]),
      memberGroups: () => shown(this.directory.memberOf()),
      offers: () => shown([...this.offers.keys()]),
      listDir: listDirectory,
    };
  }
}

/** `chat` with no command. */

export async function runInteractive(opts: InteractiveOptions, ctx: CliContext): Promise<void> {
  const code = await new Session(ctx, opts).run();
  if (code !== 0) process.exitCode = code;
}
