-- Dialpad "CustomerEndpoint": per sessionchannel, interactions booked by their first message.
SELECT ${bucket(first_ts)} AS bucket, sessionchannel, count(*) AS interactions,
  count(DISTINCT customersessionid) AS customer_sessions
FROM interactions
GROUP BY 1, 2
ORDER BY 1, 2
