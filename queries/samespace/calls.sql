-- Call KPIs over Samespace calls joined to their CSAT record for after-call work.
-- duration includes hold, so AHT = duration + ACW over answered calls with an ACW value.
WITH c AS (
  SELECT calls.*, cc.acw_duration_sec,
    lower(calls.direction) IN ('in', 'inbound') AS inbound,
    lower(calls.direction) IN ('out', 'outbound') AS outbound,
    calls.answer_time IS NOT NULL AS answered,
    (epoch_us(calls.answer_time) - epoch_us(calls.start_time)) / 1e6 AS tta
  FROM calls LEFT JOIN csat_calls cc ON cc.call_uuid = calls.uuid
)
SELECT ${bucket(start_time)} AS bucket,
  count(*) AS calls,
  count(*) FILTER (WHERE inbound) AS inbound_calls,
  count(*) FILTER (WHERE outbound) AS outbound_calls,
  count(*) FILTER (WHERE answered) AS answered_calls,
  count(*) FILTER (WHERE inbound AND answered) AS answered_inbound,
  count(*) FILTER (WHERE inbound AND NOT answered) AS unanswered_inbound,
  CAST(count(*) FILTER (WHERE inbound AND answered) AS DOUBLE) / NULLIF(count(*) FILTER (WHERE inbound), 0) AS answer_rate,
  avg(duration_sec) FILTER (WHERE answered) AS avg_talk_sec,
  avg(hold_duration_sec) FILTER (WHERE answered) AS avg_hold_sec,
  count(*) FILTER (WHERE answered AND hold_duration_sec > 0) AS held_calls,
  CAST(count(*) FILTER (WHERE answered AND hold_duration_sec > 0) AS DOUBLE) / NULLIF(count(*) FILTER (WHERE answered), 0) AS hold_rate,
  count(*) FILTER (WHERE answered AND acw_duration_sec IS NOT NULL) AS acw_calls,
  avg(acw_duration_sec) FILTER (WHERE answered) AS avg_acw_sec,
  avg(duration_sec + acw_duration_sec) FILTER (WHERE answered) AS aht_sec,
  avg(tta) FILTER (WHERE inbound AND answered) AS avg_time_to_answer_sec,
  quantile_cont(tta, 0.5) FILTER (WHERE inbound AND answered) AS time_to_answer_p50_sec,
  quantile_cont(tta, 0.9) FILTER (WHERE inbound AND answered) AS time_to_answer_p90_sec,
  avg(mos) FILTER (WHERE answered) AS avg_mos
FROM c
GROUP BY 1
ORDER BY 1
