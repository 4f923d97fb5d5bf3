-- Notification schema: types (templates), notifications, dedupe keys, unread counters, preferences.
-- Applied by sb-notification at start-up (sb::db::ApplyMigrations, search_path = notification, public).

CREATE TABLE types (
  name               text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  title_template     text NOT NULL,
  body_template      text NOT NULL DEFAULT '',
  deep_link_template text NOT NULL DEFAULT '',
  default_enabled    boolean NOT NULL DEFAULT true,
  push               boolean NOT NULL DEFAULT true,
  built_in           boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

INSERT INTO types (name, title_template, body_template, deep_link_template, default_enabled, push, built_in) VALUES
  ('new_follower',        '{actor} started following you',     '',                 '/users/{actorId}',            true, true, true),
  ('post_like',           '{actor} liked your post',           '{preview}',        '/posts/{entityId}',           true, true, true),
  ('post_comment',        '{actor} commented on your post',    '{preview}',        '/posts/{postId}',             true, true, true),
  ('comment_reply',       '{actor} replied to your comment',   '{preview}',        '/posts/{postId}',             true, true, true),
  ('post_mention',        '{actor} mentioned you in a post',   '{preview}',        '/posts/{entityId}',           true, true, true),
  ('story_view',          '{actor} viewed your story',         '',                 '/stories/{entityId}',         false, false, true),
  ('thread_reply',        '{actor} replied to your thread',    '{preview}',        '/threads/{threadId}',         true, true, true),
  ('thread_like',         '{actor} liked your thread',         '',                 '/threads/{entityId}',         true, true, true),
  ('thread_mention',      '{actor} mentioned you in a thread', '{preview}',        '/threads/{entityId}',         true, true, true),
  ('listing_inquiry',     '{actor} asked about {listingTitle}', '{preview}',       '/listings/{listingId}',       true, true, true),
  ('listing_favorite',    '{actor} saved your listing',        '{listingTitle}',   '/listings/{entityId}',        true, false, true),
  ('new_message',         'New message from {actor}',          '{preview}',        '/chat/{conversationId}',      true, true, true),
  ('system_announcement', '{title}',                           '{body}',           '{link}',                      true, true, true),
  ('account_update',      '{title}',                           '{body}',           '/settings/account',           true, true, true);

CREATE TABLE notifications (
  id                 bigserial PRIMARY KEY,
  recipient_id       text NOT NULL,
  type               text NOT NULL REFERENCES types (name),
  actor_id           text NOT NULL DEFAULT '',
  actor_name         text NOT NULL DEFAULT '',
  actor_avatar_url   text NOT NULL DEFAULT '',
  actors             jsonb NOT NULL DEFAULT '[]',   -- up to 3 recent distinct actors, latest first
  entity_type        text NOT NULL DEFAULT '',
  entity_id          text NOT NULL DEFAULT '',
  title              text NOT NULL,
  body               text NOT NULL DEFAULT '',
  deep_link          text NOT NULL DEFAULT '',
  data               jsonb NOT NULL DEFAULT '{}',   -- string values only
  dedupe_key         text,                          -- the key of the event that created the row
  group_key          text,
  group_count        integer NOT NULL DEFAULT 1,
  read_at            timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX notifications_dedupe ON notifications (recipient_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- List (latest activity first) and its unread filter.
CREATE INDEX notifications_list ON notifications (recipient_id, updated_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (recipient_id, updated_at DESC, id DESC) WHERE read_at IS NULL;
-- Collapse: the newest unread notification of a group.
CREATE INDEX notifications_group ON notifications (recipient_id, group_key, updated_at DESC)
  WHERE group_key IS NOT NULL AND read_at IS NULL;
-- Retention.
CREATE INDEX notifications_updated ON notifications (updated_at);

-- Every dedupe key seen per recipient (also keys of events collapsed into another row), so a
-- retried event is recognised even when it did not create the row. Gate of Notify: the insert
-- ON CONFLICT DO NOTHING decides, so concurrent duplicates wait for each other.
CREATE TABLE dedupe_keys (
  recipient_id    text NOT NULL,
  dedupe_key      text NOT NULL,
  notification_id bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recipient_id, dedupe_key)
);
CREATE INDEX dedupe_keys_created ON dedupe_keys (created_at);

-- Unread notifications per recipient, changed in the same transactions as the rows.
CREATE TABLE counters (
  recipient_id text PRIMARY KEY,
  unread       bigint NOT NULL DEFAULT 0 CHECK (unread >= 0)
);

CREATE TABLE preferences (
  user_id       text PRIMARY KEY,
  push_enabled  boolean NOT NULL DEFAULT true,
  email_enabled boolean NOT NULL DEFAULT true,
  types         jsonb NOT NULL DEFAULT '{}',         -- {"type": true|false}: the user's toggles
  quiet_start   smallint CHECK (quiet_start BETWEEN 0 AND 1439),  -- minutes after local midnight
  quiet_end     smallint CHECK (quiet_end BETWEEN 0 AND 1439),
  time_zone     text NOT NULL DEFAULT 'UTC',
  updated_at    timestamptz NOT NULL DEFAULT now()
);
