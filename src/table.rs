//! The canonical tables: one declaration per table, from which the Arrow schema, the README
//! table reference and (later) engine DDL are all derived, so they cannot drift apart.
//!
//! Conventions: snake_case names; instants are `Timestamp(Microsecond, "UTC")`; durations are
//! Float64 seconds named `*_sec`; counts Int64; JSON-in-string fields kept verbatim as Utf8.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The logical type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Utf8,
    Int64,
    Float64,
    Bool,
    /// UTC instant, microseconds.
    Timestamp,
    /// A list of strings.
    Utf8List,
}

impl Kind {
    pub fn arrow(self) -> DataType {
        match self {
            Kind::Utf8 => DataType::Utf8,
            Kind::Int64 => DataType::Int64,
            Kind::Float64 => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Utf8List => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            Kind::Utf8 => "VARCHAR",
            Kind::Int64 => "BIGINT",
            Kind::Float64 => "DOUBLE",
            Kind::Bool => "BOOLEAN",
            Kind::Timestamp => "TIMESTAMP WITH TIME ZONE",
            Kind::Utf8List => "VARCHAR[]",
        }
    }
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// Where the value comes from, for the README and `cxkpi ddl` comments.
    pub source: &'static str,
}

#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub grain: &'static str,
    pub columns: &'static [Column],
}

impl TableDef {
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.kind.arrow(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }
}

const fn col(name: &'static str, kind: Kind, source: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        source,
    }
}

const fn key(name: &'static str, kind: Kind, source: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        source,
    }
}

use Kind::*;

pub const BOT_CONVERSATIONS: TableDef = TableDef {
    name: "bot_conversations",
    grain: "one row per conversation_id; a conversation delivered again (another file, a \
            grown day file) counts once: the copy with the latest conversation_end_time wins, \
            then the later file",
    columns: &[
        key("conversation_id", Utf8, "conversation_id"),
        col("platform_conversation_id", Utf8, "platform_conversation_id (numbers kept as text)"),
        col("bot_id", Utf8, "bot_id"),
        col("bot_name", Utf8, "bot_name"),
        col("conversation_start_time", Timestamp, "conversation_start_time (BigQuery `… UTC`, RFC 3339 or epoch)"),
        col("conversation_end_time", Timestamp, "conversation_end_time"),
        col("language", Utf8, "language"),
        col("channel", Utf8, "channel (chat | ticket)"),
        col("labels", Utf8List, "labels"),
        col("conversations_data", Utf8, "conversations_data or conversation_data, JSON text kept verbatim"),
        col("test_mode", Bool, "test_mode (bool or \"true\"/\"false\")"),
        col("conversation_status", Utf8, "conversation_status, kept as delivered"),
        col("last_resolution", Utf8, "last_resolution, kept as delivered"),
        col("triggered_replies", Utf8, "triggered_replies, JSON text kept verbatim"),
        col("is_llm_conversation", Bool, "is_llm_conversation"),
        col("automated_resolution", Bool, "automated_resolution (v3 exports only)"),
        col("conversation_type", Utf8, "conversation_type (v3 exports only)"),
        col("llm_not_understood_count", Int64, "llm_notUnderstood_count (string or number; \"\" is null)"),
        col("llm_response_generated_count", Int64, "llm_responseGenerated_count"),
        col("llm_error_occurred_count", Int64, "llm_errorOccurred_count"),
        col("llm_escalation_required_count", Int64, "llm_escalationRequired_count"),
        col("llm_fallback_count", Int64, "llm_fallback_count"),
        col("bot_messages_count", Int64, "bot_messages_count"),
        col("visitor_messages_count", Int64, "visitor_messages_count"),
        col("not_understood_messages_count", Int64, "not_understood_messages_count"),
        key("intent_count", Int64, "number of items in triggered_intent_replies"),
        col("first_intent", Utf8, "triggered_intent_replies[0].intent_name (array order, as the vendor SQL)"),
        col("last_intent", Utf8, "last item's intent_name (array order)"),
        col("first_meaningful_intent", Utf8, "earliest item by intent_timestamp (nulls first, ties by array order) with not_meaningful = false, intent_name not null and not excluded (default: Greeting, Talk to a human/agent)"),
        col("duration_sec", Float64, "conversation_end_time − conversation_start_time, seconds"),
        key("source_file", Utf8, "the export file the kept copy came from"),
    ],
};

