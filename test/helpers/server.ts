// Real servers for tests: startServer() runs the library server in this process over a real
// SQLite store in a temp dir; spawnServer() runs `chat serve` (the built CLI) as a child process.
// Both listen on 127.0.0.1 port 0 with TLS (as `chat serve` does by default); nothing is mocked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatClient, type ChatClientOptions } from '../../src/client/client.js';
import type { ClientTlsOptions } from '../../src/client/dial.js';
import { selfSignedCertificate, type ServerCertificate } from '../../src/server/certificate.js';
import { createServer, type ChatServer } from '../../src/server/server.js';
import type { ServerLimits } from '../../src/server/options.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { afterAll } from 'vitest';
import { LineBuffer } from './lines.js';

/** The repository root (where bin/chat lives). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The CLI entry point; it runs dist/, so build first. */
export const CHAT_BIN = path.join(REPO_ROOT, 'bin', 'chat');

/** Every directory tempDir made in this test file: removed after its last test. */
const made = new Set<string>();
afterAll(async () => {
  await Promise.all([...made].map((dir) => rm(dir, { recursive: true, force: true })));
  made.clear();
  certificate = undefined;
});

/** A fresh empty directory under the OS temp dir (removed after the test file, if not before). */
export async function tempDir(prefix = 'chat-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Where a test connects: host, port, and what a client needs to trust the server (false: plaintext). */
export interface ServerTarget {
  host: string;
  port: number;
  tls: ClientTlsOptions | false;
}

let certificate: Promise<ServerCertificate> | undefined;
/** One self-signed certificate for every in-process test server of this test file. */
export function testCertificate(): Promise<ServerCertificate> {
  return (certificate ??= tempDir('chat-cert-').then((dir) => selfSignedCertificate(dir)));
}

/** A ChatClient for `target`, trusting its certificate by fingerprint. */
export function connectTo(target: ServerTarget, options: Partial<ChatClientOptions> = {}): Promise<ChatClient> {
  return ChatClient.connect({ host: target.host, port: target.port, tls: target.tls, timeoutMs: 5000, ...options });
}

/** A raw socket to `target` (TLS when it uses TLS, certificate not checked): for speaking bytes directly. */
export function rawConnect(target: ServerTarget): Socket {
  if (target.tls === false) return netConnect({ host: target.host, port: target.port });
  return tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false });
}

/**
 * The per-user message limits lifted, for tests that flood one recipient on purpose to test
 * delivery (the limits themselves are tested in test/abuse/).
 */
export const FLOOD_LIMITS: Partial<ServerLimits> = {
  messageRate: 1e9, messageBurst: 1e9, messageBytesRate: 1e12, messageBytesBurst: 1e12,
  recipientMessageRate: 1e9, recipientMessageBurst: 1e9, maxBacklogMessages: 1e9, maxBacklogBytes: 1e12,
};

export interface TestServer extends ServerTarget {
  /** "127.0.0.1:PORT" */
  address: string;
  dataDir: string;
  server: ChatServer;
  /** Closes the server and its store; keeps dataDir (so a test can restart on it). Idempotent. */
  stop(): Promise<void>;
  /** stop() and remove dataDir. */
  cleanup(): Promise<void>;
}

export interface StartServerOptions {
  /** Reuse this data directory (e.g. a restart); a new temp dir otherwise. */
  dataDir?: string;
  limits?: Partial<ServerLimits>;
  /** Receives the server's log lines (none by default). */
  log?: (line: string) => void;
  /** TLS (the default) or plaintext. @default true */
  tls?: boolean;
  /** The server's clock (tests move it instead of sleeping). @default Date.now */
  now?: () => number;
}

/** The library server, in-process, on 127.0.0.1 port 0 over SQLite in `dataDir`. */
export async function startServer(opts: StartServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await tempDir('chat-server-'));
  const cert = opts.tls === false ? undefined : await testCertificate();
  const store = new SqliteStore(dataDir);
  const server = createServer({ store, ...opts.limits, log: opts.log, tls: cert, now: opts.now });
  try {
    await server.listen(0, '127.0.0.1');
  } catch (err) {
    await store.close();
    throw err;
  }
  const { port } = server.address();
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      try {
        await server.close();
      } finally {
        await store.close();
      }
    })());
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    tls: cert ? { fingerprint: cert.fingerprint } : false,
    dataDir,
    server,
    stop,
    async cleanup() {
      await stop();
      // A store worker may still be removing its -wal/-shm files as stop() resolves (CI saw ENOTEMPTY once).
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
}

export interface SpawnedServer extends ServerTarget {
  /** "127.0.0.1:PORT" */
  address: string;
  dataDir: string;
  child: ChildProcess;
  /** stdout and stderr, merged line by line. */
  output: LineBuffer;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnServerOptions {
  dataDir?: string;
  /** @default 0 (a free one) */
  port?: number;
  /** Extra arguments after `serve --host 127.0.0.1 --port 0 --data DIR`. */
  args?: string[];
  /** How long to wait for the "listening" line. @default 10000 */
  timeoutMs?: number;
  /** Extra environment for the server (e.g. NODE_OPTIONS). */
  env?: Record<string, string>;
}

/**
 * Resolves with the exit code once `child` has exited and its output has all been read
 * ('close'). Call it right after spawning, before the child can have closed.
 */
export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

/** `chat serve` as a child process; resolves once it printed the address it listens on. */
export async function spawnServer(opts: SpawnServerOptions = {}): Promise<SpawnedServer> {
  const dataDir = opts.dataDir ?? (await tempDir('chat-serve-'));
  const child = spawn(
    process.execPath,
    [CHAT_BIN, 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0), '--data', dataDir, ...(opts.args ?? [])],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...opts.env } },
  );
  const output = new LineBuffer(child.stdout, child.stderr);
  const exited = exitOf(child);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    // else it already exited: `exited` has its code
    const timeoutMs = 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`chat serve did not exit within ${timeoutMs} ms of ${signal}; output:\n${output.text}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  let line: string;
  try {
    line = await output.waitFor(/chat server listening on /, opts.timeoutMs ?? 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const m = /chat server listening on (\S+):(\d+)/.exec(line);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`cannot parse the address from: ${line}`);
  }
  const port = Number(m[2]);
  const fingerprint = /TLS certificate SHA-256 (\S+)/.exec(output.text)?.[1];
  const tls = fingerprint ? { fingerprint } : false;
  return { address: `${m[1]}:${port}`, host: m[1]!, port, tls, dataDir, child, output, stop };
}
