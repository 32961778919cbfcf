// What a sender offers: the file list, its candidate addresses and the one-time secret.
import { randomBytes } from 'node:crypto';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mime from 'mime-types';
import { TransferError, fsError } from './errors.js';

/** One file as described in an offer. */
export interface OfferFile {
  /** Relative, '/'-separated path (the receiver sanitizes it). */
  path: string;
  /** Size in bytes. */
  size: number;
  /** MIME type (application/octet-stream when unknown). */
  mime: string;
  /** Permission bits (mode & 0o777). */
  mode: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** An offered file on the sender's disk. */
export interface LocalFile extends OfferFile {
  /** Absolute path on the sender. */
  source: string;
}

/** An address where the sender may be reachable. */
export interface Candidate {
  host: string;
  port: number;
}

const DEFAULT_MIME = 'application/octet-stream';
/**
 * Entries of one directory stat'ed at once. All of a 10,000-file directory at once took the
 * sender to 125 MB of RSS before the offer was sent (10,000 pending requests and promises).
 */
const STAT_BATCH = 64;

/** A symbolic link under a named directory that was not sent, and why (issue 26, point 7). */
export interface SkippedLink {
  /** Its offered-style path (`photos/link`). */
  path: string;
  /** Where it points (resolved), or what it says when it cannot be resolved. */
  target: string;
  /** `outside`: its target lies outside the named directory; `loop`: it leads back into a directory being walked; `broken`: it points nowhere. */
  reason: 'outside' | 'loop' | 'broken';
}

/** What to offer, and the links left out. */
export interface CollectedFiles {
  files: LocalFile[];
  skipped: SkippedLink[];
}

/** How symbolic links under a named directory are treated. */
export interface CollectOptions {
  /** Also follow links whose target lies outside the named directory. @default false */
  followSymlinks?: boolean;
}

/**
 * Files for an offer: named files as they are (a named link is the user's choice), directories
 * walked recursively. Under a named directory a symbolic link is sent as what it points to only
 * if that lies inside the directory (by realpath), unless `followSymlinks`; others are listed in
 * `skipped`, as are links that loop or dangle. A missing path is TransferError('not_found').
 */
export async function collectOffer(paths: string[], opts: CollectOptions = {}): Promise<CollectedFiles> {
  const out: CollectedFiles = { files: [], skipped: [] };
  for (const p of paths) {
    const abs = path.resolve(p);
    const st = await stat(abs).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TransferError('not_found', `no such file: ${p}`);
      throw fsError(err, p);
    });
    const name = path.basename(abs);
    if (st.isDirectory()) {
      const root = await realpath(abs).catch((err: unknown) => {
        throw fsError(err, p);
      });
      await walk({ root, follow: opts.followSymlinks ?? false, out }, root, name, new Set([root]));
    } else if (st.isFile()) out.files.push(describe(await realpath(abs), name, st));
    else throw new TransferError('not_found', `not a regular file or directory: ${p}`);
  }
  return out;
}

/** collectOffer's files alone (links out of a named directory are left out). */
export async function collectFiles(paths: string[], opts: CollectOptions = {}): Promise<LocalFile[]> {
  return (await collectOffer(paths, opts)).files;
}

interface Walk {
  /** Realpath of the named directory. */
  root: string;
  follow: boolean;
  out: CollectedFiles;
}

/** What one directory entry turned out to be. */
type Entry = { file: Stats; source: string } | { dir: string } | { skip: SkippedLink['reason']; target: string } | undefined;

// `dir` is a real path (no link in it); `ancestors` are the real directories on the way down to
// it, so a link back to one of them is a loop, never walked.
async function walk(w: Walk, dir: string, rel: string, ancestors: Set<string>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
    throw fsError(err, dir);
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let start = 0; start < entries.length; start += STAT_BATCH) {
    const batch = entries.slice(start, start + STAT_BATCH);
    const kinds = await Promise.all(batch.map((e) => inspect(w, path.join(dir, e.name), e)));
    for (const [i, kind] of kinds.entries()) {
      const childRel = rel ? `${rel}/${batch[i]!.name}` : batch[i]!.name;
      if (!kind) continue; // sockets, FIFOs, devices: not offered
      if ('file' in kind) w.out.files.push(describe(kind.source, childRel, kind.file));
      else if ('skip' in kind) w.out.skipped.push({ path: childRel, target: kind.target, reason: kind.skip });
      else if (ancestors.has(kind.dir)) w.out.skipped.push({ path: childRel, target: kind.dir, reason: 'loop' });
      else await walk(w, kind.dir, childRel, new Set(ancestors).add(kind.dir));
    }
  }
}

async function inspect(w: Walk, abs: string, entry: Dirent): Promise<Entry> {
  if (entry.isDirectory()) return { dir: abs };
  if (entry.isFile()) {
    const st = await lstat(abs).catch(() => undefined);
    return st?.isFile() ? { file: st, source: abs } : undefined;
  }
  if (!entry.isSymbolicLink()) return undefined;
  const target = await realpath(abs).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (target instanceof Error) {
    const said = await readlink(abs).catch(() => '?');
    return { skip: target.code === 'ELOOP' ? 'loop' : 'broken', target: said };
  }
  if (!w.follow && !isInside(w.root, target)) return { skip: 'outside', target };
  const st = await stat(target).catch(() => undefined);
  if (st?.isDirectory()) return { dir: target };
  return st?.isFile() ? { file: st, source: target } : undefined;
}

/** True if `target` is `root` or lies below it (both real paths). */
export function isInside(root: string, target: string): boolean {
  return target === root || target.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function describe(source: string, rel: string, st: Stats): LocalFile {
  return {
    path: rel,
    size: st.size,
    mime: mime.lookup(rel) || DEFAULT_MIME,
    mode: st.mode & 0o777,
    mtimeMs: st.mtimeMs,
    source,
  };
}

/** Non-internal interface addresses with `port`; `advertise` hosts first (or only, with `replace`). */
export function localCandidates(port: number, advertise: string[] = [], replace = false, bind?: string): Candidate[] {
  const hosts = [...advertise];
  // Listening on one address (--bind): that is the only one where anything answers.
  if (!replace) hosts.push(...(bind && !WILDCARDS.has(bind) ? [bind] : interfaceAddresses()));
  return [...new Set(hosts)].map((host) => ({ host, port }));
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '::0']);

function interfaceAddresses(): string[] {
  const external: string[] = [];
  for (const infos of Object.values(os.networkInterfaces())) {
    for (const info of infos ?? []) {
      if (info.internal) continue;
      if (info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80')) continue; // needs a scope id
      external.push(info.address);
    }
  }
  return external.length > 0 ? external : ['127.0.0.1', '::1'];
}

/** A fresh random transfer id and one-time token, both URL-safe. */
export function newTransferSecret(): { transferId: string; token: string } {
  return { transferId: randomBytes(12).toString('base64url'), token: randomBytes(24).toString('base64url') };
}

/** The candidates, plus the address the server observed for the peer on each port (NAT). */
export function withObserved(candidates: Candidate[], observed: string): Candidate[] {
  const out = [...candidates];
  if (!observed || candidates.some((c) => c.host === observed)) return out;
  for (const port of new Set(candidates.map((c) => c.port))) out.push({ host: observed, port });
  return out;
}
