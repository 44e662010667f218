-- Dialpad "Intents", as `cxkpi metrics messaging --view intents`: messages carrying each
-- topic (which leads the breakdown) and their mean score. ${intent_type}: --intent-type,
-- the messages of bot or of agent interactions (the message's chattype).
WITH d AS (
  SELECT *, ${bucket(ts)} AS bucket_us
  FROM messages
  WHERE ${range(ts)} AND topic IS NOT NULL AND topic <> ''${intent_type}
),
g AS (
  SELECT ${keys}
    count(*) AS intents,
    avg(score) AS avg_score
  FROM d
  ${group}
)
SELECT ${out} intents, avg_score
FROM g
${order}
