-- Call KPIs over Samespace calls joined to their CSAT record for after-call work, as
-- `cxkpi metrics calls`. duration includes hold, so AHT = duration + ACW over answered
-- calls with an ACW value (a missing ACW is not taken as 0).
WITH d AS (
  SELECT calls.*, cc.acw_duration_sec,
    ${bucket(calls.start_time)} AS bucket_us,
    lower(calls.direction) IN ('in', 'inbound') AS inbound,
    lower(calls.direction) IN ('out', 'outbound') AS outbound,
    calls.answer_time IS NOT NULL AS answered,
    (${us(calls.answer_time)} - ${us(calls.start_time)}) / 1e6 AS tta
  FROM calls LEFT JOIN csat_calls cc ON cc.call_uuid = calls.uuid
  WHERE ${range(calls.start_time)}
),
g AS (
  SELECT ${keys}
    count(*) AS calls,
    count(*) FILTER (WHERE inbound) AS inbound_calls,
    count(*) FILTER (WHERE outbound) AS outbound_calls,
    count(*) FILTER (WHERE answered) AS answered_calls,
    count(*) FILTER (WHERE inbound AND answered) AS answered_inbound,
    count(*) FILTER (WHERE inbound AND NOT answered) AS unanswered_inbound,
    avg(duration_sec) FILTER (WHERE answered) AS avg_talk_sec,
    avg(hold_duration_sec) FILTER (WHERE answered) AS avg_hold_sec,
    count(*) FILTER (WHERE answered AND hold_duration_sec > 0) AS held_calls,
    count(*) FILTER (WHERE answered AND acw_duration_sec IS NOT NULL) AS acw_calls,
    avg(acw_duration_sec) FILTER (WHERE answered) AS avg_acw_sec,
    avg(duration_sec + acw_duration_sec) FILTER (WHERE answered) AS aht_sec,
    avg(tta) FILTER (WHERE inbound AND answered) AS avg_time_to_answer_sec,
    ${quantile(tta, 0.5)} FILTER (WHERE inbound AND answered) AS time_to_answer_p50_sec,
    ${quantile(tta, 0.9)} FILTER (WHERE inbound AND answered) AS time_to_answer_p90_sec,
    avg(mos) FILTER (WHERE answered) AS avg_mos
  FROM d
  ${group}
)
SELECT ${out}
  calls, inbound_calls, outbound_calls, answered_calls, answered_inbound, unanswered_inbound,
  CAST(answered_inbound AS DOUBLE) / NULLIF(inbound_calls, 0) AS answer_rate,
  avg_talk_sec, avg_hold_sec, held_calls,
  CAST(held_calls AS DOUBLE) / NULLIF(answered_calls, 0) AS hold_rate,
  acw_calls, avg_acw_sec, aht_sec,
  avg_time_to_answer_sec, time_to_answer_p50_sec, time_to_answer_p90_sec, avg_mos
FROM g
${order}
