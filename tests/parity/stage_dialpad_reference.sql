-- Test scaffolding: the canonical messages table in DuckDB from the generator's plain
-- reference twin (`cxkpi generate dialpad --reference FILE`), independently of cxkpi's
-- reader. Overlapping pulls delivered some messages more than once: one copy is kept per
-- (sessionid, ts, sendertype, text).
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_json('${ref}', format = 'newline_delimited', columns = {
  _file: 'VARCHAR', _pos: 'BIGINT', sessionid: 'VARCHAR', customersessionid: 'VARCHAR',
  ts_us: 'BIGINT', sendertype: 'VARCHAR', chattype: 'VARCHAR', text: 'VARCHAR',
  sentiment: 'DOUBLE', topic: 'VARCHAR', score: 'DOUBLE', lang: 'VARCHAR',
  workflow: 'VARCHAR', sessionchannel: 'VARCHAR'
});
CREATE OR REPLACE TABLE messages AS
SELECT sessionid,
  split_part(sessionid, '.', 1) AS conversation_id,
  CAST(split_part(sessionid, '.', 2) AS BIGINT) AS segment,
  customersessionid,
  CAST(make_timestamp(ts_us) AS TIMESTAMPTZ) AS ts,
  sendertype, chattype, text, sentiment, topic, score, lang, workflow, sessionchannel
FROM (
  SELECT *, row_number() OVER (
    PARTITION BY sessionid, ts_us, sendertype, text ORDER BY _file DESC, _pos DESC) AS rn
  FROM raw
) WHERE rn = 1;
