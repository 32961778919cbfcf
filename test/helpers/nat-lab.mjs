// A small internet in network namespaces, for the hole-punching tests and bench (protocol.md §T8).
// Everything lives in namespaces this lab creates (their names end in the pid) and is deleted by
// tearDown(), which also runs on process exit; the host's own network is never touched (veths are
// created straight inside the namespaces, sysctls and firewall rules are per namespace).
//
//   home-a 192.168.1.2            nat-a                     inet (the "internet")          nat-b            home-b 192.168.2.2
//   2001:db8:1::2  ── lan ── 192.168.1.1 | 203.0.113.2 ── 203.0.113.1     198.51.100.1 ── 198.51.100.2 | 192.168.2.1 ── lan ── 2001:db8:2::2
//                                                         server 192.0.2.100, 2001:db8:ff::100 (on lo)
//                                                         192.0.2.1 ── pub 192.0.2.2, 2001:db8:c::2 (a public host)
//
// Each router: IPv4 MASQUERADE out of its WAN (port-preserving, or with --random-fully a
// "symmetric" NAT that gives every connection a new port), IPv6 routed without NAT, and in both
// families a stateful firewall: only established/related traffic comes in, nothing new. What
// happens to the rest (an unsolicited SYN, or one conntrack finds invalid) is the router's kind
// (setRouterKind): "stealth" drops it silently; "reset" answers it at once, a TCP RST for TCP and
// an ICMP port-unreachable otherwise, like a router with no input filter or OpenWrt's default
// REJECT on its WAN zone.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DELAYER = fileURLToPath(new URL('./nfqueue-delay.py', import.meta.url));

export const SERVER_V4 = '192.0.2.100';
export const SERVER_V6 = '2001:db8:ff::100';

/** What a router does with what comes in unsolicited: drop it, or answer it with a reset. */
export const ROUTER_KINDS = ['stealth', 'reset'];

/** Host addresses by namespace role. */
export const HOSTS = {
  homeA: { v4: '192.168.1.2', v6: '2001:db8:1::2', router: 'natA' },
  homeB: { v4: '192.168.2.2', v6: '2001:db8:2::2', router: 'natB' },
  pub: { v4: '192.0.2.2', v6: '2001:db8:c::2' },
};

/** A short privileged command, bounded; never throws. */
export function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const detail = r.error ? r.error.message : `${r.stdout}${r.stderr}`.trim();
  return { ok: !r.error && r.status === 0, detail };
}

/** Why the lab cannot run here, or undefined. */
export function labUnavailable() {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  const list = run('ip', ['netns', 'list']);
  if (!list.ok) return `\`ip netns\` is unavailable: ${list.detail}`;
  for (const tool of ['iptables', 'ip6tables']) {
    const r = run(tool, ['--version']);
    if (!r.ok) return `${tool} is unavailable (apt-get install iptables): ${r.detail}`;
  }
  return undefined;
}

/** Why setLatency() cannot work here (it needs python3 for its delayer), or undefined. */
export function latencyUnavailable() {
  const r = run('python3', ['--version']);
  return r.ok ? undefined : `python3 is unavailable (apt-get install python3): ${r.detail}`;
}

export class NatLab {
  /** Namespace names by role: inet, natA, natB, homeA, homeB, pub. */
  ns;
  #created = [];
  /** Running latency emulators (test/helpers/nfqueue-delay.py) in the inet namespace. */
  #delayers = [];
  #onExit = () => this.tearDown();

  constructor(tag = String(process.pid)) {
    const n = (role) => `chatnat-${role}-${tag}`;
    this.ns = { inet: n('inet'), natA: n('nata'), natB: n('natb'), homeA: n('homea'), homeB: n('homeb'), pub: n('pub') };
  }

