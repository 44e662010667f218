-- The productivity report recombined with weights (never an average of averages): ASA and
-- ring by inbound conversations, ACD, ACW and hold by all conversations.
WITH p AS (
  SELECT *, coalesce(inbound_conversations, 0) + coalesce(outbound_conversations, 0) AS conversations
  FROM productivity
)
SELECT
  count(*) AS records,
  sum(session_duration_sec) AS session_sec,
  sum(away_time_sec) AS away_sec,
  sum(away_time_sec) / NULLIF(sum(session_duration_sec), 0) AS away_share,
  sum(inbound_conversations) AS inbound_conversations,
  sum(outbound_conversations) AS outbound_conversations,
  sum(asa_sec * inbound_conversations) / NULLIF(sum(inbound_conversations) FILTER (WHERE asa_sec IS NOT NULL), 0) AS asa_sec,
  sum(avg_ring_duration_sec * inbound_conversations) / NULLIF(sum(inbound_conversations) FILTER (WHERE avg_ring_duration_sec IS NOT NULL), 0) AS avg_ring_sec,
  sum(acd_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE acd_sec IS NOT NULL), 0) AS acd_sec,
  sum(acw_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE acw_sec IS NOT NULL), 0) AS acw_sec,
  sum(avg_hold_time_sec * conversations) / NULLIF(sum(conversations) FILTER (WHERE avg_hold_time_sec IS NOT NULL), 0) AS avg_hold_sec
FROM p
