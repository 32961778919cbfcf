// The cluster seam: delivery, presence and offers between nodes go through a Bus. The server's
// routing code publishes typed BusMessages; a backend only moves them (LocalBus in-process,
// RedisBus across nodes). Every node, the publisher included, receives each published message.
import type { OfferFileInfo, OfferInfo, ServerEvent, SignedIdentity } from '../protocol/messages.js';

/** What the owner of an offer is asked to do by the node where its receiver answered. */
export type OfferAction =
  | {
      action: 'accept'; by: string; observed: string; key?: string; candidates?: { host: string; port: number }[];
      identity?: SignedIdentity; verify?: boolean;
      /** The receiver's --via (Part II §T8). */
      via?: string[];
      /** The relay both peers should use: the accepting node's. */
      relay?: { host: string; port: number };
      /** The accepting connection, which is not told that the offer closed. */
      connection?: string;
    }
  | { action: 'reject'; by: string; reason?: string };

export type BusMessage =
  /**
   * Deliver `event` to every subscribed connection of these users (except one connection). A
   * stored message carries its place in its conversation (`order`: the id of the conversation's
   * previous message, from the store), so receivers keep each conversation in order: nodes
   * publish concurrently (src/server/delivery/sequencer.ts).
   */
  | { kind: 'deliver'; users: string[]; event: ServerEvent; exceptConnection?: string; order?: { conversation: string; prev: number } }
  /** A node's count of live connections for a user went from 0 to ≥1 (online) or back. */
  | { kind: 'presence'; node: string; user: string; online: boolean; at: number }
  /** Every user online through `node` now (after a join or an outage): replaces what others knew of it. */
  | { kind: 'presence_all'; node: string; users: string[]; at: number }
  /** An offer is open (its whole file list arrived) at `node`, where its sender is connected. */
  | { kind: 'offer_open'; node: string; offer: OfferInfo; files: OfferFileInfo[] }
  /** An offer ended (accepted, rejected, withdrawn, expired, sender gone): forget it. */
  | { kind: 'offer_end'; node: string; offer: string }
  /** For the offer's owner node only: its receiver answered on another node. */
  | { kind: 'offer_action'; node: string; owner: string; offer: string } & OfferAction
  /** `node` joined: every other node announces its presence and open offers again. */
  | { kind: 'sync'; node: string }
  /**
   * `node` stored messages whose `deliver` it could not publish (its bus was away): every node
   * sends its listeners what the store has for them. A node's own `reconnected` covers only its
   * own listeners, and the others may have reconnected before those messages were stored.
   */
  | { kind: 'refill'; node: string }
  /**
   * Published by no one: a bus emits it to its own subscribers when `node` stopped beating
   * (crashed or cut off), so they drop its users' presence and offers.
   */
  | { kind: 'node_down'; node: string }
  /**
   * Sessions of `user` were revoked (chat sessions revoke, chat passwd): every node closes that
   * user's connections whose session is gone from the store (src/server/session-watch.ts).
   */
  | { kind: 'sessions_revoked'; node: string; user: string; reason: 'revoked' | 'password' | 'disabled' | 'deleted' | 'reset' }
  /** Emitted by a bus to its own subscribers after it lost and regained its backend: events may have been missed. */
  | { kind: 'reconnected' };

export type BusHandler = (message: BusMessage) => void;

/** A live node as its heartbeat describes it. */
export interface NodeInfo {
  node: string;
  connections: number;
  startedAt: number;
  /** When its last heartbeat was written (ms since the epoch). */
  seenAt: number;
}

export interface Bus {
  /** Sends to every node, this one included. Rejects if the backend can't take it now. */
  publish(message: BusMessage): Promise<void>;
  /**
   * Calls `handler` for every message published by any node; returns the unsubscribe. A handler
   * that throws is reported to the bus's `onError` and does not keep the message from the other
   * handlers, nor fail the publish (every backend alike; the contract suite checks it).
   */
  subscribe(handler: BusHandler): () => void;
  /**
   * Announces `node` until close(): a heartbeat carrying `stats()`. A node whose heartbeat stops
   * is reported to the others' subscribers as `node_down` within the bus's expiry.
   */
  join(node: string, stats: () => { connections: number }): Promise<void>;
  /** The live nodes, by name. */
  nodes(): Promise<NodeInfo[]>;
  /** Stops announcing `node` (its server stopped cleanly); the others see node_down at once or soon. */
  leave?(node: string): Promise<void>;
  close(): Promise<void>;
}
