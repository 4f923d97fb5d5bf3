-- Group commit of sends: several chat.send_message calls in one statement, so one transaction
-- (and one WAL flush, one round trip) carries a whole batch. Items run in array order, each with
-- exactly the rules of chat.send_message; an item's outcome never affects the others (refusals are
-- outcomes, not errors). Arrays are parallel, one element per send.
CREATE FUNCTION chat.send_messages(
    p_conversations bigint[], p_senders text[], p_client_message_ids text[], p_kinds text[], p_contents text[],
    p_media_urls text[], p_links_stripped boolean[], p_shadowed boolean[], p_reasons text[])
RETURNS TABLE (ord integer, outcome text, created boolean, msg chat.messages,
               audience_ids text[], audience_muted boolean[])
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_conversations, 1), 0) LOOP
    SELECT * INTO r FROM chat.send_message(p_conversations[i], p_senders[i], p_client_message_ids[i], p_kinds[i],
                                           p_contents[i], p_media_urls[i], p_links_stripped[i], p_shadowed[i],
                                           p_reasons[i]);
    ord := i;
    outcome := r.outcome;
    created := r.created;
    msg := r.msg;
    audience_ids := r.audience_ids;
    audience_muted := r.audience_muted;
    RETURN NEXT;
  END LOOP;
END
$$;
