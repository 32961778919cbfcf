// magic-wormhole and wormhole-william as anchors of bench/transfer.mjs, on loopback only: every
// wormhole process (the mailbox server, the transit relay, senders, receivers) runs inside a
// network namespace of its own whose only interface is `lo`, so nothing can reach an outside
// address, whatever a client would like to contact. wormhole-william's CLI has no transit-relay
// flag: inside the namespace its default relay name (transit.magic-wormhole.io) resolves to
// 127.0.0.1 through the namespace's own /etc/hosts (`ip netns exec` mounts /etc/netns/NS/hosts
// over /etc/hosts), where our local transit relay listens on its default port 4001.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MAILBOX_PORT = 4000;
const TRANSIT_PORT = 4001; // wormhole-william's default, which it cannot be told otherwise

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Why the wormhole anchors cannot run here, or undefined if they can. */
export function wormholeMissing() {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace with only lo)';
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['wormhole', 'magic-wormhole'], ['twistd3', 'magic-wormhole-transit-relay python3-magic-wormhole-mailbox-server']]) {
    if (!have(cmd)) return `\`${cmd}\` missing (apt-get install -y ${pkg})`;
  }
  const plugins = spawnSync('twistd3', ['--help'], { encoding: 'utf8' }).stdout ?? '';
  if (!plugins.includes('transitrelay')) return 'twistd3 has no transitrelay plugin (apt-get install -y magic-wormhole-transit-relay)';
  if (!plugins.includes('wormhole-mailbox')) return 'twistd3 has no wormhole-mailbox plugin (apt-get install -y python3-magic-wormhole-mailbox-server)';
  return undefined;
}

export const haveWilliam = () => have('wormhole-william');

/** User + system CPU seconds of a live process so far (/proc/PID/stat; USER_HZ = 100). */
export function cpuSecondsOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Creates the namespace, starts the mailbox server and the transit relay in it, and resolves
 * { ns, exec(argv) → argv run inside, mailboxUrl, transit, relayPid, stop() } once both listen.
 */
export async function startWormholeLab(tmp, log) {
  const ns = `chatbench-${process.pid}`;
  const sh = (args) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  sh(['netns', 'add', ns]);
  const etc = path.join('/etc/netns', ns);
  const procs = [];
  const stop = () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(etc, { recursive: true, force: true });
  };
  try {
    sh(['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 transit.magic-wormhole.io\n127.0.0.1 relay.magic-wormhole.io\n');
    const links = spawnSync('ip', ['netns', 'exec', ns, 'ip', '-o', 'link'], { encoding: 'utf8' }).stdout.trim().split('\n');
    if (links.length !== 1 || !/\blo\b/.test(links[0])) throw new Error(`the namespace has more than lo: ${links.join('; ')}`);
    const exec = (argv) => ['ip', ['netns', 'exec', ns, ...argv]];
    const daemon = (what, args) => {
      const [cmd, argv] = exec(['twistd3', '-n', '--pidfile=', ...args]);
      const p = spawn(cmd, argv, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      let out = '';
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s: ${out}`)), 30_000);
        const check = (s) => {
          out += s;
          if (/[Ss]tarting (factory|on)|Site starting|Transit starting/.test(out)) {
            clearTimeout(timer);
            resolve(p);
          }
        };
        p.stdout.setEncoding('utf8').on('data', check);
        p.stderr.setEncoding('utf8').on('data', check);
        p.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${out}`)));
      });
    };
    await daemon('the mailbox server', ['wormhole-mailbox', '--port', `tcp:${MAILBOX_PORT}:interface=127.0.0.1`, `--channel-db=${path.join(tmp, 'wormhole-mailbox.sqlite')}`]);
    const relay = await daemon('the transit relay', ['transitrelay', '--port', `tcp:${TRANSIT_PORT}:interface=127.0.0.1`]);
    log(`magic-wormhole lab: network namespace ${ns} (only lo), mailbox ws://127.0.0.1:${MAILBOX_PORT}/v1, transit relay tcp:127.0.0.1:${TRANSIT_PORT} (pid ${relay.pid})`);
    return { ns, exec, mailboxUrl: `ws://127.0.0.1:${MAILBOX_PORT}/v1`, transit: `tcp:127.0.0.1:${TRANSIT_PORT}`, relayPid: relay.pid, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
