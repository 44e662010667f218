//! The canonical tables: one declaration per table, from which the Arrow schema, the README
//! table reference and (later) engine DDL are all derived, so they cannot drift apart.
//!
//! Conventions: snake_case names; instants are `Timestamp(Microsecond, "UTC")`; durations are
//! Float64 seconds named `*_sec`; counts Int64; JSON-in-string fields kept verbatim as Utf8.

mod builder;
mod gather;
mod latest;

pub use builder::{Capacity, Col, Nulls, TableBuilder};
pub use gather::{
    coalesce, concat, concat_in_canonical_order, gather, in_canonical_order, in_delivery_order,
    part_labels, size_runs, sorted_by_group_and_text, sorted_by_text, Deferred, ParentKey,
};
pub use latest::{
    keep_last_by, keep_last_of_runs, latest_by_text_key, latest_in_canonical_order,
    latest_in_delivery_order, PassThrough,
};

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

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
    /// No metric reads it (free text, raw JSON): metrics from the lake skip it (it reads back
    /// as null), as metrics from files skip it while parsing.
    pub heavy: bool,
    /// Where the value comes from, for the README and `cxkpi ddl` comments.
    pub source: &'static str,
}

#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub grain: &'static str,
    /// The canonical row order (the table's key): every reader and the lake return rows in
    /// this order, so an aggregation sees the same rows in the same order wherever they came
    /// from, and its floating-point sums agree to the last bit.
    pub order: &'static [&'static str],
    pub columns: &'static [Column],
}

impl TableDef {
    /// The table's Arrow schema, built once per table and shared: every chunk of every file
    /// is a batch of this schema, and a schema of its own per batch (its fields, each an
    /// allocation) was a third of what a small file's batch held (20,000 one-record files:
    /// 218 MB, 159 MB shared).
    pub fn schema(&self) -> SchemaRef {
        static BUILT: std::sync::Mutex<Vec<SchemaRef>> = std::sync::Mutex::new(Vec::new());
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        // Found by content, so a definition that only shares a name (a test's) gets its own.
        let same = |s: &SchemaRef| {
            s.fields().len() == self.columns.len()
                && s.fields().iter().zip(self.columns).all(|(f, c)| {
                    f.name() == c.name
                        && f.data_type() == &c.kind.arrow()
                        && f.is_nullable() == c.nullable
                })
        };
        if let Some(s) = built.iter().find(|s| same(s)) {
            return s.clone();
        }
        let schema = Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.kind.arrow(), c.nullable))
                .collect::<Vec<_>>(),
        ));
        built.push(schema.clone());
        schema
    }
}

const fn col(name: &'static str, kind: Kind, source: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        heavy: false,
        source,
    }
}

/// A nullable column no metric reads (see [`Column::heavy`]).
const fn heavy(name: &'static str, kind: Kind, source: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        heavy: true,
        source,
    }
}

const fn key(name: &'static str, kind: Kind, source: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        heavy: false,
        source,
    }
}

use Kind::*;

pub const BOT_CONVERSATIONS: TableDef = TableDef {
    name: "bot_conversations",
    grain: "one row per conversation_id; a conversation delivered again (another file, a \
            grown day file) counts once: the copy with the latest conversation_end_time wins, \
            then the later file",
    order: &["conversation_id"],
    columns: &[
        key("conversation_id", Utf8, "conversation_id"),
        heavy("platform_conversation_id", Utf8, "platform_conversation_id (numbers kept as text)"),
        col("bot_id", Utf8, "bot_id"),
        col("bot_name", Utf8, "bot_name"),
        col("conversation_start_time", Timestamp, "conversation_start_time (BigQuery `… UTC`, RFC 3339 or epoch)"),
        col("conversation_end_time", Timestamp, "conversation_end_time"),
        col("language", Utf8, "language"),
        col("channel", Utf8, "channel (chat | ticket)"),
        heavy("labels", Utf8List, "labels"),
        heavy("conversations_data", Utf8, "conversations_data or conversation_data, JSON text kept verbatim"),
        col("test_mode", Bool, "test_mode (bool or \"true\"/\"false\")"),
        col("conversation_status", Utf8, "conversation_status, kept as delivered"),
        col("last_resolution", Utf8, "last_resolution, kept as delivered"),
        heavy("triggered_replies", Utf8, "triggered_replies, JSON text kept verbatim"),
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
    order: &["conversation_id", "position"],
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
        key(
            "source_file",
            Utf8,
            "the export file of the conversation's kept copy",
        ),
    ],
};

pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    grain: "one row per Dialpad message; the same message delivered by overlapping pulls \
            (same sessionid, ts, sendertype and text) counts once",
    order: &["sessionid", "ts", "sendertype", "text"],
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
        heavy("timestamp_text", Utf8, "timestamp, as delivered"),
        col(
            "sendertype",
            Utf8,
            "sendertype (customer | bot | agent; optional)",
        ),
        heavy("sendername", Utf8, "sendername (optional)"),
        heavy("senderemail", Utf8, "senderemail (optional)"),
        col("chattype", Utf8, "chattype (bot | agent)"),
        heavy("text", Utf8, "text, redaction tokens (****NAME**** …) kept"),
        col(
            "sentiment",
            Float64,
            "sentiment (> 0 positive, < 0 negative, 0 neutral)",
        ),
        col("topic", Utf8, "topic (inferred intent)"),
        col("score", Float64, "score (confidence of topic)"),
        heavy("topmatches", Utf8, "topmatches, JSON text kept verbatim"),
        col("lang", Utf8, "lang"),
        col("workflow", Utf8, "workflow (optional)"),
        heavy("workflownodeid", Utf8, "workflownodeid (optional)"),
        col("sessionchannel", Utf8, "sessionchannel"),
        heavy(
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
    order: &["sessionid"],
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

pub const DIALOGUES: TableDef = TableDef {
    name: "dialogues",
    grain: "one row per Anywhere365 Dialogue id (a page delivered twice counts once: the later \
            delivery wins)",
    order: &["id"],
    columns: &[
        key("id", Utf8, "id"),
        col("order_number", Int64, "orderNumber"),
        col("start_date", Utf8, "startDate, as delivered (its zone is undocumented)"),
        col("start_time", Timestamp, "startTimestamp"),
        col("queue_enter_time", Timestamp, "queueEnterTimestamp"),
        col("accept_time", Timestamp, "acceptTimestamp"),
        col("end_time", Timestamp, "endTimestamp"),
        col("ivr_sec", Float64, "ivrDurationInSec"),
        col("queue_sec", Float64, "queueDurationInSec"),
        col("initial_talk_sec", Float64, "initialTalkDurationInSec"),
        col("session_sec", Float64, "sessionDurationInSec"),
        col("abandon_wait_sec", Float64, "for Outcome Abandoned: endTimestamp − queueEnterTimestamp (queueDurationInSec when a timestamp is missing)"),
        col("ivr_id", Utf8, "ivrId"),
        col("queue_id", Utf8, "queueId"),
        col("customer_id", Utf8, "customerId"),
        col("agent_id", Utf8, "agentId"),
        col("direction", Utf8, "direction: 1 or \"Inbound\" → inbound, 2 or \"Outbound\" → outbound"),
        col("outcome", Utf8, "Outcome (Accepted | Abandoned | IvrDrop), as delivered"),
        col("in_sla", Bool, "InSLA (\"True\"/\"False\"/null or a boolean; null stays null)"),
        col("quick_drop", Bool, "QuickDrop (same notation)"),
        key("source_file", Utf8, "the export file the kept copy came from"),
    ],
};

pub const CALLS: TableDef = TableDef {
    name: "calls",
    grain: "one row per Samespace call uuid (the later delivery wins)",
    order: &["uuid"],
    columns: &[
        key("uuid", Utf8, "uuid (_id when uuid is missing)"),
        col("id", Utf8, "_id (ObjectId, $oid or text)"),
        col("channel", Utf8, "channel"),
        col("direction", Utf8, "direction (in | out), as delivered"),
        col("type", Utf8, "type"),
        col("user_display_name", Utf8, "user_display_name (the agent)"),
        col("user_login_id", Utf8, "user_login_id"),
        col("caller", Utf8, "caller"),
        col("callee", Utf8, "callee"),
        col("team_name", Utf8, "team_name"),
        col(
            "start_time",
            Timestamp,
            "start_time (ISODate, $date or ISO text)",
        ),
        col(
            "answer_time",
            Timestamp,
            "answer_time (null when unanswered)",
        ),
        col("end_time", Timestamp, "end_time"),
        col("progress_duration_sec", Float64, "progress_duration"),
        col(
            "duration_sec",
            Float64,
            "duration: connected time, answer → end, hold included",
        ),
        col(
            "hold_duration_sec",
            Float64,
            "hold_duration (part of duration)",
        ),
        col("conference_duration_sec", Float64, "conference_duration"),
        col(
            "status",
            Utf8,
            "status (answered | failed | …), as delivered",
        ),
        col("terminated_by", Utf8, "terminated_by"),
        col("termination_cause", Utf8, "termination_cause"),
        col("mos", Float64, "mos"),
        col("domain_id", Int64, "domain_id"),
        heavy("custom_data", Utf8, "custom_data, JSON text kept verbatim"),
        key(
            "source_file",
            Utf8,
            "the export file the kept copy came from",
        ),
    ],
};

pub const CSAT_CALLS: TableDef = TableDef {
    name: "csat_calls",
    grain: "one row per Samespace CSAT record (a call with its survey), keyed by the call uuid",
    order: &["call_uuid"],
    columns: &[
        key("call_uuid", Utf8, "_id of the CSAT record (the call uuid)"),
        col("direction", Utf8, "direction"),
        col("caller", Utf8, "caller"),
        col("callee", Utf8, "callee"),
        col("user_display_name", Utf8, "user_display_name"),
        col("team_name", Utf8, "team_name"),
        col("start_time", Timestamp, "start_time"),
        col("end_time", Timestamp, "end_time"),
        col("duration_sec", Float64, "duration"),
        col(
            "acw_duration_sec",
            Float64,
            "acw_duration: after-call work of the call",
        ),
        col("conversation_tags", Utf8List, "conversation_tags"),
        heavy("notes", Utf8, "notes"),
        key("answers", Int64, "items in csat"),
        key(
            "source_file",
            Utf8,
            "the export file the kept copy came from",
        ),
    ],
};

pub const CSAT_ANSWERS: TableDef = TableDef {
    name: "csat_answers",
    grain: "one row per survey answer (csat[] item) of the latest copy of its call, deduplicated on its _id",
    order: &["call_uuid", "answer_id"],
    columns: &[
        key("call_uuid", Utf8, "_id of the CSAT record (the call uuid)"),
        col("answer_id", Utf8, "csat[]._id"),
        col(
            "question_id",
            Int64,
            "n of the SURVEY_ANSWER_n: prefix of question",
        ),
        col("question", Utf8, "question text after the prefix"),
        col("answer_text", Utf8, "answer, as delivered"),
        col("answer", Int64, "answer as an integer where it is one"),
        col(
            "answered_at",
            Timestamp,
            "csat[].timestamp (the call's start_time when missing)",
        ),
        col("user_display_name", Utf8, "user_display_name of the record"),
        col("team_name", Utf8, "team_name of the record"),
        col("direction", Utf8, "direction of the record"),
        key(
            "source_file",
            Utf8,
            "the export file of the CSAT record's kept copy",
        ),
    ],
};

pub const AGENT_SESSIONS: TableDef = TableDef {
    name: "agent_sessions",
    grain: "one row per Samespace agent session log entry (_id; the later delivery wins)",
    order: &["id"],
    columns: &[
        key("id", Utf8, "_id"),
        col("session_id", Utf8, "session_id"),
        col("user_display_name", Utf8, "user_display_name"),
        col("user_login_id", Utf8, "user_login_id"),
        col("user_system_id", Utf8, "user_system_id"),
        col("start_time", Timestamp, "start_time"),
        col("end_time", Timestamp, "end_time"),
        col("activity", Utf8, "activity (login, …)"),
        col("logout_reason", Utf8, "logout_reason"),
        col("session_duration_sec", Float64, "session_duration"),
        heavy("ip_address", Utf8, "ip_address"),
        col("domain_id", Int64, "domain_id"),
        key(
            "source_file",
            Utf8,
            "the export file the kept copy came from",
        ),
    ],
};

pub const PRODUCTIVITY: TableDef = TableDef {
    name: "productivity",
    grain: "one row per Samespace productivity record (per user, for the report's range)",
    order: &["id"],
    columns: &[
        key("id", Utf8, "_id"),
        col("user", Utf8, "user (a first name, not an id)"),
        col(
            "session_duration_sec",
            Float64,
            "session_duration (logged-in time)",
        ),
        col("away_time_sec", Float64, "away_time"),
        col(
            "acd_sec",
            Float64,
            "acd: average conversation duration (per conversation)",
        ),
        col(
            "acw_sec",
            Float64,
            "acw: average after-call work (per conversation)",
        ),
        col(
            "asa_sec",
            Float64,
            "asa: average speed of answer (per inbound conversation)",
        ),
        col(
            "avg_hold_time_sec",
            Float64,
            "avg_hold_time (per conversation)",
        ),
        col(
            "avg_ring_duration_sec",
            Float64,
            "avg_ring_duration (per inbound conversation)",
        ),
        col("inbound_conversations", Int64, "inbound_conversations"),
        col("outbound_conversations", Int64, "outbound_conversations"),
        key(
            "source_file",
            Utf8,
            "the export file the kept copy came from",
        ),
    ],
};

/// Every canonical table, for `cxkpi table` and the docs.
pub const TABLES: &[&TableDef] = &[
    &BOT_CONVERSATIONS,
    &BOT_INTENTS,
    &MESSAGES,
    &INTERACTIONS,
    &DIALOGUES,
    &CALLS,
    &CSAT_CALLS,
    &CSAT_ANSWERS,
    &AGENT_SESSIONS,
    &PRODUCTIVITY,
];

pub fn by_name(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// The named columns of `batch`, in the order named (a name it lacks is an error).
pub fn project<S: AsRef<str>>(batch: &RecordBatch, names: &[S]) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let indices = (names.iter())
        .map(|n| schema.index_of(n.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    batch.project(&indices)
}

/// `batch` with the column `name` replaced by `values`.
pub fn with_column(
    batch: &RecordBatch,
    name: &str,
    values: ArrayRef,
) -> Result<RecordBatch, ArrowError> {
    let i = batch.schema().index_of(name)?;
    let mut columns = batch.columns().to_vec();
    columns[i] = values;
    RecordBatch::try_new(batch.schema(), columns)
}

/// The timestamp that books each table's rows (the metrics' booking time), if it has one.
pub fn booking_time(table: &str) -> Option<&'static str> {
    match table {
        "bot_conversations" => Some("conversation_start_time"),
        "messages" => Some("ts"),
        "interactions" => Some("first_ts"),
        "dialogues" | "calls" | "agent_sessions" => Some("start_time"),
        "csat_answers" => Some("answered_at"),
        _ => None,
    }
}

/// The earliest and latest booking time (UTC µs) over tables given by name: None when no
/// row has one.
pub fn time_span<'a>(
    tables: impl IntoIterator<Item = (&'a str, &'a RecordBatch)>,
) -> Option<(i64, i64)> {
    let mut out: Option<(i64, i64)> = None;
    for (name, batch) in tables {
        let Some(t) = booking_time(name)
            .and_then(|c| batch.column_by_name(c))
            .and_then(|a| a.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>())
        else {
            continue;
        };
        if let (Some(lo), Some(hi)) = (arrow::compute::min(t), arrow::compute::max(t)) {
            out = Some(out.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    out
}

/// `schema` with each field's type that of its column: the schema of a metrics-only read's
/// batch, whose text columns may be codes (`source::codes::CodesBuilder`, `WordCodes`).
///
/// Made once for each typing and shared, as [`TableDef::schema`] is: made for every chunk,
/// the schemas of 20,000 one-record files held 50 MB and cost a fifth of the run.
pub fn schema_of(schema: SchemaRef, columns: &[ArrayRef]) -> SchemaRef {
    let fields = schema.fields();
    if fields
        .iter()
        .zip(columns)
        .all(|(f, c)| f.data_type() == c.data_type())
    {
        return schema;
    }
    static MADE: std::sync::Mutex<Vec<SchemaRef>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let same = |s: &SchemaRef| {
        s.fields().len() == fields.len()
            && (s.fields().iter().zip(fields).zip(columns)).all(|((m, f), c)| {
                m.name() == f.name()
                    && m.is_nullable() == f.is_nullable()
                    && m.metadata() == f.metadata()
                    && m.data_type() == c.data_type()
            })
    };
    if let Some(s) = made.iter().find(|s| same(s)) {
        return s.clone();
    }
    let typed = fields.iter().zip(columns);
    let fields: Vec<_> = typed
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let typed = Arc::new(Schema::new(fields));
    made.push(typed.clone());
    typed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typing_of_a_schema_is_made_once_and_shared() {
        use arrow::array::{StringArray, UInt8Array};
        let schema = Arc::new(Schema::new(vec![
            Field::new("outcome", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, false),
        ]));
        let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        let codes = Arc::new(UInt8Array::from(vec![1u8])) as ArrayRef;
        let same = schema_of(schema.clone(), &[text("a"), text("b")]);
        assert!(
            Arc::ptr_eq(&same, &schema),
            "typed as declared: the declaration"
        );
        let a = schema_of(schema.clone(), &[codes.clone(), text("b")]);
        let b = schema_of(schema.clone(), &[codes, text("c")]);
        assert_eq!(a.field(0).data_type(), &DataType::UInt8);
        assert_eq!(a.field(1), schema.field(1));
        assert!(
            Arc::ptr_eq(&a, &b),
            "one schema for every chunk typed alike"
        );
    }

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
