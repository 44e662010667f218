-- Ultimate "Metrics by first meaningful (or filtered) intent" (seed 002), ported to portable SQL.
--
-- As the vendor wrote it: the WHERE after the LEFT JOIN keeps only intents with
-- not_meaningful false (a NULL fails, as `is false` does) and a name outside the exclusion
-- list (a NULL name fails NOT IN), so conversations with no meaningful intent drop out.
-- Made deterministic where the vendor's ROW_NUMBER is not: timestamps ascending with NULLs
-- first (BigQuery's default for ASC), ties broken by array position.
WITH meaningful_intents AS (
  SELECT conversation_id, first_meaningful_intent, conversation_status
  FROM (
    SELECT
      c.conversation_id,
      i.intent_name AS first_meaningful_intent,
      c.conversation_status,
      ROW_NUMBER() OVER (
        PARTITION BY c.conversation_id
        ORDER BY i.intent_timestamp ASC NULLS FIRST, i.position ASC
      ) AS rn
    FROM bot_conversations c
    LEFT JOIN bot_intents i ON i.conversation_id = c.conversation_id
    WHERE i.not_meaningful = false
      AND i.intent_name NOT IN ('Greeting', 'Talk to a human/agent')
  ) ranked
  WHERE rn = 1
)
SELECT
  first_meaningful_intent,
  count(DISTINCT conversation_id) AS total_conversations,
  count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS bot_handled_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS bot_handled_rate
FROM meaningful_intents
GROUP BY first_meaningful_intent
ORDER BY total_conversations DESC, first_meaningful_intent