  /** Builds the network; returns why it could not (everything made so far is removed), or undefined. */
  setUp() {
    const why = labUnavailable();
    if (why) return why;
    process.once('exit', this.#onExit);
    for (const [cmd, args] of this.#steps()) {
      const r = run(cmd, args);
      if (!r.ok) {
        this.tearDown();
        return `NAT lab setup failed at \`${cmd} ${args.join(' ')}\`: ${r.detail}`;
      }
      if (args[0] === 'netns' && args[1] === 'add') this.#created.push(args[2]);
    }
    return undefined;
  }

  /** Deletes every namespace (with its interfaces, routes, rules and conntrack state). Idempotent. */
  tearDown() {
    for (const child of this.#delayers.splice(0)) child.kill('SIGKILL');
    for (const ns of this.#created.splice(0)) run('ip', ['netns', 'del', ns]);
    process.off('exit', this.#onExit);
  }

  /** Makes router `natA` or `natB` a symmetric NAT (a new public port per connection), or port-preserving again. */
  setSymmetric(router, symmetric) {
    const rule = ['-o', 'wan', '-j', 'MASQUERADE', ...(symmetric ? ['--random-fully'] : [])];
    const r = this.exec(router, 'iptables', ['-t', 'nat', '-R', 'POSTROUTING', '1', ...rule]);
    if (!r.ok) throw new Error(`cannot change the NAT of ${router}: ${r.detail}`);
  }

  /**
   * Makes router `natA` or `natB` (both if omitted) drop unsolicited packets ("stealth", the
   * default) or answer them with a TCP reset / ICMP port-unreachable ("reset"), in both families.
   */
  setRouterKind(kind, routers = ['natA', 'natB']) {
    if (!ROUTER_KINDS.includes(kind)) throw new Error(`unknown router kind ${kind}`);
    for (const router of [routers].flat()) {
      for (const tool of ['iptables', 'ip6tables']) {
        for (const args of [['-F', UNSOLICITED], ...unsolicitedRules(tool, kind)]) {
          const r = this.exec(router, tool, args);
          if (!r.ok) throw new Error(`cannot make ${router} a ${kind} router (${tool} ${args.join(' ')}): ${r.detail}`);
        }
      }
    }
  }

  /**
   * Adds one-way latency to the internet (0: none, the default): `routers` ms each way between the
   * two routers, and `serverB` ms each way between router B and the server (B far from the server,
   * A near it, so the two hear the punch meeting at different times). The kernel here has no
   * sch_netem, so a small user-space delayer (nfqueue-delay.py, python3) holds the packets; it needs
   * python3. Resolves once the delays are in force.
   */
  async setLatency({ routers = 0, serverB = 0 } = {}) {
    for (const child of this.#delayers.splice(0)) child.kill('SIGKILL');
    const hooks = [
      [routers, 1, [['FORWARD', '-i', 'to-a', '-o', 'to-b'], ['FORWARD', '-i', 'to-b', '-o', 'to-a']]],
      [serverB, 2, [['INPUT', '-i', 'to-b'], ['OUTPUT', '-o', 'to-b']]],
    ];
    for (const tool of ['iptables', 'ip6tables']) {
      for (const chain of ['FORWARD', 'INPUT', 'OUTPUT']) this.exec('inet', tool, ['-F', chain]);
    }
    for (const [ms, queue, rules] of hooks) {
      if (!ms) continue;
      const child = this.spawn('inet', 'python3', [DELAYER, String(queue), String(ms)], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.#delayers.push(child);
      await new Promise((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new Error(`the latency emulator did not start within 5 s: ${err}`)), 5000);
        child.stderr.on('data', (d) => (err += d));
        child.stdout.once('data', () => (clearTimeout(timer), resolve()));
        child.once('exit', () => (clearTimeout(timer), reject(new Error(`the latency emulator exited: ${err}`))));
      });
      for (const tool of ['iptables', 'ip6tables']) {
        for (const [chain, ...match] of rules) {
          const r = this.exec('inet', tool, ['-A', chain, ...match, '-j', 'NFQUEUE', '--queue-num', String(queue), '--queue-bypass']);
          if (!r.ok) throw new Error(`cannot add latency (${tool} ${chain}): ${r.detail}`);
        }
      }
    }
  }

  /** Runs a short command inside the namespace of `role`. */
  exec(role, cmd, args) {
    return run('ip', ['netns', 'exec', this.ns[role], cmd, ...args]);
  }

  /** Spawns a long-running command inside the namespace of `role` (`ip netns exec` execs it: the pid is its own). */
  spawn(role, cmd, args, options = {}) {
    return spawn('ip', ['netns', 'exec', this.ns[role], cmd, ...args], options);
  }

  #steps() {
    const { ns } = this;
    const steps = [];
    const inNs = (role, cmd, ...args) => steps.push(['ip', ['netns', 'exec', ns[role], cmd, ...args]]);
    for (const role of Object.keys(ns)) {
      steps.push(['ip', ['netns', 'add', ns[role]]], ['ip', ['-n', ns[role], 'link', 'set', 'lo', 'up']]);
    }
    const addr = (role, dev, cidr) => {
      const v6 = cidr.includes(':');
      steps.push(['ip', ['-n', ns[role], ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]]);
    };
    const link = (a, aDev, b, bDev) => {
      steps.push(['ip', ['link', 'add', aDev, 'netns', ns[a], 'type', 'veth', 'peer', 'name', bDev, 'netns', ns[b]]]);
      steps.push(['ip', ['-n', ns[a], 'link', 'set', aDev, 'up']], ['ip', ['-n', ns[b], 'link', 'set', bDev, 'up']]);
    };
    const route = (role, to, via) => steps.push(['ip', ['-n', ns[role], ...(via.includes(':') ? ['-6'] : []), 'route', 'add', to, 'via', via]]);
    const forward = (role) => {
      inNs(role, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      inNs(role, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    };

    // The internet: the server on lo, one link per router and one to a public host.
    forward('inet');
    addr('inet', 'lo', `${SERVER_V4}/32`);
    addr('inet', 'lo', `${SERVER_V6}/128`);
    link('inet', 'to-a', 'natA', 'wan');
    link('inet', 'to-b', 'natB', 'wan');
    link('inet', 'to-p', 'pub', 'eth0');
    addr('inet', 'to-a', '203.0.113.1/24');
    addr('inet', 'to-a', '2001:db8:a::1/64');
    addr('inet', 'to-b', '198.51.100.1/24');
    addr('inet', 'to-b', '2001:db8:b::1/64');
    addr('inet', 'to-p', '192.0.2.1/24');
    addr('inet', 'to-p', '2001:db8:c::1/64');
    route('inet', '2001:db8:1::/64', '2001:db8:a::2');
    route('inet', '2001:db8:2::/64', '2001:db8:b::2');
    addr('pub', 'eth0', `${HOSTS.pub.v4}/24`);
    addr('pub', 'eth0', `${HOSTS.pub.v6}/64`);
    route('pub', 'default', '192.0.2.1');
    route('pub', 'default', '2001:db8:c::1');

    // Two homes, each behind its own router.
    const homes = [
      ['natA', 'homeA', '203.0.113', '2001:db8:a', '192.168.1', '2001:db8:1'],
      ['natB', 'homeB', '198.51.100', '2001:db8:b', '192.168.2', '2001:db8:2'],
    ];
    for (const [router, home, wan4, wan6, lan4, lan6] of homes) {
      forward(router);
      addr(router, 'wan', `${wan4}.2/24`);
      addr(router, 'wan', `${wan6}::2/64`);
      route(router, 'default', `${wan4}.1`);
      route(router, 'default', `${wan6}::1`);
      link(router, 'lan', home, 'eth0');
      addr(router, 'lan', `${lan4}.1/24`);
      addr(router, 'lan', `${lan6}::1/64`);
      addr(home, 'eth0', `${lan4}.2/24`);
      addr(home, 'eth0', `${lan6}::2/64`);
      route(home, 'default', `${lan4}.1`);
      route(home, 'default', `${lan6}::1`);
      inNs(router, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE');
      for (const tool of ['iptables', 'ip6tables']) {
        // Stateful firewall: out is free, in only what answers something that went out.
        inNs(router, tool, '-P', 'FORWARD', 'DROP');
        inNs(router, tool, '-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT');
        inNs(router, tool, '-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
        inNs(router, tool, '-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
        if (tool === 'ip6tables') inNs(router, tool, '-A', 'INPUT', '-i', 'wan', '-p', 'ipv6-icmp', '-j', 'ACCEPT'); // neighbour discovery
        // Everything else from the WAN: the router kind's chain (setRouterKind).
        inNs(router, tool, '-N', UNSOLICITED);
        inNs(router, tool, '-A', 'INPUT', '-i', 'wan', '-j', UNSOLICITED);
        inNs(router, tool, '-A', 'FORWARD', '-i', 'wan', '-j', UNSOLICITED);
        for (const rule of unsolicitedRules(tool, 'stealth')) inNs(router, tool, ...rule);
      }
    }
    return steps;
  }
}

/** The chain that decides what a router does with an unsolicited packet from its WAN. */
const UNSOLICITED = 'unsolicited';

/** The rules (iptables arguments) of that chain for a router kind. */
function unsolicitedRules(tool, kind) {
  if (kind === 'stealth') return [['-A', UNSOLICITED, '-j', 'DROP']];
  const unreachable = tool === 'ip6tables' ? 'icmp6-port-unreachable' : 'icmp-port-unreachable';
  return [
    ['-A', UNSOLICITED, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-A', UNSOLICITED, '-j', 'REJECT', '--reject-with', unreachable],
  ];
}
