// chat send-file '#group' <path...>: one offer to every member online; each accepts or rejects
// on their own; accepted members are served at most --parallel at once (p-queue), each with
// its own progress bar (TTY) and its own result line.
import cliProgress from 'cli-progress';
import PQueue from 'p-queue';
import type { ChatClient } from '../../client/client.js';
import { printable, printableJson } from '../../protocol/printable.js';
import type { LocalFile } from '../../transfer/index.js';
import { connectSession } from '../connect.js';
import { CliError, type CliContext } from '../context.js';
import { interrupted } from '../interrupt.js';
import { formatBytes } from '../output.js';
import { TransferView, formatRate } from '../transfer-view.js';
import { cliAnswers, cliErrorOf, declined, sendTo, type SendOptions } from '../transfer-run.js';

/** What a send to a group needs of chat send-file's options. */
export type GroupSendOptions = SendOptions & { to: string; json: boolean; waitAll: boolean };

/** One bar per member on a terminal; other lines are printed above the bars. */
class MemberBars {
  readonly #bars: cliProgress.MultiBar;
  readonly #byMember = new Map<string, { bar: cliProgress.SingleBar; since: number }>();

  constructor(ctx: CliContext) {
    this.#bars = new cliProgress.MultiBar(
      { stream: ctx.stderr, format: '{name} |{bar}| {percentage}% {done}/{size} {rate} ETA {eta_formatted}', hideCursor: true, autopadding: true },
      cliProgress.Presets.shades_classic,
    );
  }

  update(member: string, bytes: number, size: number): void {
    let entry = this.#byMember.get(member);
    if (!entry) this.#byMember.set(member, (entry = { bar: this.#bars.create(size, 0), since: Date.now() }));
    const rate = formatRate(bytes, Date.now() - entry.since);
    entry.bar.update(bytes, { name: printable(member).padEnd(16), done: formatBytes(bytes), size: formatBytes(size), rate });
  }

  log(line: string): void {
    this.#bars.log(`${line}\n`);
  }

  stop(): void {
    this.#bars.stop();
  }
}

/**
 * The members to offer to: those online, or with --wait-all everyone (an offer to someone
 * offline waits until they connect). A clear error when there is nobody to send to.
 */
async function recipients(client: ChatClient, group: string, waitAll: boolean): Promise<{ to: string[]; offline: string[] }> {
  const others = (await client.groupMembers(group)).filter((m) => m.user !== client.user);
  const offline = others.filter((m) => !m.online).map((m) => m.user);
  const to = others.filter((m) => waitAll || m.online).map((m) => m.user);
  if (to.length === 0) throw new CliError(others.length === 0 ? `nobody else is in #${group}` : `nobody else in #${group} is online (--wait-all offers to them and waits until they connect)`);
  return { to, offline: waitAll ? [] : offline };
}

export async function runSendToGroup(opts: GroupSendOptions, files: LocalFile[], ctx: CliContext): Promise<void> {
  if (opts.port !== 0) throw new CliError('--port cannot be used with a group: each member gets its own port', 2);
  const group = opts.to.slice(1);
  const client = await connectSession(opts);
  const interrupt = interrupted();
  const bars = !opts.json && ctx.stderr.isTTY ? new MemberBars(ctx) : undefined;
  // While bars are drawn, every line goes above them.
  const lineCtx: CliContext = bars ? { ...ctx, out: (l) => bars.log(l), err: (l) => bars.log(l) } : ctx;
  try {
    const { to: members, offline } = await recipients(client, group, opts.waitAll);
    if (offline.length > 0) {
      const line = `not offered to ${offline.length} offline member(s) of #${group}: ${offline.join(', ')} (--wait-all offers to them too)`;
      if (opts.json) ctx.out(printableJson({ event: 'offline', group, members: offline }));
      else lineCtx.err(printable(line));
    }
    const answers = cliAnswers(client);
    const queue = new PQueue({ concurrency: opts.parallel });
    const outcomes = await Promise.allSettled(
      members.map(async (member) => {
        const view = new TransferView(lineCtx, opts.json ? 'json' : 'plain', files, member);
        if (bars) view.onProgress = (ev) => bars.update(member, ev.totalBytes, ev.totalSize);
        // Offers go out at once; file streams of all members share one bounded queue.
        return sendTo(client, answers, { opts, to: member, files, view, interrupt, ctx: lineCtx, queue });
      }),
    );
    bars?.stop();
    report(members, outcomes, ctx, opts.json, offline);
  } finally {
    bars?.stop();
    interrupt.dispose();
    await client.close();
  }
}

/** One result line per member; exit 1 if any transfer failed (a rejection is not a failure). */
function report(members: string[], outcomes: PromiseSettledResult<unknown>[], ctx: CliContext, json: boolean, offline: string[]): void {
  let failed = 0;
  let received = 0;
  outcomes.forEach((o, i) => {
    const member = members[i]!;
    if (o.status === 'fulfilled') received++;
    const reason = o.status === 'rejected' ? (cliErrorOf(o.reason) as Error).message : '';
    if (o.status === 'rejected' && !declined(o.reason)) failed++;
    if (json) ctx.out(printableJson({ event: 'result', to: member, ok: o.status === 'fulfilled', error: reason || undefined }));
    else ctx.err(printable(o.status === 'fulfilled' ? `${member}: received everything` : `${member}: ${reason}`));
  });
  for (const member of offline) {
    if (json) ctx.out(printableJson({ event: 'result', to: member, ok: false, error: 'offline: not offered' }));
    else ctx.err(printable(`${member}: offline, not offered (--wait-all waits for them)`));
  }
  if (failed > 0) throw new CliError(`${failed} of ${members.length} transfer(s) failed`);
  if (received === 0) throw new CliError('nobody accepted the offer');
}

