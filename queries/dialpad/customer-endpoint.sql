-- Dialpad "CustomerEndpoint", as `cxkpi metrics messaging --view customer-endpoint`:
-- interactions booked by their first message, per sessionchannel (which leads the
-- breakdown).
WITH d AS (
  SELECT *, ${bucket(first_ts)} AS bucket_us
  FROM interactions
  WHERE ${range(first_ts)}
),
g AS (
  SELECT ${keys}
    count(*) AS interactions,
    count(DISTINCT customersessionid) AS customer_sessions
  FROM d
  ${group}
)
SELECT ${out} interactions, customer_sessions
FROM g
${order}
