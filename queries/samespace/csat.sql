-- CSAT per question (never pooled), as `cxkpi metrics csat` (question_id leads the
-- breakdown). The scale of a question is the smallest of 5, 7, 10 holding its highest
-- answer over all answers; top-2-box = answer >= scale - 1. `question` is one of the
-- question's texts (they are one text per question in the exports).
WITH scales AS (
  SELECT question_id,
    CASE WHEN max(answer) <= 5 THEN 5 WHEN max(answer) <= 7 THEN 7 WHEN max(answer) <= 10 THEN 10 END AS scale
  FROM csat_answers
  GROUP BY question_id
),
d AS (
  SELECT a.*, s.scale, ${bucket(a.answered_at)} AS bucket_us
  FROM csat_answers a
  LEFT JOIN scales s ON s.question_id IS NOT DISTINCT FROM a.question_id
  WHERE ${range(a.answered_at)}
),
g AS (
  SELECT ${keys}
    min(question) AS question,
    max(scale) AS scale_max,
    count(answer) AS responses,
    count(*) FILTER (WHERE answer_text IS NOT NULL AND answer IS NULL) AS non_numeric_answers,
    avg(answer) AS avg_score,
    count(*) FILTER (WHERE answer >= scale - 1) AS satisfied
  FROM d
  ${group}
)
SELECT ${out}
  question, scale_max, responses, non_numeric_answers, avg_score, satisfied,
  CAST(satisfied AS DOUBLE) / NULLIF(responses, 0) AS csat_share
FROM g
${order}
