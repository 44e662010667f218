-- The interactions table (one row per sessionid) derived from messages, as cxkpi derives it.
-- Response times follow customer turns: a turn starts at the first customer message after
-- the previous agent message of the segment and is answered by the next agent message.
WITH ordered AS (
  SELECT sessionid, ts, sendertype,
    max(CASE WHEN lower(sendertype) = 'agent' THEN ts END) OVER (
      PARTITION BY sessionid ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS prev_agent_ts
  FROM messages
),
turns AS (
  SELECT a.sessionid, a.ts AS agent_ts,
    (SELECT min(c.ts) FROM messages c
      WHERE c.sessionid = a.sessionid AND lower(c.sendertype) = 'customer'
        AND c.ts <= a.ts AND (a.prev_agent_ts IS NULL OR c.ts > a.prev_agent_ts)) AS turn_start
  FROM ordered a
  WHERE lower(a.sendertype) = 'agent' AND a.ts IS NOT NULL
),
answered AS (
  SELECT sessionid, (epoch_us(agent_ts) - epoch_us(turn_start)) / 1e6 AS response_sec,
    row_number() OVER (PARTITION BY sessionid ORDER BY agent_ts) AS k
  FROM turns
  WHERE turn_start IS NOT NULL
),
responses AS (
  SELECT sessionid,
    max(CASE WHEN k = 1 THEN response_sec END) AS first_response_sec,
    avg(response_sec) AS avg_response_sec,
    count(*) AS responses
  FROM answered
  GROUP BY sessionid
),
per_session AS (
  SELECT sessionid,
    any_value(conversation_id) AS conversation_id,
    any_value(segment) AS segment,
    arg_min(customersessionid, ts) FILTER (WHERE customersessionid IS NOT NULL) AS customersessionid,
    arg_min(chattype, ts) FILTER (WHERE chattype IS NOT NULL) AS chattype,
    arg_min(sessionchannel, ts) FILTER (WHERE sessionchannel IS NOT NULL) AS sessionchannel,
    arg_min(lang, ts) FILTER (WHERE lang IS NOT NULL) AS lang,
    arg_min(workflow, ts) FILTER (WHERE workflow IS NOT NULL) AS workflow,
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
