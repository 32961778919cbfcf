// The relay pairing request (protocol.md §4.8) and the hole-punch rendezvous (§4.9): the first
// request on such a connection names the transfer and proves knowledge of its token; server/ and
// transfer/ both use them, so they live here.
import { createHmac } from 'node:crypto';

export type RelayRole = 'sender' | 'receiver';

/** HMAC-SHA256(token, "chat-relay-v1 " + role + " " + transfer), hex. */
export function relayProof(token: string, role: RelayRole, transfer: string): string {
  return createHmac('sha256', token).update(`chat-relay-v1 ${role} ${transfer}`).digest('hex');
}

/** The request a peer sends as the first frame on a relay connection. */
export function relayRequest(token: string, role: RelayRole, transfer: string) {
  return { id: 1, type: 'relay' as const, version: 1, transfer, role, proof: relayProof(token, role, transfer) };
}

/**
 * Relay version 2 (protocol.md §4.8), on a plain TCP connection to a TLS server: the request names
 * the transfer, the server answers with a fresh nonce, the proof binds it, so a proof seen on the
 * wire pairs nothing when replayed.
 */
export const RELAY_PLAIN_VERSION = 2;

/** The first frame of a plain relay connection (version 2): no proof yet. */
export function relayPlainRequest(role: RelayRole, transfer: string) {
  return { id: 1, type: 'relay' as const, version: RELAY_PLAIN_VERSION, transfer, role };
}

/** HMAC-SHA256(token, "chat-relay-v2 " + role + " " + transfer + " " + nonce), hex; nonce as the server sent it (64 hex). */
export function relayPlainProof(token: string, role: RelayRole, transfer: string, nonce: string): string {
  return createHmac('sha256', token).update(`chat-relay-v2 ${role} ${transfer} ${nonce}`).digest('hex');
}

/** The second frame of a plain relay connection: the proof over the server's nonce. */
export function relayPlainProofRequest(token: string, role: RelayRole, transfer: string, nonce: string) {
  return { id: 2, type: 'proof' as const, proof: relayPlainProof(token, role, transfer, nonce) };
}

/** HMAC-SHA256(token, "chat-punch-v1 " + role + " " + transfer), hex. */
export function punchProof(token: string, role: RelayRole, transfer: string): string {
  return createHmac('sha256', token).update(`chat-punch-v1 ${role} ${transfer}`).digest('hex');
}

/** The request a peer sends as the first frame on a punch rendezvous connection. */
export function punchRequest(token: string, role: RelayRole, transfer: string) {
  return { id: 1, type: 'punch' as const, version: 1, transfer, role, proof: punchProof(token, role, transfer) };
}
