-- Agent session logs, as `cxkpi metrics agents` (--source logs): sessions and logged-in
-- time, booked by the session start.
WITH d AS (
  SELECT *, ${bucket(start_time)} AS bucket_us
  FROM agent_sessions
  WHERE ${range(start_time)}
),
g AS (
  SELECT ${keys}
    count(*) AS sessions,
    sum(session_duration_sec) AS logged_in_sec,
    avg(session_duration_sec) AS avg_session_sec,
    max(session_duration_sec) AS max_session_sec
  FROM d
  ${group}
)
SELECT ${out} sessions, logged_in_sec, avg_session_sec, max_session_sec
FROM g
${order}
