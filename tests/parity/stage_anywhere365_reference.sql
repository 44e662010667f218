-- Test scaffolding: the canonical dialogues table in DuckDB from the generator's plain twin
-- (`cxkpi generate anywhere365 --reference FILE`), independently of cxkpi's reader. A page
-- delivered twice repeats dialogues; the later delivery is kept per id.
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_json('${ref}', format = 'newline_delimited', columns = {
  _file: 'VARCHAR', _pos: 'BIGINT', id: 'VARCHAR', order_number: 'BIGINT', start_us: 'BIGINT',
  queue_enter_us: 'BIGINT', accept_us: 'BIGINT', end_us: 'BIGINT', ivr_sec: 'DOUBLE',
  queue_sec: 'DOUBLE', initial_talk_sec: 'DOUBLE', session_sec: 'DOUBLE', ivr_id: 'VARCHAR',
  queue_id: 'VARCHAR', agent_id: 'VARCHAR', customer_id: 'VARCHAR', direction: 'VARCHAR',
  outcome: 'VARCHAR', in_sla: 'BOOLEAN', quick_drop: 'BOOLEAN'
});
CREATE OR REPLACE TABLE dialogues AS
SELECT id, order_number,
  CAST(make_timestamp(start_us) AS TIMESTAMPTZ) AS start_time,
  ivr_sec, queue_sec, initial_talk_sec, session_sec,
  CASE WHEN lower(outcome) = 'abandoned' THEN (end_us - queue_enter_us) / 1e6 END AS abandon_wait_sec,
  ivr_id, queue_id, customer_id, agent_id, direction, outcome, in_sla, quick_drop
FROM (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY _file DESC, _pos DESC) AS rn FROM raw
) WHERE rn = 1;
