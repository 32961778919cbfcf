// What stands between a stranger and the password hashes (docs/security.md "Logins and
// registration"): every login and registration is counted when it arrives, before any hashing,
// per user and network, per user, and per network; hashing itself goes through a HashGate.
import { ProtocolError } from '../protocol/errors.js';
import { addressPrefix } from './address-prefix.js';
import { HashGate } from './hash-gate.js';
import type { ServerLimits } from './options.js';
import { AttemptLimiter, BucketMap } from './throttle.js';

const HOUR_MS = 60 * 60 * 1000;
/** Networks remembered per user as ones it logged in from. */
const TRUSTED_PER_USER = 8;
/** How long a successful login makes its network trusted for that user. */
const TRUSTED_MS = 30 * 24 * HOUR_MS;

/** A login counted on arrival; exactly one of its methods ends it. */
export interface LoginAttempt {
  /** From a network where the user proved to be the owner: its hash goes first. */
  readonly trusted: boolean;
  /** Wrong password: stays counted; resolves after the delay to answer with. */
  fail(now: number): number;
  succeed(now: number): void;
  /** Neither (e.g. the store failed). */
  release(): void;
}

export class AccountGuard {
  readonly #limits: ServerLimits;
  /** Per user and network: the owner's own guesses are slowed here first. */
  readonly #userAtNetwork: AttemptLimiter;
  /** Per user from networks it never logged in from: a distributed guesser is slowed here. */
  readonly #user: AttemptLimiter;
  /** Per network, for any users (a NAT holds many users: a higher limit). */
  readonly #network: AttemptLimiter;
  /** user → network → last successful login there. */
  readonly #trusted = new Map<string, Map<string, number>>();
  readonly #registrationsByNetwork: BucketMap;
  readonly #registrations: BucketMap;
  readonly hashes: HashGate;

  constructor(limits: ServerLimits) {
    this.#limits = limits;
    const windowMs = limits.loginBlockMs;
    const backoffMs = limits.loginBackoffMs;
    this.#userAtNetwork = new AttemptLimiter({ maxFailures: limits.maxLoginFailuresPerUserAddress, windowMs, backoffMs });
    this.#user = new AttemptLimiter({ maxFailures: limits.maxLoginFailures, windowMs, backoffMs });
    this.#network = new AttemptLimiter({ maxFailures: limits.maxLoginFailuresPerAddress, windowMs, backoffMs });
    const perNetwork = limits.maxRegistrationsPerAddress;
    this.#registrationsByNetwork = new BucketMap(perNetwork / 3600, perNetwork);
    this.#registrations = new BucketMap(limits.maxRegistrationsPerHour / 3600, limits.maxRegistrationsPerHour, 1);
    this.hashes = new HashGate({
      concurrency: limits.maxConcurrentHashes,
      perKey: limits.maxHashesPerAddress,
      maxQueued: limits.maxQueuedHashes,
    });
  }

  /** Counts a login of `user` from `address`; throws rate_limited when one of its keys must wait. */
  beginLogin(user: string, address: string, now: number): LoginAttempt {
    const network = addressPrefix(address);
    const keys: [AttemptLimiter, string][] = [[this.#userAtNetwork, `${user}@${network}`], [this.#network, network]];
    const trusted = this.#isTrusted(user, network, now);
    if (!trusted) keys.push([this.#user, user]);
    const wait = Math.max(...keys.map(([limiter, key]) => limiter.waitFor(key, now)));
    if (wait > 0) throw new ProtocolError('rate_limited', `too many failed logins; try again in ${humanWait(wait)}`);
    for (const [limiter, key] of keys) limiter.begin(key, now);
    let ended = false;
    const end = (): boolean => !ended && (ended = true);
    return {
      trusted,
      fail: (at) => {
        if (!end()) return 0;
        for (const [limiter, key] of keys) limiter.fail(key, at);
        const n = this.#userAtNetwork.failures(keys[0]![1], at);
        return Math.min(100 * 2 ** Math.min(n - 1, 20), this.#limits.maxLoginDelayMs);
      },
      succeed: (at) => {
        if (!end()) return;
        this.#userAtNetwork.succeed(keys[0]![1]);
        // The other keys' failures stay: an attacker's own account must not clear its network's,
        // and the owner's login must not clear the guesses from elsewhere at its account.
        this.#network.release(network);
        if (keys.length > 2) this.#user.release(user);
        this.#trust(user, network, at);
      },
      release: () => {
        if (!end()) return;
        for (const [limiter, key] of keys) limiter.release(key);
      },
    };
  }

  /**
   * `user` proved to be the owner from `address` (a password, a session token): guesses from
   * other networks will not make it wait there.
   */
  trust(user: string, address: string, now: number): void {
    this.#trust(user, addressPrefix(address), now);
  }

  /** Counts a registration from `address`; throws rate_limited per network, overloaded for the whole server. */
  beginRegister(address: string, now: number): void {
    if (!this.#registrationsByNetwork.take(addressPrefix(address), now)) {
      throw new ProtocolError('rate_limited', `too many registrations from your network; at most ${this.#limits.maxRegistrationsPerAddress} an hour`);
    }
    if (!this.#registrations.take('all', now)) {
      throw new ProtocolError('overloaded', 'this server takes no more registrations this hour; try again later');
    }
  }

  /** Runs a password hash for a client at `address` through the gate (`urgent`: before the others). */
  hash<T>(address: string, work: () => Promise<T>, urgent = false): Promise<T> {
    return this.hashes.run(addressPrefix(address), work, urgent);
  }

  #isTrusted(user: string, network: string, now: number): boolean {
    const at = this.#trusted.get(user)?.get(network);
    return at !== undefined && now - at < TRUSTED_MS;
  }

  #trust(user: string, network: string, now: number): void {
    let networks = this.#trusted.get(user);
    if (!networks) {
      if (this.#trusted.size >= 100_000) this.#trusted.delete(this.#trusted.keys().next().value!);
      this.#trusted.set(user, (networks = new Map()));
    }
    networks.delete(network); // re-inserted as the newest
    networks.set(network, now);
    if (networks.size > TRUSTED_PER_USER) networks.delete(networks.keys().next().value!);
  }
}

function humanWait(ms: number): string {
  return ms < 60_000 ? `${Math.ceil(ms / 1000)} s` : `${Math.ceil(ms / 60_000)} min`;
}
