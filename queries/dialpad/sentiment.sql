-- Sentiment of customer messages, as `cxkpi metrics messaging --view sentiment`; shares
-- over the messages with a sentiment.
WITH d AS (
  SELECT *, ${bucket(ts)} AS bucket_us
  FROM messages
  WHERE ${range(ts)} AND lower(sendertype) = 'customer'
),
g AS (
  SELECT ${keys}
    count(*) AS customer_messages,
    count(sentiment) AS scored_messages,
    avg(sentiment) AS avg_sentiment,
    count(*) FILTER (WHERE sentiment < 0) AS negative_messages,
    count(*) FILTER (WHERE sentiment = 0) AS neutral_messages,
    count(*) FILTER (WHERE sentiment > 0) AS positive_messages
  FROM d
  ${group}
)
SELECT ${out}
  customer_messages, scored_messages, avg_sentiment,
  negative_messages, CAST(negative_messages AS DOUBLE) / NULLIF(scored_messages, 0) AS negative_share,
  neutral_messages, CAST(neutral_messages AS DOUBLE) / NULLIF(scored_messages, 0) AS neutral_share,
  positive_messages, CAST(positive_messages AS DOUBLE) / NULLIF(scored_messages, 0) AS positive_share
FROM g
${order}
