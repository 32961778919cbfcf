// What to do about an error, in the CLI's words. Library errors (ChatClient, the transfer
// engine, the transfer session) name no flag of ours: they carry a `hint`, and this is the one
// place that turns it into the flag to use.
const HINTS: Record<string, string> = {
  /** The paths allowed leave no way to the peer. */
  paths: ' (see --via)',
  /** A TLS handshake failed: the server may speak plaintext. */
  plaintext_server: '; if that server runs with --insecure, use --insecure too',
  /** The server closed at hello: it may expect TLS. */
  tls_server: '; if it uses TLS (the default), drop --insecure',
  /** The peer neither signs nor encrypts. */
  insecure_peer: '; --insecure-peer accepts it anyway',
  /** …and --verify was asked for. */
  verify_needs_keys: ' (--verify needs an encrypting, signing peer)',
  /** Accepted, but the receiver never reached us. */
  reachable: '; are you reachable? (see --port and --advertise)',
};

/** `err`'s message, followed by what to do about it when the error carries a hint. */
export function messageWithHint(err: unknown): string {
  const e = err as { message?: unknown; hint?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const hint = typeof e?.hint === 'string' ? HINTS[e.hint] : undefined;
  return hint ? `${message}${hint}` : message;
}
