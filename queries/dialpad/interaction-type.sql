-- Dialpad "InteractionType" (bot vs agent), as `cxkpi metrics messaging --view
-- interaction-type`: interactions (by their first message) and messages per chattype,
-- which leads the breakdown.
WITH d AS (
  SELECT ${bucket(first_ts)} AS bucket_us, ${dims} 1 AS interaction
  FROM interactions
  WHERE ${range(first_ts)}
  UNION ALL
  SELECT ${bucket(ts)} AS bucket_us, ${dims} 0 AS interaction
  FROM messages
  WHERE ${range(ts)}
),
g AS (
  SELECT ${keys}
    count(*) FILTER (WHERE interaction = 1) AS interactions,
    count(*) FILTER (WHERE interaction = 0) AS messages
  FROM d
  ${group}
)
SELECT ${out} interactions, messages
FROM g
${order}
