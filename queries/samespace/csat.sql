-- CSAT per question (never pooled), as `cxkpi metrics csat` (question_id leads the
-- breakdown). A response is an answer that is a whole number from 0 to 10 (`score`):
-- other whole numbers are counted as out of range and left out. The scale of a question
-- is the smallest of 5, 7, 10 holding its highest response over all answers; top-2-box =
-- score >= scale - 1. `question` is one of the question's texts (they are one text per
-- question in the exports).
WITH scored AS (
  SELECT *, CASE WHEN answer BETWEEN 0 AND 10 THEN answer END AS score
  FROM csat_answers
),
scales AS (
  SELECT question_id,
    CASE WHEN max(score) <= 5 THEN 5 WHEN max(score) <= 7 THEN 7 WHEN max(score) <= 10 THEN 10 END AS scale
  FROM scored
  GROUP BY question_id
),
d AS (
  SELECT a.*, s.scale, ${bucket(a.answered_at)} AS bucket_us
  FROM scored a
  LEFT JOIN scales s ON s.question_id IS NOT DISTINCT FROM a.question_id
  WHERE ${range(a.answered_at)}
),
g AS (
  SELECT ${keys}
    min(question) AS question,
    max(scale) AS scale_max,
    count(score) AS responses,
    count(*) FILTER (WHERE answer_text IS NOT NULL AND answer IS NULL) AS non_numeric_answers,
    count(*) FILTER (WHERE answer IS NOT NULL AND score IS NULL) AS out_of_range_answers,
    avg(score) AS avg_score,
    count(*) FILTER (WHERE score >= scale - 1) AS satisfied
  FROM d
  ${group}
)
SELECT ${out}
  question, scale_max, responses, non_numeric_answers, out_of_range_answers, avg_score, satisfied,
  CAST(satisfied AS DOUBLE) / NULLIF(responses, 0) AS csat_share
FROM g
${order}
