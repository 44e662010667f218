-- Dialpad "Interactions", as `cxkpi metrics messaging --view interactions`: interactions
-- booked by their first message, messages by their own ts (both sides counted in one pass
-- over their union, so a bucket present on one side only has zeros on the other).
WITH d AS (
  SELECT ${bucket(first_ts)} AS bucket_us, ${dims} 1 AS interaction, customersessionid,
    CAST(NULL AS STRING) AS sender
  FROM interactions
  WHERE ${range(first_ts)}
  UNION ALL
  SELECT ${bucket(ts)} AS bucket_us, ${dims} 0 AS interaction, CAST(NULL AS STRING) AS customersessionid,
    lower(sendertype) AS sender
  FROM messages
  WHERE ${range(ts)}
),
g AS (
  SELECT ${keys}
    count(*) FILTER (WHERE interaction = 1) AS interactions,
    count(DISTINCT customersessionid) AS customer_sessions,
    count(*) FILTER (WHERE interaction = 0) AS messages,
    count(*) FILTER (WHERE sender = 'customer') AS customer_messages,
    count(*) FILTER (WHERE sender = 'bot') AS bot_messages,
    count(*) FILTER (WHERE sender = 'agent') AS agent_messages
  FROM d
  ${group}
)
SELECT ${out} interactions, customer_sessions, messages, customer_messages, bot_messages, agent_messages
FROM g
${order}
