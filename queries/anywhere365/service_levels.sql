-- Service level recomputed from queue time with threshold ${t} seconds, quick drops from the
-- abandon wait with threshold ${q} seconds, and the named variants v1..v6 (README, "Queue KPIs").
WITH d AS (
  SELECT *, lower(outcome) = 'accepted' AS acc, lower(outcome) = 'abandoned' AS ab
  FROM dialogues
  WHERE direction = 'inbound'
),
g AS (
  SELECT ${bucket(start_time)} AS bucket,
    count(*) FILTER (WHERE acc) AS a,
    count(*) FILTER (WHERE ab) AS ab,
    count(*) FILTER (WHERE acc AND queue_sec <= ${t}) AS awt,
    count(*) FILTER (WHERE acc AND queue_sec IS NOT NULL) AS known,
    count(*) FILTER (WHERE ab AND abandon_wait_sec <= ${q}) AS sh,
    count(*) FILTER (WHERE ab AND abandon_wait_sec <= ${t}) AS abt
  FROM d
  GROUP BY 1
)
SELECT bucket,
  awt AS in_sla_t, known AS sla_accepted_known_t, CAST(awt AS DOUBLE) / NULLIF(known, 0) AS sla_share_t,
  sh AS quick_drops_q, CAST(sh AS DOUBLE) / NULLIF(ab, 0) AS quick_drop_share_q,
  CAST(ab - sh AS DOUBLE) / NULLIF(a + ab - sh, 0) AS abandon_rate_excl_quick_q,
  CAST(awt AS DOUBLE) / NULLIF(a, 0) AS v1,
  CAST(awt AS DOUBLE) / NULLIF(a + ab, 0) AS v2,
  CAST(awt AS DOUBLE) / NULLIF(a + ab - sh, 0) AS v3,
  CAST(awt AS DOUBLE) / NULLIF(a + ab - abt, 0) AS v4,
  CAST(awt + abt AS DOUBLE) / NULLIF(a + ab, 0) AS v5,
  CAST(awt AS DOUBLE) / NULLIF(a + ab, 0) AS v6
FROM g
ORDER BY 1
