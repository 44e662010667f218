-- Bot → agent hand-off per customer session: a session with a bot interaction is escalated
-- when an agent interaction starts at or after its first bot interaction. Sessions are
-- booked by their first interaction.
WITH sessions AS (
  SELECT customersessionid,
    min(first_ts) AS session_start,
    min(first_ts) FILTER (WHERE lower(chattype) = 'bot') AS bot_start,
    max(first_ts) FILTER (WHERE lower(chattype) = 'agent') AS last_agent_start
  FROM interactions
  WHERE customersessionid IS NOT NULL
  GROUP BY customersessionid
)
SELECT ${bucket(session_start)} AS bucket,
  count(*) AS customer_sessions,
  count(*) FILTER (WHERE bot_start IS NOT NULL) AS bot_customer_sessions,
  count(*) FILTER (WHERE bot_start IS NOT NULL AND last_agent_start >= bot_start) AS escalated_customer_sessions,
  CAST(count(*) FILTER (WHERE bot_start IS NOT NULL AND last_agent_start >= bot_start) AS DOUBLE)
    / NULLIF(count(*) FILTER (WHERE bot_start IS NOT NULL), 0) AS escalation_rate,
  count(*) FILTER (WHERE bot_start IS NOT NULL)
    - count(*) FILTER (WHERE bot_start IS NOT NULL AND last_agent_start >= bot_start) AS contained_customer_sessions,
  CAST(count(*) FILTER (WHERE bot_start IS NOT NULL)
    - count(*) FILTER (WHERE bot_start IS NOT NULL AND last_agent_start >= bot_start) AS DOUBLE)
    / NULLIF(count(*) FILTER (WHERE bot_start IS NOT NULL), 0) AS containment_rate
FROM sessions
GROUP BY 1
ORDER BY 1
