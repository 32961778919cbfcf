// A missing or mistyped subcommand or option (issue 27, item 16): one line with the closest name
// and exit 2, as for top-level commands; the table main.ts checks against matches what --help lists.
import { describe, expect, it } from 'vitest';
import { SUBCOMMANDS } from '../../src/cli/main.js';
import { runCli, tempHome } from '../helpers/cli.js';

describe('subcommands', () => {
  it.each(Object.keys(SUBCOMMANDS))('the names checked for chat %s are the ones its --help lists', async (command) => {
    const r = await runCli([command, '--help'], { home: await tempHome() });
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(new RegExp(`^  chat ${command} (\\S+)`, 'gm'))].map((m) => m[1]);
    expect(listed.sort()).toEqual([...SUBCOMMANDS[command]!.names].sort());
  });

  it.each([
    [['group', 'lst'], 'chat: unknown group command "lst"; did you mean "list"? (see chat group --help)'],
    [['group', 'foo'], 'chat: unknown group command "foo" (see chat group --help)'],
    [['friend', 'ad', 'bob'], 'chat: unknown friend command "ad"; did you mean "add"? (see chat friend --help)'],
    [['sessions', 'revok', '3'], 'chat: unknown sessions command "revok"; did you mean "revoke"? (see chat sessions --help)'],
    [['admin', 'invit'], 'chat: unknown admin command "invit"; did you mean "invite"? (see chat admin --help)'],
    [['--server', '127.0.0.1:1', 'users', 'serch', 'a'], 'chat: unknown users command "serch"; did you mean "search"? (see chat users --help)'],
    [['send', 'bob', 'hi', '--jsn'], 'chat: Unknown argument: jsn; did you mean --json? (see chat --help)'],
    [['group', 'create', 'den', '--privat'], 'chat: Unknown argument: privat; did you mean --private? (see chat --help)'],
    [['group'], 'chat: which group command? create, join, leave, members, list, invites, invite, kick, delete (see chat group --help)'],
  ])('chat %j says, in one line with exit 2: %s', async (args, line) => {
    const r = await runCli(args, { home: await tempHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.stdout).toBe('');
  });
});
