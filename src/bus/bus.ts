// The cluster seam: delivery and presence between connections go through a Bus. The server's
// routing code publishes typed BusMessages; a backend only moves them (LocalBus in-process now,
// Redis or PostgreSQL across nodes later). Every node, the publisher included, receives each message.
import type { ServerEvent } from '../protocol/messages.js';

export type BusMessage =
  /** Deliver `event` to every subscribed connection of these users (except one connection). */
  | { kind: 'deliver'; users: string[]; event: ServerEvent; exceptConnection?: string }
  /** A node's count of live connections for a user went from 0 to ≥1 (online) or back. */
  | { kind: 'presence'; node: string; user: string; online: boolean; at: number };

export type BusHandler = (message: BusMessage) => void;

export interface Bus {
  publish(message: BusMessage): Promise<void>;
  /** Calls `handler` for every message published by any node; returns the unsubscribe. */
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
}
