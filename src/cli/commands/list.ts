// Every command's name, usage and description: what `chat --help` lists without loading any
// command module (main.ts loads only the one that runs), and what each module's yargs
// definition uses, so the two never differ. Subcommand names feed "did you mean".

export interface CommandEntry {
  /** yargs' command string: the name and the positionals. */
  readonly command: string;
  readonly describe: string;
  /** The subcommands (`chat group create`), for "did you mean" before yargs' own wording. */
  readonly subcommands?: readonly string[];
  /** A command that runs one of its subcommands when none is named (`chat sessions`). */
  readonly optionalSubcommand?: boolean;
}

export const COMMAND_LIST = {
  serve: { command: 'serve', describe: 'run the relay server' },
  register: { command: 'register <user>', describe: 'create an account (and log in)' },
  login: { command: 'login <user>', describe: 'log in and save the session' },
  logout: { command: 'logout', describe: 'revoke this session on the server and forget it here' },
  sessions: {
    command: 'sessions [command]',
    describe: 'your sessions (devices): list, revoke <id>, revoke --all-others',
    subcommands: ['list', 'revoke'],
    optionalSubcommand: true,
  },
  passwd: { command: 'passwd', describe: 'change your password (every other session is logged out)' },
  whoami: { command: 'whoami', describe: 'show who you are logged in as' },
  who: { command: 'who', describe: 'list online users' },
  send: { command: 'send <user> [text..]', describe: 'send a direct message, or to a group with #name (text "-" or none: read from stdin)' },
  listen: { command: 'listen', describe: 'print messages and presence as they arrive, until Ctrl-C' },
  history: { command: 'history <user>', describe: 'show your conversation with a user, oldest first' },
  'send-file': { command: 'send-file <user> <paths..>', describe: 'offer files or directories to a user and send them directly' },
  offers: { command: 'offers', describe: 'list file offers waiting for you, with every file' },
  accept: { command: 'accept [id]', describe: 'accept a file offer and receive the files' },
  reject: { command: 'reject <id>', describe: 'decline a file offer (the sender is told)' },
  group: {
    command: 'group <command>',
    describe: 'groups: create, join, leave, members, list, invites, invite, kick, delete',
    subcommands: ['create', 'join', 'leave', 'members', 'list', 'invites', 'invite', 'kick', 'delete'],
  },
  friend: {
    command: 'friend <command>',
    describe: 'contacts: add, accept, decline, remove, note, list',
    subcommands: ['add', 'accept', 'decline', 'remove', 'note', 'list'],
  },
  block: { command: 'block <user>', describe: "drop a user's messages, offers, invitations and friend requests to you (they are not told)" },
  unblock: { command: 'unblock <user>', describe: 'stop blocking a user (what they sent meanwhile stays dropped)' },
  blocked: { command: 'blocked', describe: 'list the users you block' },
  users: { command: 'users <command>', describe: 'find registered users: users search <prefix>', subcommands: ['search'] },
  verify: { command: 'verify <user>', describe: "compare safety numbers with a user's devices and mark them verified" },
  trust: { command: 'trust [target]', describe: "pin a server's current TLS certificate (after it changed), or with --device a user's device key" },
  admin: {
    command: 'admin <command>',
    describe: 'operator commands, on the server host (invite, nodes, user)',
    subcommands: ['invite', 'nodes', 'user'],
  },
  $0: { command: '$0', describe: 'interactive chat (/help inside for commands)' },
} as const satisfies Record<string, CommandEntry>;

export type CommandName = keyof typeof COMMAND_LIST;
