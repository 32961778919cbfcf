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
  // 2: session ids are never reused: messages.from_session names the sending device after it
  //    logged out, and a new session given the same id would miss what that device sent.
  //    (Ids seen only in messages, of sessions already deleted, are retired too.)
  //    User names are unique ignoring case, whatever case a caller passes.
  `CREATE TABLE sessions_v2 (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     token_hash BLOB NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     cursor     INTEGER NOT NULL DEFAULT 0
   );
   INSERT INTO sessions_v2 (id, user_id, token_hash, created_at, cursor)
     SELECT id, user_id, token_hash, created_at, cursor FROM sessions;
   DROP TABLE sessions;
   ALTER TABLE sessions_v2 RENAME TO sessions;
   INSERT INTO sqlite_sequence (name, seq)
     SELECT 'sessions', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sessions');
   UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(from_session), 0) FROM messages))
     WHERE name = 'sessions';
   CREATE UNIQUE INDEX users_name_nocase ON users(name COLLATE NOCASE);`,
  // 3: groups (members see messages posted after they joined: `since`), invitations, contacts.
  `CREATE TABLE groups (
     name       TEXT PRIMARY KEY COLLATE NOCASE,
     owner      TEXT NOT NULL,
     private    INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE members (
     grp       TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
     user      TEXT NOT NULL,
     since     INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     PRIMARY KEY (grp, user)
   );
   CREATE INDEX members_user ON members(user, grp);
   CREATE TABLE invites (
     grp  TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
     user TEXT NOT NULL,
     by   TEXT NOT NULL,
     at   INTEGER NOT NULL,
     PRIMARY KEY (grp, user)
   );
   CREATE TABLE friends (
     user  TEXT NOT NULL,
     other TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('friend', 'incoming', 'outgoing')),
     note  TEXT NOT NULL DEFAULT '',
     at    INTEGER NOT NULL,
     PRIMARY KEY (user, other)
   );`,
  // 4: registration codes for invite-only servers (chat admin invite); only their SHA-256 is kept.
  `CREATE TABLE registration_codes (
     code_hash  BLOB PRIMARY KEY,
     uses_left  INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // 5: messages keep one secondary index, (pair, id). A user's direct messages are found through
  //    the conversations they take part in, and what they sent anywhere (their other devices get
  //    it too) through the conversations they sent to, instead of through indexes on recipient
  //    and sender: each index cost 7–10 µs of CPU and a dirty page per stored message
  //    (bench/sqlite-indexes.mjs; docs/benchmarks.md "Where the server's time goes").
  `CREATE TABLE conversations (
     user TEXT NOT NULL,
     pair TEXT NOT NULL,
     PRIMARY KEY (user, pair)
   ) WITHOUT ROWID;
   INSERT OR IGNORE INTO conversations (user, pair) SELECT DISTINCT sender, pair FROM messages;
   INSERT OR IGNORE INTO conversations (user, pair)
     SELECT DISTINCT recipient, pair FROM messages WHERE recipient NOT LIKE '#%';
   DROP INDEX messages_recipient;
   DROP INDEX messages_sender;`,
  // 6: sessions expire when idle, are listed and revoked by their owner, and accounts can be
  //    disabled or deleted by the operator (chat sessions, chat passwd, chat admin user).
  //    Sessions from before count as seen at the upgrade, so none expires because of it. The
  //    revocation log is how server nodes (and `chat admin` in another process) learn that
  //    connections must close: each node polls it (src/server/session-watch.ts).
  `ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'deleted'));
   ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
   ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
   UPDATE sessions SET last_seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE INDEX sessions_last_seen ON sessions(last_seen_at);
   CREATE TABLE revocations (
     id     INTEGER PRIMARY KEY AUTOINCREMENT,
     user   TEXT NOT NULL,
     reason TEXT NOT NULL,
     at     INTEGER NOT NULL
   );`,
  // 7: device identity keys (issue 26): each session (device) may register the Ed25519 public key
  //    of its CHAT_HOME; the server publishes them (device_keys) but cannot forge a signature.
  `ALTER TABLE sessions ADD COLUMN identity_key TEXT NOT NULL DEFAULT '';`,
  // 8: users a user blocks (chat block): their direct messages, offers, group invitations and
  //    friend requests to that user are dropped by the server (protocol.md §4.7).
  `CREATE TABLE blocks (
     user  TEXT NOT NULL,
     other TEXT NOT NULL,
     at    INTEGER NOT NULL,
     PRIMARY KEY (user, other)
   ) WITHOUT ROWID;`,
];
