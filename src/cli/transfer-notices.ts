// The lines a transfer session's notices read as in chat send-file and chat accept (and, for the
// policy ones, in the interactive client). The --json event is the notice itself.
import type { SessionNotice } from '../client/transfer-session.js';
import { formatBytes } from './output.js';
import { formatDuration } from './units.js';

const CONFIRM_FIRST = {
  sender: 'the receiver must see the same; no data flows until you confirm',
  receiver: 'the sender must see the same; nothing is received until you confirm',
};

/** The line for `n`; the caller sanitizes it (it names peers and carries their texts). */
export function noticeLine(n: SessionNotice): string {
  switch (n.event) {
    case 'pinned':
      return n.notice;
    case 'warning':
      return n.message === 'unsigned'
        ? `warning: ${n.user}'s chat does not sign its transfers; the transfer is not authenticated`
        : `warning: ${n.user}'s chat does not encrypt; the transfer is not authenticated nor end-to-end encrypted`;
    case 'verify':
      return `verification code: ${n.code} (${CONFIRM_FIRST[n.side]})`;
    case 'offer':
      return `offered ${n.files} file(s), ${formatBytes(n.totalBytes)} to ${n.to} (offer ${n.offer}${n.port > 0 ? `, port ${n.port}` : ''})`;
    case 'waiting':
      return n.online
        ? `waiting up to ${formatDuration(n.timeoutMs)} for ${n.to} to accept (Ctrl-C to cancel)`
        : `${n.to} is offline: the offer waits up to ${formatDuration(n.timeoutMs)} until they connect (Ctrl-C to cancel)`;
    case 'accepted':
      return `${n.by} accepted`;
    case 'connecting':
      return `connecting (${n.via.join(', ')})`;
    case 'receiving':
      return `receiving ${n.files} file(s), ${formatBytes(n.totalBytes)} from ${n.from} into ${n.dir}`;
    case 'connected':
      return n.path === 'relay' ? `connected to ${n.peer} through the server's relay` : `connected to ${n.peer} (${n.path}, ${n.remote})`;
    case 'refused':
      return `refused a connection from ${n.remote}: ${n.reason}`;
    case 'retry':
      return `connection lost (${n.reason}); retrying (attempt ${n.attempt})`;
    case 'file_failed':
      return `${n.path}: FAILED (${n.message}); the other files go on`;
    case 'proving':
      return `${n.path}: re-checking the ${formatBytes(n.bytes)} kept from an earlier transfer (in the background)`;
  }
}

/** The --json object for `n`: the receiver's start keeps the event name it always had. */
export function noticeJson(n: SessionNotice): { event: string } & Record<string, unknown> {
  if (n.event === 'receiving') return { ...n, event: 'accepted' };
  if (n.event === 'connected') return { event: 'connected', peer: n.peer, remote: n.remote, via: n.path };
  if (n.event === 'pinned') return { event: 'pinned', user: n.user, device: n.device };
  return n;
}
