-- Ultimate "Popular Metrics" (vendor document, seed 002), over bot_conversations (one row
-- per deduplicated conversation), as `cxkpi metrics bot`.
--
-- Kept as the vendor wrote it: exact, case-sensitive status values; a NULL status is in the
-- denominator but neither deflected nor escalated (NOT IN on NULL is NULL); the message
-- sums are SQL SUMs. Changed only where the vendor's SQL would fail or lose information: a
-- zero denominator gives NULL, and each rate's numerator is emitted beside it.
--
-- ${time}: the booking timestamp (--time start|end); ${status} / ${resolution}: the
-- compared texts (the columns, or their normalized form with --status-match normalized),
-- ${bot_handled} … ${automated}: the vendor's values in the same form; ${filters}:
-- --exclude-test, --bot-summary, and dropping conversations without a first meaningful
-- intent when it is a --by dimension (the vendor's inner join).
WITH d AS (
  SELECT *, ${bucket(${time})} AS bucket_us, ${status} AS s, ${resolution} AS r
  FROM bot_conversations
  WHERE ${range(${time})}${filters}
),
g AS (
  SELECT ${keys}
    count(*) AS total_conversations,
    count(*) FILTER (WHERE s = ${bot_handled}) AS bot_handled_conversations,
    count(*) FILTER (WHERE s NOT IN (${escalated})) AS deflected_conversations,
    count(*) FILTER (WHERE s IN (${escalated})) AS escalated_conversations,
    count(*) FILTER (WHERE s = ${failed_escalation}) AS failed_escalation_conversations,
    count(*) FILTER (WHERE r = ${informed}) AS informed_conversations,
    count(*) FILTER (WHERE r IN (${automated})) AS automated_conversations,
    sum(visitor_messages_count) AS visitor_messages,
    sum(not_understood_messages_count) AS not_understood_messages,
    count(*) FILTER (WHERE is_llm_conversation) AS llm_conversations,
    count(*) FILTER (WHERE is_llm_conversation AND llm_fallback_count > 0) AS llm_fallback_conversations,
    CAST(sum(${us(conversation_end_time)} - ${us(conversation_start_time)}) AS DOUBLE)
      / (count(${us(conversation_end_time)} - ${us(conversation_start_time)}) * 1e6) AS avg_duration_sec
  FROM d
  ${group}
)
SELECT ${out}
  total_conversations,
  bot_handled_conversations,
  CAST(bot_handled_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS bot_handled_rate,
  deflected_conversations,
  CAST(deflected_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS deflection_rate,
  escalated_conversations,
  CAST(escalated_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS escalation_rate,
  failed_escalation_conversations,
  CAST(failed_escalation_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS failed_escalation_rate,
  informed_conversations,
  CAST(informed_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS informed_rate,
  automated_conversations,
  CAST(automated_conversations AS DOUBLE) / NULLIF(total_conversations, 0) AS automation_rate,
  visitor_messages,
  not_understood_messages,
  visitor_messages - not_understood_messages AS understood_messages,
  CAST(visitor_messages - not_understood_messages AS DOUBLE) / NULLIF(visitor_messages, 0) AS messages_understood_rate,
  llm_conversations,
  llm_fallback_conversations,
  CAST(llm_fallback_conversations AS DOUBLE) / NULLIF(llm_conversations, 0) AS llm_fallback_rate,
  avg_duration_sec
FROM g
${order}
