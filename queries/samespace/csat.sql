-- CSAT per question (never pooled). The scale of a question is the smallest of 5, 7, 10
-- holding its highest answer; top-2-box = answer >= scale - 1.
WITH scales AS (
  SELECT question_id,
    CASE WHEN max(answer) <= 5 THEN 5 WHEN max(answer) <= 7 THEN 7 WHEN max(answer) <= 10 THEN 10 END AS scale
  FROM csat_answers
  GROUP BY question_id
)
SELECT ${bucket(answered_at)} AS bucket, a.question_id,
  min(a.question) AS question,
  max(s.scale) AS scale_max,
  count(a.answer) AS responses,
  count(*) FILTER (WHERE a.answer_text IS NOT NULL AND a.answer IS NULL) AS non_numeric_answers,
  avg(a.answer) AS avg_score,
  count(*) FILTER (WHERE a.answer >= s.scale - 1) AS satisfied,
  CAST(count(*) FILTER (WHERE a.answer >= s.scale - 1) AS DOUBLE) / NULLIF(count(a.answer), 0) AS csat_share
FROM csat_answers a
LEFT JOIN scales s ON s.question_id IS NOT DISTINCT FROM a.question_id
GROUP BY 1, 2
ORDER BY 1, 2
