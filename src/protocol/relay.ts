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

/** HMAC-SHA256(token, "chat-punch-v1 " + role + " " + transfer), hex. */
export function punchProof(token: string, role: RelayRole, transfer: string): string {
  return createHmac('sha256', token).update(`chat-punch-v1 ${role} ${transfer}`).digest('hex');
}

/** The request a peer sends as the first frame on a punch rendezvous connection. */
export function punchRequest(token: string, role: RelayRole, transfer: string) {
  return { id: 1, type: 'punch' as const, version: 1, transfer, role, proof: punchProof(token, role, transfer) };
}
