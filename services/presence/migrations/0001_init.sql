-- Presence schema: durable last seen. Live state (sessions, statuses) is in Redis; this table is
-- what survives losing Redis. Written in batches by the last-seen flush (one upsert per batch,
-- keeping the later value). Applied by sb-presence at start-up (search_path = presence, public).

CREATE TABLE last_seen (
  user_id      text PRIMARY KEY,
  last_seen_at timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
