-- Bot → agent hand-off per customer session, as `cxkpi metrics messaging --view handoff`:
-- a session with a bot interaction is escalated when an agent interaction starts at or
-- after its first bot interaction. Sessions are booked by their first interaction; their
-- channel is that of their first interaction that has one.
WITH sessions AS (
  SELECT customersessionid,
    min(first_ts) AS session_start,
    min(first_ts) FILTER (WHERE lower(chattype) = 'bot') AS bot_start,
    max(first_ts) FILTER (WHERE lower(chattype) = 'agent') AS last_agent_start,
    ${min_by(sessionchannel, first_ts)} FILTER (WHERE sessionchannel IS NOT NULL) AS sessionchannel
  FROM interactions
  WHERE customersessionid IS NOT NULL
  GROUP BY customersessionid
),
d AS (
  SELECT *, ${bucket(session_start)} AS bucket_us,
    bot_start IS NOT NULL AS has_bot,
    bot_start IS NOT NULL AND last_agent_start >= bot_start AS escalated
  FROM sessions
  WHERE ${range(session_start)}
),
g AS (
  SELECT ${keys}
    count(*) AS customer_sessions,
    count(*) FILTER (WHERE has_bot) AS bot_customer_sessions,
    count(*) FILTER (WHERE escalated) AS escalated_customer_sessions
  FROM d
  ${group}
)
SELECT ${out}
  customer_sessions, bot_customer_sessions, escalated_customer_sessions,
  CAST(escalated_customer_sessions AS DOUBLE) / NULLIF(bot_customer_sessions, 0) AS escalation_rate,
  bot_customer_sessions - escalated_customer_sessions AS contained_customer_sessions,
  CAST(bot_customer_sessions - escalated_customer_sessions AS DOUBLE) / NULLIF(bot_customer_sessions, 0) AS containment_rate
FROM g
${order}
