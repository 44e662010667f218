-- Agent interactions: first and average response times, mean and exact percentiles
-- (linear interpolation).
SELECT ${bucket(first_ts)} AS bucket,
  count(*) AS agent_interactions,
  count(first_response_sec) AS answered_interactions,
  avg(first_response_sec) AS first_response_mean_sec,
  quantile_cont(first_response_sec, 0.5) AS first_response_p50_sec,
  quantile_cont(first_response_sec, 0.9) AS first_response_p90_sec,
  avg(avg_response_sec) AS avg_response_mean_sec,
  quantile_cont(avg_response_sec, 0.5) AS avg_response_p50_sec,
  quantile_cont(avg_response_sec, 0.9) AS avg_response_p90_sec
FROM interactions
WHERE lower(chattype) = 'agent'
GROUP BY 1
ORDER BY 1
