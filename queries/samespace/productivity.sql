-- The productivity report recombined with weights (never an average of averages), as
-- `cxkpi metrics agents --source productivity`: ASA and ring by inbound conversations,
-- ACD, ACW and hold by all conversations. The report has no timestamps: no range, no
-- buckets.
WITH d AS (
  SELECT *, coalesce(inbound_conversations, 0) + coalesce(outbound_conversations, 0) AS conversations
  FROM productivity
),
g AS (
  SELECT ${keys}
    count(*) AS records,
    sum(session_duration_sec) AS session_sec,
    sum(away_time_sec) AS away_sec,
    sum(inbound_conversations) AS inbound_conversations,
    sum(outbound_conversations) AS outbound_conversations,
    sum(asa_sec * inbound_conversations) / NULLIF(sum(inbound_conversations) FILTER (WHERE asa_sec IS NOT NULL), 0) AS asa_sec,
    sum(avg_ring_duration_sec * inbound_conversations) / NULLIF(sum(inbound_conversations) FILTER (WHERE avg_ring_duration_sec IS NOT NULL), 0) AS avg_ring_sec,
    sum(acd_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE acd_sec IS NOT NULL), 0) AS acd_sec,
    sum(acw_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE acw_sec IS NOT NULL), 0) AS acw_sec,
    sum(avg_hold_time_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE avg_hold_time_sec IS NOT NULL), 0) AS avg_hold_sec
  FROM d
  ${group}
)
SELECT ${out}
  records, session_sec, away_sec,
  CAST(away_sec AS DOUBLE) / NULLIF(session_sec, 0) AS away_share,
  inbound_conversations, outbound_conversations, asa_sec, avg_ring_sec, acd_sec, acw_sec, avg_hold_sec
FROM g
${order}
