-- chat.send_messages, set-based: a batch costs a fixed number of statements (lock, then one
-- statement that checks, inserts and updates everything) instead of ~8 per message, which is where
-- Postgres spent its CPU (executor start-up per statement). Results are those of calling
-- chat.send_message (0002) for each item in array order; services/chat/test checks that on random
-- batches against that function.
--
-- Per item, in this order: 'not_found' (no conversation), 'not_participant' (sender not active in
-- it), an earlier send with the same (conversation, sender, client message id) — in the table or
-- earlier in the batch — is returned with created = false, 'blocked' (direct conversation with a
-- block either way), else a new message: seq = the conversation's next, in array order.
-- Unread counts: a participant's own message (shadowed or not) reads everything up to it; other
-- participants' visible (not shadowed) messages after that are unread. A shadowed message moves
-- neither activity nor last message. The audience is every active participant.
CREATE OR REPLACE FUNCTION chat.send_messages(
    p_conversations bigint[], p_senders text[], p_client_message_ids text[], p_kinds text[], p_contents text[],
    p_media_urls text[], p_links_stripped boolean[], p_shadowed boolean[], p_reasons text[])
RETURNS TABLE (ord integer, outcome text, created boolean, msg chat.messages,
               audience_ids text[], audience_muted boolean[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  -- Lock first, in id order (no deadlock between batches); the next statement's snapshot is taken
  -- after the locks, so it sees every send committed before.
  PERFORM 1 FROM chat.conversations WHERE id = ANY (p_conversations) ORDER BY id FOR UPDATE;

  RETURN QUERY
  WITH input AS (
    SELECT t.i::integer AS ord, t.c AS conversation_id, t.s AS sender_id, t.cm AS client_message_id, t.k AS kind,
           t.ct AS content, t.mu AS media_url, t.ls AS links_stripped, t.sh AS shadowed, t.r AS reason
      FROM unnest(p_conversations, p_senders, p_client_message_ids, p_kinds, p_contents, p_media_urls,
                  p_links_stripped, p_shadowed, p_reasons) WITH ORDINALITY AS t(c, s, cm, k, ct, mu, ls, sh, r, i)
  ),
  checked AS (
    SELECT i.*, c.last_seq AS base_seq, ex.id AS existing_id,
           min(i.ord) OVER (PARTITION BY i.conversation_id, i.sender_id, i.client_message_id) AS first_ord,
           CASE WHEN c.id IS NULL THEN 'not_found'
                WHEN p.user_id IS NULL THEN 'not_participant'
                WHEN ex.id IS NULL AND c.kind = 'direct' AND EXISTS (
                       SELECT 1 FROM chat.blocks b
                        WHERE (b.blocker_id = c.direct_low AND b.blocked_id = c.direct_high)
                           OR (b.blocker_id = c.direct_high AND b.blocked_id = c.direct_low)) THEN 'blocked'
                ELSE 'ok' END AS outcome
      FROM input i
      LEFT JOIN chat.conversations c ON c.id = i.conversation_id
      LEFT JOIN chat.participants p
        ON p.conversation_id = i.conversation_id AND p.user_id = i.sender_id AND p.left_at IS NULL
      LEFT JOIN chat.messages ex
        ON ex.conversation_id = i.conversation_id AND ex.sender_id = i.sender_id
       AND ex.client_message_id = i.client_message_id
  ),
  fresh AS MATERIALIZED (
    SELECT ch.*, ch.base_seq + row_number() OVER (PARTITION BY ch.conversation_id ORDER BY ch.ord) AS seq,
           nextval(pg_get_serial_sequence('chat.messages', 'id')) AS id
      FROM checked ch
     WHERE ch.outcome = 'ok' AND ch.existing_id IS NULL AND ch.ord = ch.first_ord
  ),
  inserted AS (
    INSERT INTO chat.messages (id, conversation_id, seq, sender_id, client_message_id, kind, content, media_url,
                               links_stripped, shadowed, moderation_reason)
    SELECT f.id, f.conversation_id, f.seq, f.sender_id, f.client_message_id, f.kind, f.content, f.media_url,
           f.links_stripped, f.shadowed, f.reason
      FROM fresh f
    RETURNING *
  ),
  conversation_updates AS (
    UPDATE chat.conversations c
       SET last_seq = c.last_seq + agg.n,
           last_activity_at = CASE WHEN agg.visible_last_id IS NULL THEN c.last_activity_at ELSE now() END,
           last_message_id = coalesce(agg.visible_last_id, c.last_message_id)
      FROM (SELECT f.conversation_id, count(*) AS n,
                   (array_agg(f.id ORDER BY f.seq DESC) FILTER (WHERE NOT f.shadowed))[1] AS visible_last_id
              FROM fresh f GROUP BY f.conversation_id) agg
     WHERE c.id = agg.conversation_id
    RETURNING c.id
  ),
  own AS (
    SELECT pp.conversation_id, pp.user_id,
           (SELECT max(f.seq) FROM fresh f
             WHERE f.conversation_id = pp.conversation_id AND f.sender_id = pp.user_id) AS own_last_seq
      FROM chat.participants pp
     WHERE pp.left_at IS NULL AND pp.conversation_id IN (SELECT f.conversation_id FROM fresh f)
  ),
  delta AS (
    SELECT o.conversation_id, o.user_id, o.own_last_seq,
           (SELECT count(*) FROM fresh f
             WHERE f.conversation_id = o.conversation_id AND f.sender_id <> o.user_id AND NOT f.shadowed
               AND f.seq > coalesce(o.own_last_seq, 0)) AS unread_after
      FROM own o
  ),
  participant_updates AS (
    UPDATE chat.participants p
       SET unread_count = CASE WHEN d.own_last_seq IS NULL THEN p.unread_count + d.unread_after ELSE d.unread_after END,
           last_read_seq = CASE WHEN d.own_last_seq IS NULL THEN p.last_read_seq
                                ELSE GREATEST(p.last_read_seq, d.own_last_seq) END
      FROM delta d
     WHERE p.conversation_id = d.conversation_id AND p.user_id = d.user_id
       AND (d.own_last_seq IS NOT NULL OR d.unread_after > 0)
    RETURNING p.user_id
  )
  SELECT ch.ord, ch.outcome,
         (ch.outcome = 'ok' AND ch.existing_id IS NULL AND ch.ord = ch.first_ord) AS created,
         CASE WHEN ch.outcome <> 'ok' THEN NULL
              WHEN ex.id IS NOT NULL THEN ex
              ELSE ROW(ins.*)::chat.messages END AS msg,
         aud.ids, aud.muted
    FROM checked ch
    LEFT JOIN chat.messages ex ON ex.id = ch.existing_id
    LEFT JOIN fresh f0
      ON ch.existing_id IS NULL AND f0.conversation_id = ch.conversation_id AND f0.sender_id = ch.sender_id
     AND f0.client_message_id = ch.client_message_id
    LEFT JOIN inserted ins ON ins.id = f0.id
    LEFT JOIN LATERAL (
      SELECT array_agg(pa.user_id ORDER BY pa.user_id) AS ids, array_agg(pa.muted ORDER BY pa.user_id) AS muted
        FROM chat.participants pa
       WHERE pa.conversation_id = ch.conversation_id AND pa.left_at IS NULL) aud ON ch.outcome = 'ok'
   ORDER BY ch.ord;
END
$$;