pub const BOT_INTENTS: TableDef = TableDef {
    name: "bot_intents",
    grain: "one row per item of triggered_intent_replies of a kept conversation",
    columns: &[
        key(
            "conversation_id",
            Utf8,
            "conversation_id of the conversation",
        ),
        key(
            "position",
            Int64,
            "0-based position in triggered_intent_replies",
        ),
        col("intent_id", Utf8, "intent_id"),
        col("intent_name", Utf8, "intent_name"),
        col("intent_timestamp", Timestamp, "intent_timestamp"),
        col("not_meaningful", Bool, "not_meaningful (null when absent)"),
    ],
};

pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    grain: "one row per Dialpad message; the same message delivered by overlapping pulls \
            (same sessionid, ts, sendertype and text) counts once",
    columns: &[
        key(
            "sessionid",
            Utf8,
            "sessionid \"x.y\", kept as text (12.10 is not 12.1)",
        ),
        col("conversation_id", Utf8, "sessionid before the last dot"),
        col(
            "segment",
            Int64,
            "sessionid after the last dot, as an integer (\"12.10\" is segment 10)",
        ),
        col(
            "customersessionid",
            Utf8,
            "customersessionid, kept as text (may start with \"-\")",
        ),
        col(
            "ts",
            Timestamp,
            "ts (epoch ms, authoritative); the timestamp text only when ts is missing",
        ),
        col("timestamp_text", Utf8, "timestamp, as delivered"),
        col(
            "sendertype",
            Utf8,
            "sendertype (customer | bot | agent; optional)",
        ),
        col("sendername", Utf8, "sendername (optional)"),
        col("senderemail", Utf8, "senderemail (optional)"),
        col("chattype", Utf8, "chattype (bot | agent)"),
        col("text", Utf8, "text, redaction tokens (****NAME**** …) kept"),
        col(
            "sentiment",
            Float64,
            "sentiment (> 0 positive, < 0 negative, 0 neutral)",
        ),
        col("topic", Utf8, "topic (inferred intent)"),
        col("score", Float64, "score (confidence of topic)"),
        col("topmatches", Utf8, "topmatches, JSON text kept verbatim"),
        col("lang", Utf8, "lang"),
        col("workflow", Utf8, "workflow (optional)"),
        col("workflownodeid", Utf8, "workflownodeid (optional)"),
        col("sessionchannel", Utf8, "sessionchannel"),
        col(
            "sessionchannelinfo",
            Utf8,
            "sessionchannelinfo: an object as JSON text, a string as is",
        ),
        key("source_file", Utf8, "the export file the message came from"),
    ],
};

pub const INTERACTIONS: TableDef = TableDef {
    name: "interactions",
    grain: "one row per sessionid (a segment of a conversation: the bot part, an agent part, \
            a survey bot…), derived from the deduplicated messages",
    columns: &[
        key("sessionid", Utf8, "sessionid"),
        col("conversation_id", Utf8, "sessionid before the last dot"),
        col("segment", Int64, "sessionid after the last dot"),
        col(
            "customersessionid",
            Utf8,
            "first non-null customersessionid (by ts)",
        ),
        col("chattype", Utf8, "first non-null chattype (by ts)"),
        col(
            "sessionchannel",
            Utf8,
            "first non-null sessionchannel (by ts)",
        ),
        col("lang", Utf8, "first non-null lang (by ts)"),
        col("workflow", Utf8, "first non-null workflow (by ts)"),
        col("first_ts", Timestamp, "earliest message ts"),
        col("last_ts", Timestamp, "latest message ts"),
        key("messages", Int64, "messages in the segment"),
        key(
            "customer_messages",
            Int64,
            "messages with sendertype customer",
        ),
        key("bot_messages", Int64, "messages with sendertype bot"),
        key("agent_messages", Int64, "messages with sendertype agent"),
        col(
            "first_response_sec",
            Float64,
            "first customer message → next agent message, seconds",
        ),
        col(
            "avg_response_sec",
            Float64,
            "mean over customer turns of (turn's first customer message → next agent message)",
        ),
        key(
            "responses",
            Int64,
            "customer turns answered by an agent message",
        ),
    ],
};

/// Every canonical table, for `cxkpi table` and the docs.
pub const TABLES: &[&TableDef] = &[&BOT_CONVERSATIONS, &BOT_INTENTS, &MESSAGES, &INTERACTIONS];

pub fn by_name(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().copied().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        for t in TABLES {
            let mut seen = std::collections::HashSet::new();
            for c in t.columns {
                assert!(seen.insert(c.name), "{}.{} twice", t.name, c.name);
                assert!(c
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            }
        }
    }
}
