-- The "Popular Metrics" bucketed by local start day in a time zone (DuckDB dialect: the zone
-- conversion functions differ between engines). ${tz} is an IANA zone name. Days are local
-- calendar days, so a DST day has 23 or 25 hours. Conversations without a start time have no
-- day and are left out here.
SELECT
  CAST(timezone('${tz}', conversation_start_time) AS DATE) AS local_day,
  count(DISTINCT conversation_id) AS total_conversations,
  count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS bot_handled_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS bot_handled_rate,
  CAST(count(DISTINCT CASE WHEN conversation_status NOT IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS deflection_rate,
  CAST(count(DISTINCT CASE WHEN conversation_status IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS escalation_rate,
  CAST(count(DISTINCT CASE WHEN conversation_status = 'failedEscalation' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS failed_escalation_rate,
  CAST(count(DISTINCT CASE WHEN last_resolution = 'informed' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS informed_rate,
  CAST(count(DISTINCT CASE WHEN last_resolution IN ('informed', 'resolved') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS automation_rate,
  CAST(sum(visitor_messages_count) - sum(not_understood_messages_count) AS DOUBLE)
    / NULLIF(sum(visitor_messages_count), 0) AS messages_understood_rate
FROM bot_conversations
WHERE conversation_start_time IS NOT NULL
GROUP BY 1
ORDER BY 1
