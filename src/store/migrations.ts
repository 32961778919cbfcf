// Schema migrations, applied in order inside one transaction each; PRAGMA user_version
// records how many have run. Never edit a shipped migration: add the next one.

export const MIGRATIONS: readonly string[] = [
  // 1: accounts, device sessions, direct messages
  `CREATE TABLE users (
     id         INTEGER PRIMARY KEY,
     name       TEXT NOT NULL UNIQUE,
     salt       BLOB NOT NULL,
     hash       BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     acked      INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE sessions (
     id         INTEGER PRIMARY KEY,
     user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     token_hash BLOB NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     cursor     INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE messages (
     id           INTEGER PRIMARY KEY AUTOINCREMENT,
     sender       TEXT NOT NULL,
     recipient    TEXT NOT NULL,
     pair         TEXT NOT NULL,
     text         TEXT NOT NULL,
     at           INTEGER NOT NULL,
     from_session INTEGER NOT NULL
   );
   CREATE INDEX messages_pair ON messages(pair, id);
   CREATE INDEX messages_recipient ON messages(recipient, id);
   CREATE INDEX messages_sender ON messages(sender, id);`,
];
