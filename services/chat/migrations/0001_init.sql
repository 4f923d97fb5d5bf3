-- Chat schema: users (directory), conversations, participants, messages, blocks, moderation.
-- Applied by sb-chat at start-up (sb::db::ApplyMigrations, search_path = chat, public).

CREATE TABLE users (
  id            text PRIMARY KEY,
  username      text NOT NULL DEFAULT '',
  display_name  text NOT NULL DEFAULT '',
  avatar_url    text NOT NULL DEFAULT '',
  first_seen_at timestamptz NOT NULL DEFAULT now(),  -- "new account" moderation rule
  updated_at    timestamptz NOT NULL DEFAULT now(),
  shadowed      boolean NOT NULL DEFAULT false,
  shadow_reason text NOT NULL DEFAULT ''
);

CREATE TABLE conversations (
  id               bigserial PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('direct', 'group')),
  title            text NOT NULL DEFAULT '',
  creator_id       text NOT NULL,
  -- Direct conversations: the two user ids in byte order; the unique index makes find-or-create
  -- idempotent under concurrent creates. NULL for groups.
  direct_low       text,
  direct_high      text,
  last_seq         bigint NOT NULL DEFAULT 0,     -- sequence of the newest message (row lock = send order)
  last_message_id  bigint,                        -- newest message visible to everyone
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'direct') = (direct_low IS NOT NULL AND direct_high IS NOT NULL))
);
CREATE UNIQUE INDEX conversations_direct_pair ON conversations (direct_low, direct_high) WHERE kind = 'direct';

CREATE TABLE participants (
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         text NOT NULL,
  role            text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
  last_read_seq   bigint NOT NULL DEFAULT 0,
  -- Messages of others after last_read_seq, maintained by send / mark-read / delete in the same
  -- transactions, so unread counts are read, never counted.
  unread_count    bigint NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
  muted           boolean NOT NULL DEFAULT false,
  joined_at       timestamptz NOT NULL DEFAULT now(),
  left_at         timestamptz,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX participants_active_by_user ON participants (user_id, conversation_id) WHERE left_at IS NULL;

CREATE TABLE messages (
  id                bigserial PRIMARY KEY,
  conversation_id   bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq               bigint NOT NULL,
  sender_id         text NOT NULL DEFAULT '',  -- '' for system messages
  client_message_id text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('text', 'image', 'system')),
  content           text NOT NULL DEFAULT '',
  media_url         text NOT NULL DEFAULT '',
  created_at        timestamptz NOT NULL DEFAULT now(),
  edited_at         timestamptz,
  deleted_at        timestamptz,
  links_stripped    boolean NOT NULL DEFAULT false,
  shadowed          boolean NOT NULL DEFAULT false,
  moderation_reason text NOT NULL DEFAULT '',
  UNIQUE (conversation_id, seq),
  UNIQUE (conversation_id, sender_id, client_message_id)
);

CREATE TABLE blocks (
  blocker_id text NOT NULL,
  blocked_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id),
  CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, blocker_id);
