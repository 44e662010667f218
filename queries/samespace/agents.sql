-- Agent session logs: sessions and logged-in time, booked by the session start.
SELECT ${bucket(start_time)} AS bucket,
  count(*) AS sessions,
  sum(session_duration_sec) AS logged_in_sec,
  avg(session_duration_sec) AS avg_session_sec,
  max(session_duration_sec) AS max_session_sec
FROM agent_sessions
GROUP BY 1
ORDER BY 1
