-- Ultimate "First / Last Intent from a conversation" (seed 002), ported to portable SQL.
-- The vendor takes triggered_intent_replies[safe_offset(0)] and the first item of the
-- reversed array: array order, not timestamp order. In the canonical tables the array is
-- bot_intents, with each item's 0-based position. A conversation without intents has NULLs.
WITH bounds AS (
  SELECT conversation_id, max(position) AS last_position
  FROM bot_intents
  GROUP BY conversation_id
)
SELECT
  c.conversation_id,
  f.intent_name AS first_intent,
  l.intent_name AS last_intent
FROM bot_conversations c
LEFT JOIN bounds b ON b.conversation_id = c.conversation_id
LEFT JOIN bot_intents f ON f.conversation_id = c.conversation_id AND f.position = 0
LEFT JOIN bot_intents l ON l.conversation_id = c.conversation_id AND l.position = b.last_position
ORDER BY c.conversation_id
