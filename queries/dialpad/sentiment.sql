-- Sentiment of customer messages; shares over those with a sentiment.
SELECT ${bucket(ts)} AS bucket,
  count(*) AS customer_messages,
  count(sentiment) AS scored_messages,
  avg(sentiment) AS avg_sentiment,
  count(*) FILTER (WHERE sentiment < 0) AS negative_messages,
  CAST(count(*) FILTER (WHERE sentiment < 0) AS DOUBLE) / NULLIF(count(sentiment), 0) AS negative_share,
  count(*) FILTER (WHERE sentiment = 0) AS neutral_messages,
  CAST(count(*) FILTER (WHERE sentiment = 0) AS DOUBLE) / NULLIF(count(sentiment), 0) AS neutral_share,
  count(*) FILTER (WHERE sentiment > 0) AS positive_messages,
  CAST(count(*) FILTER (WHERE sentiment > 0) AS DOUBLE) / NULLIF(count(sentiment), 0) AS positive_share
FROM messages
WHERE lower(sendertype) = 'customer'
GROUP BY 1
ORDER BY 1
