-- The interactions table (one row per sessionid) derived from messages, as cxkpi derives
-- it; rendered as a temporary view before any messaging view that reads it.
--
-- Response times follow customer turns: a turn starts at the first customer message after
-- the previous agent message and is answered by the next agent message (at or after it).
-- Each customer message is tagged with the time of that next agent message (a window over
-- the session in time order); the turn is the group of messages sharing the tag.
CREATE OR REPLACE TEMPORARY VIEW interactions AS
WITH tagged AS (
  SELECT sessionid, ts, lower(sendertype) AS sender,
    min(CASE WHEN lower(sendertype) = 'agent' THEN ts END) OVER (
      PARTITION BY sessionid ORDER BY ts RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
    ) AS answered_at
  FROM messages
  WHERE ts IS NOT NULL
),
turns AS (
  SELECT sessionid, answered_at, (${us(answered_at)} - ${us(min(ts))}) / 1e6 AS response_sec
  FROM tagged
  WHERE sender = 'customer' AND answered_at IS NOT NULL
  GROUP BY sessionid, answered_at
),
responses AS (
  SELECT sessionid,
    ${min_by(response_sec, answered_at)} AS first_response_sec,
    avg(response_sec) AS avg_response_sec,
    count(*) AS responses
  FROM turns
  GROUP BY sessionid
),
per_session AS (
  SELECT sessionid,
    min(conversation_id) AS conversation_id,
    min(segment) AS segment,
    ${min_by(customersessionid, ts)} FILTER (WHERE customersessionid IS NOT NULL) AS customersessionid,
    ${min_by(chattype, ts)} FILTER (WHERE chattype IS NOT NULL) AS chattype,
    ${min_by(sessionchannel, ts)} FILTER (WHERE sessionchannel IS NOT NULL) AS sessionchannel,
    ${min_by(lang, ts)} FILTER (WHERE lang IS NOT NULL) AS lang,
    ${min_by(workflow, ts)} FILTER (WHERE workflow IS NOT NULL) AS workflow,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    count(*) AS messages,
    count(*) FILTER (WHERE lower(sendertype) = 'customer') AS customer_messages,
    count(*) FILTER (WHERE lower(sendertype) = 'bot') AS bot_messages,
    count(*) FILTER (WHERE lower(sendertype) = 'agent') AS agent_messages
  FROM messages
  GROUP BY sessionid
)
SELECT p.*, r.first_response_sec, r.avg_response_sec, coalesce(r.responses, 0) AS responses
FROM per_session p
LEFT JOIN responses r ON r.sessionid = p.sessionid
