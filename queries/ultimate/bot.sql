-- Ultimate "Popular Metrics" (vendor document, seed 002), ported from BigQuery to portable SQL
-- over the canonical table bot_conversations (one row per deduplicated conversation).
--
-- Kept exactly as the vendor wrote it: exact, case-sensitive status values; a NULL status is
-- in the denominator but neither deflected nor escalated (NOT IN / IN on NULL is NULL); the
-- message sums are SQL SUMs (NULLs skipped, each sum on its own). Changed only where the
-- vendor's SQL would fail or lose information: a zero denominator gives NULL (NULLIF) instead
-- of BigQuery's division error, and each rate's numerator is emitted beside it.
SELECT
  count(DISTINCT conversation_id) AS total_conversations,
  count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS bot_handled_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status = 'botHandled' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS bot_handled_rate,
  count(DISTINCT CASE WHEN conversation_status NOT IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS deflected_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status NOT IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS deflection_rate,
  count(DISTINCT CASE WHEN conversation_status IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS escalated_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status IN ('email', 'agent', 'customEscalation') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS escalation_rate,
  count(DISTINCT CASE WHEN conversation_status = 'failedEscalation' THEN conversation_id END) AS failed_escalation_conversations,
  CAST(count(DISTINCT CASE WHEN conversation_status = 'failedEscalation' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS failed_escalation_rate,
  count(DISTINCT CASE WHEN last_resolution = 'informed' THEN conversation_id END) AS informed_conversations,
  CAST(count(DISTINCT CASE WHEN last_resolution = 'informed' THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS informed_rate,
  count(DISTINCT CASE WHEN last_resolution IN ('informed', 'resolved') THEN conversation_id END) AS automated_conversations,
  CAST(count(DISTINCT CASE WHEN last_resolution IN ('informed', 'resolved') THEN conversation_id END) AS DOUBLE)
    / NULLIF(count(DISTINCT conversation_id), 0) AS automation_rate,
  sum(visitor_messages_count) AS visitor_messages,
  sum(not_understood_messages_count) AS not_understood_messages,
  sum(visitor_messages_count) - sum(not_understood_messages_count) AS understood_messages,
  CAST(sum(visitor_messages_count) - sum(not_understood_messages_count) AS DOUBLE)
    / NULLIF(sum(visitor_messages_count), 0) AS messages_understood_rate
FROM bot_conversations
