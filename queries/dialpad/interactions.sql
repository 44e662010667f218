-- Dialpad "Interactions": interactions booked by their first message, messages by their own ts.
WITH i AS (
  SELECT ${bucket(first_ts)} AS bucket, count(*) AS interactions,
    count(DISTINCT customersessionid) AS customer_sessions
  FROM interactions GROUP BY 1
),
m AS (
  SELECT ${bucket(ts)} AS bucket, count(*) AS messages,
    count(*) FILTER (WHERE lower(sendertype) = 'customer') AS customer_messages,
    count(*) FILTER (WHERE lower(sendertype) = 'bot') AS bot_messages,
    count(*) FILTER (WHERE lower(sendertype) = 'agent') AS agent_messages
  FROM messages GROUP BY 1
)
SELECT coalesce(i.bucket, m.bucket) AS bucket,
  coalesce(i.interactions, 0) AS interactions, coalesce(i.customer_sessions, 0) AS customer_sessions,
  coalesce(m.messages, 0) AS messages, coalesce(m.customer_messages, 0) AS customer_messages,
  coalesce(m.bot_messages, 0) AS bot_messages, coalesce(m.agent_messages, 0) AS agent_messages
FROM i FULL JOIN m ON i.bucket IS NOT DISTINCT FROM m.bucket
ORDER BY 1
