-- Queue KPIs over Anywhere365 dialogues, as `cxkpi metrics queue` (formulas: README,
-- "Queue KPIs"). ${direction}: the --direction filter. ${in_sla} / ${sla_known}: the
-- export's InSLA flag, or queue_sec <= --sla-threshold; ${quick}: the export's QuickDrop,
-- or abandon_wait_sec <= --quick-drop-threshold; ${sla} / ${q}: the matching column-name
-- suffixes. ${t}: the service-level variants' threshold; ${service_levels}: the
-- --service-level variants' columns (num, den and rate of each).
WITH d AS (
  SELECT *, ${bucket(start_time)} AS bucket_us,
    lower(outcome) = 'accepted' AS acc, lower(outcome) = 'abandoned' AS ab
  FROM dialogues
  WHERE ${range(start_time)}${direction}
),
g AS (
  SELECT ${keys}
    count(*) AS inbound_dialogues,
    count(*) FILTER (WHERE acc) AS accepted,
    count(*) FILTER (WHERE ab) AS abandoned,
    count(*) FILTER (WHERE lower(outcome) = 'ivrdrop') AS ivr_drops,
    count(*) FILTER (WHERE acc AND ${in_sla}) AS in_sla,
    count(*) FILTER (WHERE acc AND ${sla_known}) AS sla_accepted_known,
    count(*) FILTER (WHERE ab AND ${quick}) AS quick_drops,
    count(*) FILTER (WHERE acc AND queue_sec <= ${t}) AS awt,
    count(*) FILTER (WHERE ab AND abandon_wait_sec <= ${t}) AS abt,
    avg(queue_sec) FILTER (WHERE acc) AS asa_sec,
    ${quantile(queue_sec, 0.5)} FILTER (WHERE acc) AS queue_p50_sec,
    ${quantile(queue_sec, 0.9)} FILTER (WHERE acc) AS queue_p90_sec,
    avg(initial_talk_sec) FILTER (WHERE acc) AS avg_talk_sec,
    avg(ivr_sec) AS avg_ivr_sec,
    max(CASE WHEN acc THEN queue_sec WHEN ab THEN abandon_wait_sec END) AS max_queue_sec
  FROM d
  ${group}
)
SELECT ${out}
  inbound_dialogues,
  accepted + abandoned AS offered,
  accepted,
  abandoned,
  ivr_drops,
  in_sla AS in_sla${sla},
  sla_accepted_known AS sla_accepted_known${sla},
  CAST(in_sla AS DOUBLE) / NULLIF(sla_accepted_known, 0) AS sla_share${sla},
  quick_drops AS quick_drops${q},
  CAST(quick_drops AS DOUBLE) / NULLIF(abandoned, 0) AS quick_drop_share${q},
  CAST(abandoned AS DOUBLE) / NULLIF(accepted + abandoned, 0) AS abandon_rate,
  CAST(abandoned - quick_drops AS DOUBLE) / NULLIF(accepted + abandoned - quick_drops, 0) AS abandon_rate_excl_quick${q},
  asa_sec,
  queue_p50_sec,
  queue_p90_sec,
  avg_talk_sec,
  avg_ivr_sec,
  max_queue_sec${service_levels}
FROM g
${order}
