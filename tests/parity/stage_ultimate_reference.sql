-- Test scaffolding, not a vendor query: builds the canonical tables bot_conversations and
-- bot_intents in DuckDB from the generator's plain reference twin (`cxkpi generate ultimate
-- --reference FILE`), independently of cxkpi's own reader. The twin holds every delivered
-- record, duplicates included, in plain notation; deduplication is done here in SQL: the
-- copy with the latest end time wins, then the later file, then the later record.
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_json('${ref}', format = 'newline_delimited', columns = {
  _file: 'VARCHAR', _pos: 'BIGINT', conversation_id: 'VARCHAR', bot_id: 'VARCHAR',
  bot_name: 'VARCHAR', channel: 'VARCHAR', language: 'VARCHAR', start_us: 'BIGINT',
  end_us: 'BIGINT', test_mode: 'BOOLEAN', conversation_status: 'VARCHAR',
  last_resolution: 'VARCHAR', is_llm_conversation: 'BOOLEAN',
  llm_notunderstood_count: 'BIGINT', llm_responsegenerated_count: 'BIGINT',
  llm_erroroccurred_count: 'BIGINT', llm_escalationrequired_count: 'BIGINT',
  llm_fallback_count: 'BIGINT', bot_messages_count: 'BIGINT',
  visitor_messages_count: 'BIGINT', not_understood_messages_count: 'BIGINT',
  triggered_intent_replies: 'STRUCT(intent_timestamp_us BIGINT, intent_id VARCHAR, intent_name VARCHAR, not_meaningful BOOLEAN)[]'
});
CREATE OR REPLACE TABLE kept AS
SELECT * EXCLUDE (rn) FROM (
  SELECT *, row_number() OVER (
    PARTITION BY conversation_id ORDER BY end_us DESC NULLS LAST, _file DESC, _pos DESC) AS rn
  FROM raw
) WHERE rn = 1;
CREATE OR REPLACE TABLE bot_conversations AS
SELECT conversation_id, bot_id, bot_name, channel, language,
  CAST(make_timestamp(start_us) AS TIMESTAMPTZ) AS conversation_start_time,
  CAST(make_timestamp(end_us) AS TIMESTAMPTZ) AS conversation_end_time,
  test_mode, conversation_status, last_resolution, is_llm_conversation, llm_fallback_count,
  bot_messages_count, visitor_messages_count, not_understood_messages_count
FROM kept;
CREATE OR REPLACE TABLE bot_intents AS
SELECT conversation_id, position, it.intent_id AS intent_id, it.intent_name AS intent_name,
  CAST(make_timestamp(it.intent_timestamp_us) AS TIMESTAMPTZ) AS intent_timestamp,
  it.not_meaningful AS not_meaningful
FROM (
  SELECT conversation_id,
    unnest(range(len(triggered_intent_replies))) AS position,
    unnest(triggered_intent_replies) AS it
  FROM kept
  WHERE len(triggered_intent_replies) > 0
);
