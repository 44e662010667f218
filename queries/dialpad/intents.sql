-- Dialpad "Intents": messages carrying each topic, and their mean score; ${intent_type}
-- keeps the messages of bot or of agent interactions (the message's chattype).
SELECT ${bucket(ts)} AS bucket, topic, count(*) AS intents, avg(score) AS avg_score
FROM messages
WHERE topic IS NOT NULL AND topic <> ''
  AND (${intent_type} IS NULL OR lower(chattype) = ${intent_type})
GROUP BY 1, 2
ORDER BY 1, 2
