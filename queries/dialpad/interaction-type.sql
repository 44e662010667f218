-- Dialpad "InteractionType" (bot vs agent): per chattype.
WITH i AS (
  SELECT ${bucket(first_ts)} AS bucket, chattype, count(*) AS interactions FROM interactions GROUP BY 1, 2
),
m AS (
  SELECT ${bucket(ts)} AS bucket, chattype, count(*) AS messages FROM messages GROUP BY 1, 2
)
SELECT coalesce(i.bucket, m.bucket) AS bucket, coalesce(i.chattype, m.chattype) AS chattype,
  coalesce(i.interactions, 0) AS interactions, coalesce(m.messages, 0) AS messages
FROM i FULL JOIN m ON i.bucket IS NOT DISTINCT FROM m.bucket AND i.chattype IS NOT DISTINCT FROM m.chattype
ORDER BY 1, 2
