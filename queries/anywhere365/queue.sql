-- Queue KPIs over Anywhere365 dialogues, with the export's own InSLA / QuickDrop flags.
-- DuckDB dialect; ${bucket(COL)} is the bucket of the booking timestamp (see queries/dialpad/README.md).
WITH d AS (
  SELECT *, lower(outcome) = 'accepted' AS acc, lower(outcome) = 'abandoned' AS ab
  FROM dialogues
  WHERE direction = 'inbound'
),
g AS (
  SELECT ${bucket(start_time)} AS bucket,
    count(*) AS inbound_dialogues,
    count(*) FILTER (WHERE acc) AS accepted,
    count(*) FILTER (WHERE ab) AS abandoned,
    count(*) FILTER (WHERE lower(outcome) = 'ivrdrop') AS ivr_drops,
    count(*) FILTER (WHERE acc AND in_sla) AS in_sla,
    count(*) FILTER (WHERE acc AND in_sla IS NOT NULL) AS sla_accepted_known,
    count(*) FILTER (WHERE ab AND quick_drop) AS quick_drops,
    avg(queue_sec) FILTER (WHERE acc) AS asa_sec,
    quantile_cont(queue_sec, 0.5) FILTER (WHERE acc) AS queue_p50_sec,
    quantile_cont(queue_sec, 0.9) FILTER (WHERE acc) AS queue_p90_sec,
    avg(initial_talk_sec) FILTER (WHERE acc) AS avg_talk_sec,
    avg(ivr_sec) AS avg_ivr_sec,
    max(CASE WHEN acc THEN queue_sec WHEN ab THEN abandon_wait_sec END) AS max_queue_sec
  FROM d
  GROUP BY 1
)
SELECT bucket, inbound_dialogues, accepted + abandoned AS offered, accepted, abandoned, ivr_drops,
  in_sla, sla_accepted_known, CAST(in_sla AS DOUBLE) / NULLIF(sla_accepted_known, 0) AS sla_share,
  quick_drops, CAST(quick_drops AS DOUBLE) / NULLIF(abandoned, 0) AS quick_drop_share,
  CAST(abandoned AS DOUBLE) / NULLIF(accepted + abandoned, 0) AS abandon_rate,
  CAST(abandoned - quick_drops AS DOUBLE) / NULLIF(accepted + abandoned - quick_drops, 0) AS abandon_rate_excl_quick,
  asa_sec, queue_p50_sec, queue_p90_sec, avg_talk_sec, avg_ivr_sec, max_queue_sec
FROM g
ORDER BY 1
