-- Test scaffolding: the canonical Samespace tables in DuckDB from the generator's plain twin
-- (`cxkpi generate samespace --reference FILE`, one line per record with its `_table`),
-- independently of cxkpi's reader (which reads the mongo-shell and Extended JSON files).
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_json('${ref}', format = 'newline_delimited', columns = {
  _table: 'VARCHAR', _file: 'VARCHAR', _pos: 'BIGINT', uuid: 'VARCHAR', direction: 'VARCHAR',
  team_name: 'VARCHAR', user_display_name: 'VARCHAR', start_us: 'BIGINT', answer_us: 'BIGINT',
  end_us: 'BIGINT', duration: 'DOUBLE', hold_duration: 'DOUBLE', mos: 'DOUBLE', status: 'VARCHAR',
  call_uuid: 'VARCHAR', acw_duration: 'DOUBLE', answer_id: 'VARCHAR', question_id: 'BIGINT',
  answer_text: 'VARCHAR', answered_us: 'BIGINT', id: 'VARCHAR', logout_reason: 'VARCHAR',
  session_duration: 'DOUBLE', user: 'VARCHAR', away_time: 'DOUBLE', acd: 'DOUBLE', acw: 'DOUBLE',
  asa: 'DOUBLE', avg_hold_time: 'DOUBLE', avg_ring_duration: 'DOUBLE',
  inbound_conversations: 'BIGINT', outbound_conversations: 'BIGINT'
});
CREATE OR REPLACE TABLE calls AS
SELECT uuid, direction, team_name, user_display_name,
  CAST(make_timestamp(start_us) AS TIMESTAMPTZ) AS start_time,
  CAST(make_timestamp(answer_us) AS TIMESTAMPTZ) AS answer_time,
  duration AS duration_sec, hold_duration AS hold_duration_sec, mos, status
FROM (
  SELECT *, row_number() OVER (PARTITION BY uuid ORDER BY _file DESC, _pos DESC) AS rn
  FROM raw WHERE _table = 'calls'
) WHERE rn = 1;
CREATE OR REPLACE TABLE csat_calls AS
SELECT call_uuid, acw_duration AS acw_duration_sec FROM raw WHERE _table = 'csat_calls';
CREATE OR REPLACE TABLE csat_answers AS
SELECT call_uuid, answer_id, question_id, answer_text, TRY_CAST(answer_text AS BIGINT) AS answer,
  CAST(make_timestamp(answered_us) AS TIMESTAMPTZ) AS answered_at, team_name, user_display_name,
  'question ' || question_id AS question
FROM raw WHERE _table = 'csat_answers';
CREATE OR REPLACE TABLE agent_sessions AS
SELECT id, user_display_name, CAST(make_timestamp(start_us) AS TIMESTAMPTZ) AS start_time,
  logout_reason, session_duration AS session_duration_sec
FROM raw WHERE _table = 'agent_sessions';
CREATE OR REPLACE TABLE productivity AS
SELECT "user", session_duration AS session_duration_sec, away_time AS away_time_sec, acd AS acd_sec,
  acw AS acw_sec, asa AS asa_sec, avg_hold_time AS avg_hold_time_sec,
  avg_ring_duration AS avg_ring_duration_sec, inbound_conversations, outbound_conversations
FROM raw WHERE _table = 'productivity';
