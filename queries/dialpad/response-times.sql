-- Agent interactions' first and average response times, as `cxkpi metrics messaging
-- --view response-times`: means and exact percentiles (linear interpolation).
WITH d AS (
  SELECT *, ${bucket(first_ts)} AS bucket_us
  FROM interactions
  WHERE ${range(first_ts)} AND lower(chattype) = 'agent'
),
g AS (
  SELECT ${keys}
    count(*) AS agent_interactions,
    count(first_response_sec) AS answered_interactions,
    avg(first_response_sec) AS first_response_mean_sec,
    ${quantile(first_response_sec, 0.5)} AS first_response_p50_sec,
    ${quantile(first_response_sec, 0.9)} AS first_response_p90_sec,
    avg(avg_response_sec) AS avg_response_mean_sec,
    ${quantile(avg_response_sec, 0.5)} AS avg_response_p50_sec,
    ${quantile(avg_response_sec, 0.9)} AS avg_response_p90_sec
  FROM d
  ${group}
)
SELECT ${out}
  agent_interactions, answered_interactions,
  first_response_mean_sec, first_response_p50_sec, first_response_p90_sec,
  avg_response_mean_sec, avg_response_p50_sec, avg_response_p90_sec
FROM g
${order}
