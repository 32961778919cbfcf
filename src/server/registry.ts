// This node's live connections. Which of them listen for each user (their Mailboxes) is the
// Router's (delivery/router.ts).
import type { Connection } from './connection.js';

export class Registry {
  readonly all = new Set<Connection>();

  /** Forgets a closed connection. */
  remove(conn: Connection): void {
    this.all.delete(conn);
  }
}
