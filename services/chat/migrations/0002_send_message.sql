-- SendMessage in one statement: the whole write path of a send runs inside the server, with its
-- plans cached per session, instead of ~10 client round trips with a parse and plan each.
-- Same rules as before (docs/chat.md): the conversation row lock orders sends (seq = commit
-- order); idempotent on (conversation, sender, client message id); direct conversations refuse
-- sends across a block; a shadowed message moves neither activity, last message nor unread
-- counts; the sender's own position moves to their message.
--
-- outcome: 'ok' | 'not_found' (no such conversation) | 'not_participant' | 'blocked'.
-- created: false when the client message id was already used (msg is that message).
-- msg: the stored message (returned from here: the caller's statement snapshot cannot see it).
-- audience_ids / audience_muted: the active participants, by user id.
CREATE FUNCTION chat.send_message(
    p_conversation bigint, p_sender text, p_client_message_id text, p_kind text, p_content text,
    p_media_url text, p_links_stripped boolean, p_shadowed boolean, p_reason text,
    OUT outcome text, OUT created boolean, OUT msg chat.messages,
    OUT audience_ids text[], OUT audience_muted boolean[])
LANGUAGE plpgsql AS $$
DECLARE
  v_kind text;
  v_low text;
  v_high text;
  v_member boolean;
  v_seq bigint;
  v_id bigint;
BEGIN
  created := false;
  SELECT c.kind, c.direct_low, c.direct_high, p.user_id IS NOT NULL
    INTO v_kind, v_low, v_high, v_member
    FROM chat.conversations c
    LEFT JOIN chat.participants p
      ON p.conversation_id = c.id AND p.user_id = p_sender AND p.left_at IS NULL
   WHERE c.id = p_conversation
     FOR UPDATE OF c;
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  IF NOT v_member THEN
    outcome := 'not_participant';
    RETURN;
  END IF;

  SELECT m.* INTO msg FROM chat.messages m
   WHERE m.conversation_id = p_conversation AND m.sender_id = p_sender
     AND m.client_message_id = p_client_message_id;
  IF FOUND THEN
    outcome := 'ok';
    SELECT array_agg(user_id ORDER BY user_id), array_agg(muted ORDER BY user_id)
      INTO audience_ids, audience_muted
      FROM chat.participants WHERE conversation_id = p_conversation AND left_at IS NULL;
    RETURN;
  END IF;

  IF v_kind = 'direct' AND EXISTS (
       SELECT 1 FROM chat.blocks
        WHERE (blocker_id = v_low AND blocked_id = v_high) OR (blocker_id = v_high AND blocked_id = v_low)) THEN
    outcome := 'blocked';
    RETURN;
  END IF;

  v_id := nextval(pg_get_serial_sequence('chat.messages', 'id'));
  UPDATE chat.conversations
     SET last_seq = last_seq + 1,
         last_activity_at = CASE WHEN p_shadowed THEN last_activity_at ELSE now() END,
         last_message_id = CASE WHEN p_shadowed THEN last_message_id ELSE v_id END
   WHERE id = p_conversation
  RETURNING last_seq INTO v_seq;
  INSERT INTO chat.messages (id, conversation_id, seq, sender_id, client_message_id, kind, content, media_url,
                             links_stripped, shadowed, moderation_reason)
  VALUES (v_id, p_conversation, v_seq, p_sender, p_client_message_id, p_kind, p_content, p_media_url,
          p_links_stripped, p_shadowed, p_reason)
  RETURNING * INTO msg;

  -- One pass over the participants: others gain an unread message (unless shadowed), the sender
  -- has read up to their own; the rows updated are the audience.
  WITH updated AS (
    UPDATE chat.participants
       SET unread_count = CASE WHEN user_id = p_sender THEN 0
                               WHEN p_shadowed THEN unread_count
                               ELSE unread_count + 1 END,
           last_read_seq = CASE WHEN user_id = p_sender THEN GREATEST(last_read_seq, v_seq) ELSE last_read_seq END
     WHERE conversation_id = p_conversation AND left_at IS NULL
       AND (user_id = p_sender OR NOT p_shadowed)
    RETURNING user_id, muted)
  SELECT array_agg(user_id ORDER BY user_id), array_agg(muted ORDER BY user_id)
    INTO audience_ids, audience_muted FROM updated;
  IF p_shadowed THEN
    -- Only the sender's row was touched above; the audience is still every participant.
    SELECT array_agg(user_id ORDER BY user_id), array_agg(muted ORDER BY user_id)
      INTO audience_ids, audience_muted
      FROM chat.participants WHERE conversation_id = p_conversation AND left_at IS NULL;
  END IF;
  created := true;
  outcome := 'ok';
END
$$;
