// PostgreSQL schema migrations for PostgresStore, applied in order; table chat_schema records
// which have run (one row per version). Never edit a shipped migration: add the next one.
//
// The schema mirrors the SQLite one (migrations.ts) at its latest version, with these choices:
// - Every text column is COLLATE "C": comparisons and ORDER BY are by code point, as SQLite's
//   BINARY, whatever the database's locale.
// - Names equal "ignoring case" as SQLite's NOCASE does it (ASCII A-Z only): chat_nocase().
// - Message text and friend notes are bytea (UTF-8): a PostgreSQL text value cannot hold NUL.
// - Ids are identity columns (sequences never hand out an id twice, so session ids are never
//   reused); times are bigint milliseconds.
// - `user` is reserved in PostgreSQL: those columns are `username`.

export const PG_MIGRATIONS: readonly string[] = [
  // 1: accounts, device sessions, messages, groups, invitations, contacts.
  `CREATE FUNCTION chat_nocase(t text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $$ SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

   CREATE TABLE users (
     id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     name       text COLLATE "C" NOT NULL,
     salt       bytea NOT NULL,
     hash       bytea NOT NULL,
     created_at bigint NOT NULL,
     acked      bigint NOT NULL DEFAULT 0  -- the most advanced cursor of any of its sessions
   );
   CREATE UNIQUE INDEX users_name_nocase ON users (chat_nocase(name));

   CREATE TABLE sessions (
     id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
     token_hash bytea NOT NULL UNIQUE,
     created_at bigint NOT NULL,
     cursor     bigint NOT NULL DEFAULT 0
   );
   CREATE INDEX sessions_user ON sessions (user_id);

   CREATE TABLE messages (
     id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     sender       text COLLATE "C" NOT NULL,
     recipient    text COLLATE "C" NOT NULL,       -- a user name, or '#' || group name
     pair         text COLLATE "C" NOT NULL,       -- the conversation: 'a b' (sorted) or '#group'
     body         bytea NOT NULL,                  -- the text, UTF-8
     at           bigint NOT NULL,
     from_session bigint NOT NULL
   );
   CREATE INDEX messages_pair ON messages (pair, id);
   CREATE INDEX messages_recipient ON messages (recipient, id);
   CREATE INDEX messages_sender ON messages (sender, id);

   CREATE TABLE groups (
     name       text COLLATE "C" PRIMARY KEY,
     owner      text COLLATE "C" NOT NULL,
     private    boolean NOT NULL,
     created_at bigint NOT NULL
   );
   CREATE UNIQUE INDEX groups_name_nocase ON groups (chat_nocase(name));

   -- Members see the messages posted after they joined: id > since.
   CREATE TABLE members (
     grp       text COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
     username  text COLLATE "C" NOT NULL,
     since     bigint NOT NULL,
     joined_at bigint NOT NULL,
     PRIMARY KEY (grp, username)
   );
   CREATE INDEX members_user ON members (username, grp);

   CREATE TABLE invites (
     grp        text COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
     username   text COLLATE "C" NOT NULL,
     invited_by text COLLATE "C" NOT NULL,
     at         bigint NOT NULL,
     PRIMARY KEY (grp, username)
   );

   -- One row per side of a relation: (alice, bob, 'outgoing') with (bob, alice, 'incoming').
   CREATE TABLE friends (
     username text COLLATE "C" NOT NULL,
     other    text COLLATE "C" NOT NULL,
     state    text COLLATE "C" NOT NULL CHECK (state IN ('friend', 'incoming', 'outgoing')),
     note     bytea NOT NULL DEFAULT '',          -- UTF-8
     at       bigint NOT NULL,
     PRIMARY KEY (username, other)
   );`,
  // 2: registration codes for invite-only servers (chat admin invite); only their SHA-256 is kept.
  `CREATE TABLE registration_codes (
     code_hash  bytea PRIMARY KEY,
     uses_left  integer NOT NULL,
     expires_at bigint NOT NULL,
     created_at bigint NOT NULL
   );`,
  // 3: per-conversation ordering instead of one lock for all messages (docs/cluster.md). Stores a
  // node's batch of messages (of any conversations) in one call: takes each conversation's
  // transaction advisory lock, in one order on every node (no deadlock), before drawing any id,
  // so a conversation's ids increase in commit order; gets the transaction id before drawing ids
  // (the settled-id watermark relies on it); inserts the rows in the given order; and returns with
  // each id the id of the conversation's previous message, with which nodes put the messages
  // they receive from the bus back in order.
  `CREATE FUNCTION chat_add_messages(lock_ns integer, convs text[], senders text[], recipients text[],
                                     bodies bytea[], ats bigint[], sessions bigint[])
     RETURNS TABLE (stored_id bigint, prev_id bigint) LANGUAGE plpgsql AS $$
   DECLARE
     i integer;
     k integer;
   BEGIN
     FOR k IN SELECT DISTINCT hashtext('chat conversation ' || c) AS h FROM unnest(convs) AS c ORDER BY h LOOP
       PERFORM pg_advisory_xact_lock(lock_ns, k);
     END LOOP;
     PERFORM txid_current();
     FOR i IN 1 .. coalesce(array_length(senders, 1), 0) LOOP
       prev_id := coalesce((SELECT max(m.id) FROM messages m WHERE m.pair = convs[i]), 0);
       INSERT INTO messages (sender, recipient, pair, body, at, from_session)
         VALUES (senders[i], recipients[i], convs[i], bodies[i], ats[i], sessions[i])
         RETURNING messages.id INTO stored_id;
       RETURN NEXT;
     END LOOP;
   END $$;`,
  // 4: sessions expire when idle, are listed and revoked by their owner, and accounts can be
  //    disabled or deleted by the operator (as SQLite's migration 6). Each node polls the
  //    revocation log to close the connections of revoked sessions (src/server/session-watch.ts).
  `ALTER TABLE users ADD COLUMN state text COLLATE "C" NOT NULL DEFAULT 'active'
     CHECK (state IN ('active', 'disabled', 'deleted'));
   ALTER TABLE sessions ADD COLUMN last_seen_at bigint NOT NULL DEFAULT 0;
   ALTER TABLE sessions ADD COLUMN device bytea NOT NULL DEFAULT '';   -- UTF-8
   ALTER TABLE sessions ADD COLUMN address text COLLATE "C" NOT NULL DEFAULT '';
   UPDATE sessions SET last_seen_at = (extract(epoch FROM now()) * 1000)::bigint;
   CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
   CREATE TABLE revocations (
     id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     username text COLLATE "C" NOT NULL,
     reason text COLLATE "C" NOT NULL,
     at     bigint NOT NULL
   );`,
  // 5: device identity keys (as SQLite's migration 7).
  `ALTER TABLE sessions ADD COLUMN identity_key text COLLATE "C" NOT NULL DEFAULT '';`,
  // 6: users a user blocks (as SQLite's migration 8).
  `CREATE TABLE blocks (
     username text COLLATE "C" NOT NULL,
     other    text COLLATE "C" NOT NULL,
     at       bigint NOT NULL,
     PRIMARY KEY (username, other)
   );`,
];
