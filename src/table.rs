//! The canonical tables: one declaration per table, from which the Arrow schema, the README
//! table reference and (later) engine DDL are all derived, so they cannot drift apart.
//!
//! Conventions: snake_case names; instants are `Timestamp(Microsecond, "UTC")`; durations are
//! Float64 seconds named `*_sec`; counts Int64; JSON-in-string fields kept verbatim as Utf8.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Builder, Int64Builder,
    ListBuilder, RecordBatch, StringBuilder, StringViewArray, TimestampMicrosecondBuilder,
};
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

enum ColumnBuilder {
    /// A column a metrics-only read leaves out: its values are dropped, and it finishes all
    /// null (see [`TableBuilder::only`]).
    Skipped(DataType),
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Utf8List(ListBuilder<StringBuilder>),
}

/// What a [`TableBuilder`] is sized for: rows, and bytes of text in each text column.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub rows: usize,
    pub text: usize,
}

impl Capacity {
    /// For the records `input` bytes can hold when each takes at least `min_record` bytes;
    /// no text column is longer than an eighth of its records (ids, names and codes).
    pub fn of_input(input: usize, min_record: usize) -> Self {
        Capacity {
            rows: input / min_record.max(1) + 1,
            text: input / 8,
        }
    }
}

/// Builds a canonical table row by row, the values appended in the declaration's column
/// order. A value of the wrong kind is a bug in the reader; it is reported by `finish` as an
/// error, never a panic.
pub struct TableBuilder {
    def: &'static TableDef,
    columns: Vec<ColumnBuilder>,
    cursor: usize,
    rows: usize,
    mismatch: Option<String>,
}

impl TableBuilder {
    pub fn new(def: &'static TableDef) -> Self {
        Self::only(def, |_| true)
    }

    /// A builder of the columns `want` names and the key columns (never null); the others
    /// take no value and come out all null. (A metrics-only Anywhere365 read appended a null
    /// per row to each of nine unread columns.)
    pub fn only(def: &'static TableDef, want: impl Fn(&str) -> bool) -> Self {
        Self::sized(
            def,
            want,
            Capacity {
                rows: 1024,
                text: 1024,
            },
        )
    }

    /// [`TableBuilder::only`] with each built column sized for `capacity`: grown by doubling
    /// instead, a column copies itself and has the kernel clear fresh pages for each copy.
    /// Capacity never written to is never paged in, so a generous guess costs no memory.
    pub fn sized(def: &'static TableDef, want: impl Fn(&str) -> bool, capacity: Capacity) -> Self {
        let Capacity { rows, text } = capacity;
        let columns = def
            .columns
            .iter()
            .map(|c| match c.kind {
                _ if !want(c.name) && c.nullable => ColumnBuilder::Skipped(c.kind.arrow()),
                Kind::Utf8 => ColumnBuilder::Utf8(StringBuilder::with_capacity(rows, text)),
                Kind::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(rows)),
                Kind::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(rows)),
                Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
                Kind::Timestamp => ColumnBuilder::Timestamp(
                    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
                ),
                Kind::Utf8List => ColumnBuilder::Utf8List(ListBuilder::new(StringBuilder::new())),
            })
            .collect();
        TableBuilder {
            def,
            columns,
            cursor: 0,
            rows: 0,
            mismatch: None,
        }
    }

    fn next(&mut self, kind: Kind) -> Option<&mut ColumnBuilder> {
        let i = self.cursor;
        self.cursor += 1;
        match self.def.columns.get(i) {
            Some(c) if c.kind == kind => self.columns.get_mut(i),
            other => {
                self.mismatch.get_or_insert_with(|| {
                    format!(
                        "{}: column {i} ({:?}) given a {kind:?} value",
                        self.def.name,
                        other.map(|c| c.name)
                    )
                });
                None
            }
        }
    }

    pub fn str(&mut self, v: Option<&str>) -> &mut Self {
        if let Some(ColumnBuilder::Utf8(b)) = self.next(Kind::Utf8) {
            b.append_option(v);
        }
        self
    }

    pub fn i64(&mut self, v: Option<i64>) -> &mut Self {
        if let Some(ColumnBuilder::Int64(b)) = self.next(Kind::Int64) {
            b.append_option(v);
        }
        self
    }

    pub fn f64(&mut self, v: Option<f64>) -> &mut Self {
        if let Some(ColumnBuilder::Float64(b)) = self.next(Kind::Float64) {
            b.append_option(v);
        }
        self
    }

    pub fn bool(&mut self, v: Option<bool>) -> &mut Self {
        if let Some(ColumnBuilder::Bool(b)) = self.next(Kind::Bool) {
            b.append_option(v);
        }
        self
    }

    /// A UTC instant in microseconds.
    pub fn ts(&mut self, v: Option<i64>) -> &mut Self {
        if let Some(ColumnBuilder::Timestamp(b)) = self.next(Kind::Timestamp) {
            b.append_option(v);
        }
        self
    }

    pub fn list<'a>(&mut self, v: Option<impl IntoIterator<Item = Option<&'a str>>>) -> &mut Self {
        if let Some(ColumnBuilder::Utf8List(b)) = self.next(Kind::Utf8List) {
            match v {
                Some(items) => {
                    for item in items {
                        b.values().append_option(item);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        self
    }

    /// Closes the row; every column must have been given a value.
    pub fn end_row(&mut self) {
        if self.cursor != self.columns.len() {
            self.mismatch.get_or_insert_with(|| {
                format!(
                    "{}: a row with {} of {} values",
                    self.def.name,
                    self.cursor,
                    self.columns.len()
                )
            });
        }
        self.cursor = 0;
        self.rows += 1;
    }

    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        self.finish_sharing(&Nulls::default())
    }

    /// [`TableBuilder::finish`], the left-out columns slices of the arrays of `nulls`.
    pub fn finish_sharing(self, nulls: &Nulls) -> Result<RecordBatch, ArrowError> {
        if let Some(m) = self.mismatch {
            return Err(ArrowError::InvalidArgumentError(m));
        }
        let rows = self.rows;
        // Collected into a vector of its own size: collected in place, the builders' vector
        // (ten times the size) stayed allocated as long as the batch.
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        arrays.extend(self.columns.into_iter().map(|c| -> ArrayRef {
            match c {
                ColumnBuilder::Skipped(t) => nulls.of(&t, rows),
                ColumnBuilder::Utf8(mut b) => Arc::new(b.finish()),
                ColumnBuilder::Int64(mut b) => Arc::new(b.finish()),
                ColumnBuilder::Float64(mut b) => Arc::new(b.finish()),
                ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
                ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
                ColumnBuilder::Utf8List(mut b) => Arc::new(b.finish()),
            }
        }));
        RecordBatch::try_new(self.def.schema(), arrays)
    }
}

/// `batch` in the table's canonical order (see [`TableDef::order`]).
pub fn in_canonical_order(batch: &RecordBatch, def: &TableDef) -> Result<RecordBatch, ArrowError> {
    if batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    concat_in_canonical_order(std::slice::from_ref(batch), def)
}

/// The rows of `parts` (one schema) as one batch in the table's canonical order, gathered
/// once per column in parallel (no intermediate concatenation). A single text key, the
/// common case, is sorted in parallel on borrowed strings; other keys with Arrow's lexsort.
pub fn concat_in_canonical_order(
    parts: &[RecordBatch],
    def: &TableDef,
) -> Result<RecordBatch, ArrowError> {
    let schema = match parts.first() {
        Some(p) => p.schema(),
        None => return Ok(RecordBatch::new_empty(def.schema())),
    };
    let key_of = |p: &RecordBatch, c: &str| -> Result<ArrayRef, ArrowError> {
        Ok(p.column(p.schema().index_of(c)?).clone())
    };
    let positions: Vec<(usize, usize)> = match def.order {
        [key] if schema.field_with_name(key)?.data_type() == &DataType::Utf8 => {
            let keys = parts
                .iter()
                .map(|p| key_of(p, key))
                .collect::<Result<Vec<_>, _>>()?;
            sorted_by_text(keys.par_iter().enumerate().map(|(i, k)| {
                let k = k.as_string::<i32>();
                (0..k.len()).map(move |r| (k.is_valid(r).then(|| k.value(r)), i, r))
            }))
        }
        order => {
            let starts: Vec<usize> = parts
                .iter()
                .scan(0, |n, p| {
                    let s = *n;
                    *n += p.num_rows();
                    Some(s)
                })
                .collect();
            let columns = order
                .iter()
                .map(|c| {
                    let pieces = parts
                        .iter()
                        .map(|p| key_of(p, c))
                        .collect::<Result<Vec<_>, _>>()?;
                    let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
                    Ok(arrow::compute::SortColumn {
                        values: arrow::compute::concat(&refs)?,
                        options: None,
                    })
                })
                .collect::<Result<Vec<_>, ArrowError>>()?;
            arrow::compute::lexsort_to_indices(&columns, None)?
                .values()
                .iter()
                .map(|&g| {
                    let g = g as usize;
                    let i = starts.partition_point(|&s| s <= g) - 1;
                    (i, g - starts[i])
                })
                .collect()
        }
    };
    gather(parts.to_vec(), schema, &positions, |_| true)
}

/// The `(part, row)` positions of `rows` ordered by their text key (nulls first, then byte
/// order, as Arrow sorts strings; ties in `(part, row)` order, which is the input order of
/// every caller). Sorts in parallel, and compares the first 16 bytes of each key as one
/// integer before the whole strings.
pub fn sorted_by_text<'a, I>(parts: impl IndexedParallelIterator<Item = I>) -> Vec<(usize, usize)>
where
    I: Iterator<Item = (Option<&'a str>, usize, usize)> + Send,
{
    sorted_by_group_and_text(parts.map(|rows| rows.map(|(k, i, r)| (None, k, i, r))))
}

/// The first 16 bytes of `k` as two integers that order as the bytes do (zero-padded): a
/// sort compares them before the whole strings, which then rarely need to be read.
fn text_prefix(k: &str) -> (u64, u64) {
    let mut b = [0u8; 16];
    let n = k.len().min(16);
    b[..n].copy_from_slice(&k.as_bytes()[..n]);
    let word = |w: &[u8]| u64::from_be_bytes(w.try_into().unwrap_or_default());
    (word(&b[..8]), word(&b[8..]))
}

/// A row's sort key in [`sorted_by_group_and_text`]: compared by group, the key's prefix,
/// then the whole key text, then position. 64 bytes, where the group, the key's prefix and
/// text and the position as nested tuples were 80: the sort moves every element many times,
/// and it was a tenth of an ingest.
#[derive(Clone, Copy)]
struct SortKey<'a> {
    has_group: bool,
    group: i64,
    has_key: bool,
    prefix: (u64, u64),
    text: &'a str,
    at: (usize, usize),
}

/// [`sorted_by_text`] within groups: by group (nulls first), then text key. The input
/// order does not matter: ties are broken by position, which is unique. `parts` yields
/// each part's rows (a chunk's, a partition's).
///
/// Each part's keys are put in group order on their own, parts in parallel; then each group
/// gathers its runs from every part and is sorted on its own, groups in parallel. Groups
/// are days in an ingest: a day's rows fit the cache where one sort of the whole history
/// moved every row through memory twenty times over, and it was a tenth of an ingest. One
/// counting pass and scatter over all rows, the way before, kept one core waiting.
pub fn sorted_by_group_and_text<'a, I>(
    parts: impl IndexedParallelIterator<Item = I>,
) -> Vec<(usize, usize)>
where
    I: Iterator<Item = (Option<i64>, Option<&'a str>, usize, usize)>,
{
    let group = |k: &SortKey| (k.has_group, k.group);
    let parts: Vec<Vec<SortKey>> = parts
        .map(|rows| {
            let mut keys: Vec<SortKey> = rows
                .map(|(g, k, i, r)| SortKey {
                    has_group: g.is_some(),
                    group: g.unwrap_or(0),
                    has_key: k.is_some(),
                    prefix: k.map_or((0, 0), text_prefix),
                    text: k.unwrap_or(""),
                    at: (i, r),
                })
                .collect();
            // Usually one group per part (a file holds a day): already in order, one pass.
            keys.sort_unstable_by_key(group);
            keys
        })
        .collect();
    let mut groups: Vec<((bool, i64), usize)> = Vec::new();
    for p in &parts {
        for run in p.chunk_by(|a, b| group(a) == group(b)) {
            groups.push((group(&run[0]), run.len()));
        }
    }
    groups.sort_unstable_by_key(|&(g, _)| g);
    groups.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 += b.1;
        }
        same
    });
    let order = |a: &SortKey, b: &SortKey| {
        (a.has_key, a.prefix)
            .cmp(&(b.has_key, b.prefix))
            .then_with(|| a.text.cmp(b.text))
            .then(a.at.cmp(&b.at))
    };
    // Unstable, but ties are broken by position, so the result is a stable sort's without
    // a merge sort's copying. A group much larger than the rest (one day, or no groups at
    // all) is itself sorted in parallel.
    let sort = |mut keys: Vec<SortKey>| -> Vec<(usize, usize)> {
        if keys.len() >= 1 << 16 {
            keys.par_sort_unstable_by(order);
            keys.par_iter().map(|k| k.at).collect()
        } else {
            keys.sort_unstable_by(order);
            keys.iter().map(|k| k.at).collect()
        }
    };
    if let [(_, n)] = groups[..] {
        let mut keys = Vec::with_capacity(n);
        for p in parts {
            keys.extend_from_slice(&p);
        }
        return sort(keys);
    }
    groups
        .par_iter()
        .map(|&(g, n)| {
            let mut keys = Vec::with_capacity(n);
            for p in &parts {
                let from = p.partition_point(|k| group(k) < g);
                let to = from + p[from..].partition_point(|k| group(k) == g);
                keys.extend_from_slice(&p[from..to]);
            }
            sort(keys)
        })
        .collect::<Vec<_>>()
        .concat()
}

/// The rows at `(part, row)` positions of `parts`, in that order, as one batch; one column
/// per task. Nullable columns `wanted` rejects come out all null without being gathered
/// (for reads that left them null anyway). Positions taking every row in order (a read
/// with no duplicates to drop) are concatenated instead, a copy per piece rather than per
/// row.
///
/// The parts are taken by value and each column's pieces are freed as soon as that column
/// is built, so the peak holds the parts plus the columns in flight, not two copies of the
/// table (unless the caller keeps other references to the parts).
pub fn gather(
    parts: Vec<RecordBatch>,
    schema: SchemaRef,
    positions: &[(usize, usize)],
    wanted: impl Fn(&str) -> bool + Sync,
) -> Result<RecordBatch, ArrowError> {
    if positions.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let rows = parts.iter().map(|p| p.num_rows());
    let every_row_in_order = positions.len() == rows.clone().sum::<usize>()
        && rows
            .enumerate()
            .flat_map(|(p, n)| (0..n).map(move |r| (p, r)))
            .eq(positions.iter().copied());
    let positions = (!every_row_in_order).then_some(positions);
    build_columns(parts, schema, positions, wanted)
}

/// `parts` (one schema) as one batch, one column per task, freeing each column's pieces as
/// it goes (see [`gather`]).
pub fn concat(schema: SchemaRef, mut parts: Vec<RecordBatch>) -> Result<RecordBatch, ArrowError> {
    match parts.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(parts.swap_remove(0)),
        _ => build_columns(parts, schema, None, |_| true),
    }
}

/// `parts` (one schema) with each run of consecutive small ones concatenated into a batch
/// of at least `rows` rows (or what is left); parts of `rows` or more are kept as they are,
/// not copied (see [`size_runs`]).
///
/// Why: a metrics-only read hands its chunks on uncopied, one per file at least, and each
/// becomes a chunk of every polars column. Read from exports of one record per file (as
/// webhook dumps are), 20,000 of them made 20,000 chunks, and polars' per-chunk work took
/// a hundred times the time of the same records in one file.
pub fn coalesce(parts: Vec<RecordBatch>, rows: usize) -> Result<Vec<RecordBatch>, ArrowError> {
    let sizes: Vec<usize> = parts.iter().map(RecordBatch::num_rows).collect();
    let runs = size_runs(&sizes, rows);
    let Some(schema) = parts.first().map(RecordBatch::schema) else {
        return Ok(parts);
    };
    if runs.len() == parts.len() {
        return Ok(parts);
    }
    let mut parts = parts.into_iter();
    // A run of one part is that part, uncopied (see `concat`).
    (runs.into_iter())
        .map(|run| concat(schema.clone(), parts.by_ref().take(run.len()).collect()))
        .collect()
}

/// The indices of `sizes` in runs: an item of `rows` or more alone, consecutive smaller
/// ones together until they reach `rows` (the last run may be short).
pub fn size_runs(sizes: &[usize], rows: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut first, mut total) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        if n >= rows {
            if first < i {
                out.push(first..i);
            }
            out.push(i..i + 1);
            (first, total) = (i + 1, 0);
            continue;
        }
        total += n;
        if total >= rows {
            out.push(first..i + 1);
            (first, total) = (i + 1, 0);
        }
    }
    if first < sizes.len() {
        out.push(first..sizes.len());
    }
    out
}

/// The columns of [`gather`] (`positions`) or of [`concat`] (`None`).
/// Parts from this size on have the memory of each column's pieces handed back to the OS
/// as soon as the column is gathered (see [`crate::alloc::release_freed`]).
const RELEASE_AT_BYTES: usize = 256 << 20;

fn build_columns(
    parts: Vec<RecordBatch>,
    schema: SchemaRef,
    positions: Option<&[(usize, usize)]>,
    wanted: impl Fn(&str) -> bool + Sync,
) -> Result<RecordBatch, ArrowError> {
    let rows = match positions {
        Some(p) => p.len(),
        None => parts.iter().map(|p| p.num_rows()).sum(),
    };
    // Handing freed pieces back to the OS costs page faults when memory is needed again;
    // it pays only when the parts are big enough to matter for the peak.
    let release = parts
        .iter()
        .map(RecordBatch::get_array_memory_size)
        .sum::<usize>()
        >= RELEASE_AT_BYTES;
    // Column-major, holding the only references once the batches are dropped here.
    let mut pieces: Vec<Vec<ArrayRef>> =
        vec![Vec::with_capacity(parts.len()); schema.fields().len()];
    for part in parts {
        for (column, array) in pieces.iter_mut().zip(part.columns()) {
            column.push(array.clone());
        }
    }
    let columns = pieces
        .into_par_iter()
        .zip(schema.fields().par_iter())
        .map(|(column, f)| {
            if f.is_nullable() && !wanted(f.name()) {
                return Ok(arrow::array::new_null_array(f.data_type(), rows));
            }
            let refs: Vec<&dyn Array> = column.iter().map(|a| a.as_ref()).collect();
            let out = match positions {
                Some(p) => arrow::compute::interleave(&refs, p),
                None => arrow::compute::concat(&refs),
            };
            drop(refs);
            drop(column);
            if release {
                crate::alloc::release_freed();
            }
            out
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(schema, columns)
}

/// A Utf8 column giving each `(part, row)` position its part's label: for a column that is
/// constant within a part (the file a row came from), written once here rather than copied
/// row by row through a gather.
pub fn part_labels(labels: &[impl AsRef<str>], positions: &[(usize, usize)]) -> ArrayRef {
    let bytes = positions
        .iter()
        .map(|&(p, _)| labels[p].as_ref().len())
        .sum();
    let mut b = arrow::array::StringBuilder::with_capacity(positions.len(), bytes);
    for &(p, _) in positions {
        b.append_value(labels[p].as_ref());
    }
    Arc::new(b.finish())
}

/// Rows to copy out of a [`Deferred`]'s parts, worked out once for all of a batch's columns
/// (per column, the runs alone were a twentieth of an ingest's time).
struct Gather<'a> {
    positions: &'a [(usize, usize)],
    /// The parts the rows come from. Only these are handed to the copy: a partition's rows
    /// come from a few of possibly thousands of parts, and a copy checks and indexes every
    /// part it is given (a year of daily files ingested 30% slower without this).
    used: Vec<usize>,
    /// `positions` renumbered into `used`.
    local: std::borrow::Cow<'a, [(usize, usize)]>,
    /// The rows as runs of a part, when they come in long runs: copied a run at a time.
    runs: Option<Vec<(usize, usize, usize)>>,
}

impl<'a> Gather<'a> {
    fn new(parts: usize, positions: &'a [(usize, usize)]) -> Self {
        let mut slot = vec![usize::MAX; parts];
        let mut used = Vec::new();
        let local: Vec<(usize, usize)> = positions
            .iter()
            .map(|&(p, r)| {
                if slot[p] == usize::MAX {
                    slot[p] = used.len();
                    used.push(p);
                }
                (slot[p], r)
            })
            .collect();
        Self::with(positions, used, local.into())
    }

    /// Rows from any of all `parts`.
    fn every(parts: usize, positions: &'a [(usize, usize)]) -> Self {
        Self::with(positions, (0..parts).collect(), positions.into())
    }

    fn with(
        positions: &'a [(usize, usize)],
        used: Vec<usize>,
        local: std::borrow::Cow<'a, [(usize, usize)]>,
    ) -> Self {
        let runs = runs(&local, local.len() / 64);
        Gather {
            positions,
            used,
            local,
            runs,
        }
    }
}

/// `positions` as runs of consecutive rows of one part: `(part, first row, rows)`, if there
/// are at most `most` runs (else `None`, found without building them: rows gathered one by
/// one, in canonical order, were a run each, and their list of runs, made for every column
/// and thrown away, was a tenth of a metrics-only Samespace read, page faults included).
fn runs(positions: &[(usize, usize)], most: usize) -> Option<Vec<(usize, usize, usize)>> {
    let breaks = positions
        .windows(2)
        .filter(|w| !(w[0].0 == w[1].0 && w[0].1 + 1 == w[1].1));
    let count = usize::from(!positions.is_empty()) + breaks.take(most).count();
    if count > most {
        return None;
    }
    let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(count);
    for &(p, r) in positions {
        match runs.last_mut() {
            Some((q, first, n)) if *q == p && *first + *n == r => *n += 1,
            _ => runs.push((p, r, 1)),
        }
    }
    Some(runs)
}

/// The all-null columns of reads that leave columns out (metrics-only reads, from files and
/// from the lake): one array per type, made once and shared (sliced) by every chunk or
/// partition. Why: made per chunk, these zeroed buffers were a fifth of a metrics run's page
/// faults; made per partition file of a lake, a third of a run's time and 300 MB of its peak,
/// for columns nothing reads. The last slice of each type is kept too and handed out again
/// for the same length: a slice is an allocation of its own, and chunks of one length (a
/// file of one record each) asked for thousands of them.
#[derive(Default)]
pub struct Nulls(std::sync::Mutex<Vec<NullsOf>>);

/// The shared all-null array of one type, and the last slice made of it.
struct NullsOf {
    data_type: DataType,
    all: ArrayRef,
    last: ArrayRef,
}

impl Nulls {
    /// `rows` nulls of `data_type`.
    pub fn of(&self, data_type: &DataType, rows: usize) -> ArrayRef {
        let mut made = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let cached = made.iter_mut().find(|m| &m.data_type == data_type);
        let longest = cached.as_ref().map_or(0, |m| m.all.len());
        if let Some(m) = cached.filter(|m| m.all.len() >= rows) {
            if m.last.len() != rows {
                m.last = m.all.slice(0, rows);
            }
            return m.last.clone();
        }
        // Room for the next chunks too: most reads ask for many columns of similar length.
        let len = rows.max(8192).max(longest * 2);
        let all = arrow::array::new_null_array(data_type, len);
        let last = all.slice(0, rows);
        made.retain(|m| &m.data_type != data_type);
        made.push(NullsOf {
            data_type: data_type.clone(),
            all,
            last: last.clone(),
        });
        last
    }
}

/// A column a metrics-only read may leave out: its appends are skipped and it comes out all
/// null (shared, see [`Nulls`]), with no per-row work or memory. (Appending a null per row
/// to each of a Dialpad read's thirteen unread columns was 4% of its time and 50 MB.)
pub struct Col<B> {
    data_type: DataType,
    builder: Option<B>,
}

impl<B: arrow::array::ArrayBuilder> Col<B> {
    /// The column `name` of `schema`, left out when not `want`ed, unless it may not be null.
    pub fn new(schema: &Schema, name: &str, want: bool, make: impl FnOnce() -> B) -> Self {
        let field = schema.field_with_name(name).ok();
        Col {
            data_type: field.map_or(DataType::Null, |f| f.data_type().clone()),
            builder: (want || !field.is_some_and(|f| f.is_nullable())).then(make),
        }
    }

    #[inline]
    pub fn put(&mut self, append: impl FnOnce(&mut B)) {
        if let Some(b) = &mut self.builder {
            append(b);
        }
    }

    /// The column: `rows` nulls when left out.
    pub fn finish(&mut self, rows: usize, nulls: &Nulls) -> ArrayRef {
        match &mut self.builder {
            Some(b) => b.finish(),
            None => nulls.of(&self.data_type, rows),
        }
    }
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

/// A table whose rows are chosen and ordered but not yet copied: the `(part, row)`
/// `positions` of its rows in the reader's `parts`, each part read from the file
/// `sources[part]`, which is the `source_file` of its rows (left empty in the parts).
///
/// Why: the lake writes a table partition by partition, and copying each partition's rows
/// as it is written means the whole table is never copied at once. That copy was a second
/// table's worth of memory (the peak of an ingest) and of page faults.
pub struct Deferred {
    pub schema: SchemaRef,
    pub parts: Vec<RecordBatch>,
    pub sources: Vec<Arc<str>>,
    pub positions: Vec<(usize, usize)>,
    /// A child table's copy of its parent's key, left empty in the parts.
    pub parent_key: Option<ParentKey>,
}

/// The column of a child table holding its parent's key (`bot_intents.conversation_id`),
/// read from the parent's key column when copied out rather than stored once per child
/// row: it is the same string, and the copies were a tenth of an ingest's peak.
pub struct ParentKey {
    pub column: &'static str,
    /// Per part: the parent table's key column, and the parent row of each child row.
    pub keys: Vec<arrow::array::StringArray>,
    pub rows: Vec<Vec<u32>>,
}

impl Deferred {
    pub fn num_rows(&self) -> usize {
        self.positions.len()
    }

    /// The rows at `positions` (into the parts) as one batch (see [`Gather`]).
    pub fn rows(&self, positions: &[(usize, usize)]) -> Result<RecordBatch, ArrowError> {
        self.rows_viewing(positions, &[])
    }

    /// [`Deferred::rows`] with the text columns named in `views` as `Utf8View`: views of
    /// the strings where they sit in the parts, not copies. For a writer, which encodes
    /// the strings either way: the copy of the lake's heavy JSON text (300 MB for 1.5M
    /// conversations) was a tenth of the time spent gathering partitions, plus its pages.
    pub fn rows_viewing(
        &self,
        positions: &[(usize, usize)],
        views: &[&str],
    ) -> Result<RecordBatch, ArrowError> {
        let g = Gather::new(self.parts.len(), positions);
        let columns: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                let name = f.name().as_str();
                match views.contains(&name) && *f.data_type() == DataType::Utf8 {
                    true => self.viewed_at(name, &g),
                    false => self.column_at(name, &g),
                }
            })
            .collect::<Result<_, _>>()?;
        let fields: Vec<Field> = (self.schema.fields().iter().zip(&columns))
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }

    /// The text column `name` of the rows `g` gathers, as views into the parts' buffers
    /// (see [`Deferred::rows_viewing`]).
    fn viewed_at(&self, name: &str, g: &Gather<'_>) -> Result<ArrayRef, ArrowError> {
        let i = self.schema.index_of(name)?;
        if g.local.is_empty() {
            return Ok(arrow::array::new_empty_array(&DataType::Utf8View));
        }
        let pieces: Vec<StringViewArray> = (g.used.iter())
            .map(|&p| StringViewArray::from(self.parts[p].column(i).as_string::<i32>()))
            .collect();
        let pieces: Vec<&dyn Array> = pieces.iter().map(|a| a as &dyn Array).collect();
        arrow::compute::interleave(&pieces, &g.local)
    }

    /// The column `name` of every row, in order (one column copied, not the table).
    pub fn column(&self, name: &str) -> Result<ArrayRef, ArrowError> {
        self.column_at(name, &Gather::every(self.parts.len(), &self.positions))
    }

    /// The column `name` of the rows `g` gathers.
    fn column_at(&self, name: &str, g: &Gather<'_>) -> Result<ArrayRef, ArrowError> {
        let positions = g.positions;
        if name == "source_file" {
            return Ok(part_labels(&self.sources, positions));
        }
        if let Some(k) = self.parent_key.as_ref().filter(|k| k.column == name) {
            let key = |&(p, r): &(usize, usize)| {
                let row = k.rows[p][r] as usize;
                k.keys[p].is_valid(row).then(|| k.keys[p].value(row))
            };
            let bytes = positions.iter().map(|at| key(at).map_or(0, str::len)).sum();
            let mut b = StringBuilder::with_capacity(positions.len(), bytes);
            for at in positions {
                b.append_option(key(at));
            }
            return Ok(Arc::new(b.finish()));
        }
        let i = self.schema.index_of(name)?;
        if positions.is_empty() {
            return Ok(arrow::array::new_empty_array(
                self.schema.field(i).data_type(),
            ));
        }
        let pieces: Vec<&dyn Array> = (g.used.iter())
            .map(|&p| self.parts[p].column(i).as_ref())
            .collect();
        // Rows in runs of a part (files whose rows already come in the table's order): the
        // runs' slices concatenated, a copy per run rather than per row.
        if let Some(runs) = &g.runs {
            let slices: Vec<ArrayRef> = runs
                .iter()
                .map(|&(p, r, n)| pieces[p].slice(r, n))
                .collect();
            let slices: Vec<&dyn Array> = slices.iter().map(|a| a.as_ref()).collect();
            return arrow::compute::concat(&slices);
        }
        arrow::compute::interleave(&pieces, &g.local)
    }

    /// The columns `names` of every row, in order, as a batch of only those columns (for a
    /// metrics run, which reads a few columns of a table it never writes).
    pub fn select(&self, names: &[String]) -> Result<RecordBatch, ArrowError> {
        let indices = names
            .iter()
            .map(|n| self.schema.index_of(n))
            .collect::<Result<Vec<_>, _>>()?;
        // One gather for every column: where the rows run, and from which parts.
        let g = Gather::every(self.parts.len(), &self.positions);
        let columns = names
            .par_iter()
            .map(|n| self.column_at(n, &g))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            Arc::new(self.schema.project(&indices)?),
            columns,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(self.num_rows())),
        )
    }

    /// How many rows came from each source file.
    pub fn rows_per_source(&self) -> HashMap<&str, u64> {
        let mut per_part = vec![0u64; self.parts.len()];
        for &(p, _) in &self.positions {
            per_part[p] += 1;
        }
        let mut out: HashMap<&str, u64> = HashMap::new();
        for (source, n) in self.sources.iter().zip(per_part) {
            *out.entry(&**source).or_default() += n;
        }
        out
    }

    /// The whole table as one batch, the parts freed column by column; nullable columns
    /// `wanted` rejects come out all null (see [`gather`]).
    pub fn into_batch(
        mut self,
        wanted: impl Fn(&str) -> bool + Sync,
    ) -> Result<RecordBatch, ArrowError> {
        let parts = std::mem::take(&mut self.parts);
        let mut batch = gather(parts, self.schema.clone(), &self.positions, wanted)?;
        batch = with_column(&batch, "source_file", self.column("source_file")?)?;
        if let Some(name) = self.parent_key.as_ref().map(|k| k.column) {
            batch = with_column(&batch, name, self.column(name)?)?;
        }
        Ok(batch)
    }
}

/// The rows of `parts` (in delivery order) as one batch in `def`'s canonical order, keeping
/// the last delivery per value of the Utf8 column `key` (rows whose key is null are all
/// kept); returns it and how many rows were dropped. With `sources`, the parts' own
/// `source_file` is left empty and each part's rows take its entry (see [`Deferred`]).
///
/// Where the canonical order is the key alone, one stable sort does both jobs: the copies
/// of a key end up adjacent and in delivery order, so the last of each run is kept, and the
/// table is gathered once (no concatenation, no hash map). Other tables concatenate, keep
/// the last by key, then sort.
pub fn latest_in_canonical_order(
    mut parts: Vec<RecordBatch>,
    sources: Option<Vec<Arc<str>>>,
    def: &TableDef,
    key: &str,
) -> Result<(RecordBatch, usize), ArrowError> {
    let schema = def.schema();
    let index = schema.index_of(key)?;
    if def.order != [key] || schema.field(index).data_type() != &DataType::Utf8 {
        if let Some(sources) = &sources {
            for (part, source) in parts.iter_mut().zip(sources) {
                let labels = std::iter::repeat_n(&**source, part.num_rows());
                let labels = Arc::new(arrow::array::StringArray::from_iter_values(labels));
                *part = with_column(part, "source_file", labels)?;
            }
        }
        let all = arrow::compute::concat_batches(&schema, &parts)?;
        let (kept, dropped) = keep_last_by(&all, key)?;
        return Ok((in_canonical_order(&kept, def)?, dropped));
    }
    let (kept, dropped) = latest_by_text_key(&parts, index);
    let table = match sources {
        Some(sources) => Deferred {
            schema,
            parts,
            sources,
            positions: kept,
            parent_key: None,
        }
        .into_batch(|_| true)?,
        None => gather(parts, schema, &kept, |_| true)?,
    };
    Ok((table, dropped))
}

/// The `(part, row)` of the last delivery of each value of the Utf8 column `index` of
/// `parts`, in key order (rows with a null key all kept, first), and how many rows lost.
pub fn latest_by_text_key(parts: &[RecordBatch], index: usize) -> (Vec<(usize, usize)>, usize) {
    let keys: Vec<&arrow::array::StringArray> = parts
        .iter()
        .map(|p| p.column(index).as_string::<i32>())
        .collect();
    let key_at = |(p, r): (usize, usize)| keys[p].is_valid(r).then(|| keys[p].value(r));
    let sorted = sorted_by_text(
        keys.par_iter()
            .enumerate()
            .map(|(p, k)| (0..k.len()).map(move |r| (k.is_valid(r).then(|| k.value(r)), p, r))),
    );
    let rows = sorted.len();
    let mut kept = sorted;
    keep_last_of_runs(&mut kept, |&at| key_at(at));
    let dropped = rows - kept.len();
    (kept, dropped)
}

/// Keeps, of `sorted` rows (equal keys adjacent and in delivery order, as a stable sort
/// leaves them), the last of each run of equal keys: the latest delivery. Rows whose key is
/// `None` are all kept. Each row looks only at the next, so the rows are checked in
/// parallel (on one core, the key comparisons of a million dialogues held the other core
/// idle); the rows kept are then moved up in place, in one pass (collecting them anew
/// copied every row into lists and then into a new table).
pub fn keep_last_of_runs<T: Sync, K: PartialEq>(
    sorted: &mut Vec<T>,
    key: impl Fn(&T) -> Option<K> + Sync,
) {
    let rows = &sorted[..];
    let last: Vec<bool> = (0..rows.len())
        .into_par_iter()
        .map(|i| {
            let k = key(&rows[i]);
            k.is_none() || rows.get(i + 1).is_none_or(|next| key(next) != k)
        })
        .collect();
    // `retain` visits every row once, in order.
    let mut last = last.into_iter();
    sorted.retain(|_| last.next().unwrap_or(true));
}

/// Keeps the last row (the latest delivery) per value of the Utf8 column `key`; rows whose
/// key is null are all kept. Returns the rows kept, in delivery order, and how many were
/// dropped.
pub fn keep_last_by(batch: &RecordBatch, key: &str) -> Result<(RecordBatch, usize), ArrowError> {
    let index = batch.schema().index_of(key)?;
    let (kept, dropped) = latest_in_delivery_order(std::slice::from_ref(batch), index);
    if dropped == 0 {
        return Ok((batch.clone(), 0));
    }
    let mut keep = vec![false; batch.num_rows()];
    for (_, row) in kept {
        keep[row] = true;
    }
    let kept = arrow::compute::filter_record_batch(batch, &BooleanArray::from(keep))?;
    Ok((kept, dropped))
}

/// Hands a precomputed hash (the key of a deduplication's map) to the map unchanged.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by a `u64` key; a plain fold keeps the hasher correct for any other input.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The `(part, row)` of the last delivery of each value of the Utf8 column `index` of
/// `parts`, in delivery order (rows with a null key all kept), and how many rows lost: the
/// order-free twin of [`latest_by_text_key`], for reads whose rows need no key order (the
/// queue KPIs aggregate nothing that depends on row order). Why: the sort by key and the
/// gather out of it were a quarter of an Anywhere365 metrics run; kept rows in delivery
/// order are runs of their parts, copied a run at a time (see [`Deferred`]).
///
/// Each key is hashed once, as its part is listed by shard; the maps are keyed by that hash
/// and compare the keys themselves only when hashes are equal. Distinct keys with equal
/// hashes go to a second map, keyed by the text.
pub fn latest_in_delivery_order(
    parts: &[RecordBatch],
    index: usize,
) -> (Vec<(usize, usize)>, usize) {
    use std::collections::hash_map::Entry;
    use std::hash::{BuildHasher, BuildHasherDefault};
    /// Shards of the keys, by the top bits of their hash, deduplicated in parallel.
    const SHARD_BITS: u32 = 6;
    let keys: Vec<&arrow::array::StringArray> = parts
        .iter()
        .map(|p| p.column(index).as_string::<i32>())
        .collect();
    let hasher = foldhash::fast::FixedState::with_seed(0x1a7e);
    // Parts listed in runs of at least 8,192 rows: one part per file, and a run of many
    // one-record files listed as one, not as many sets of shards (64 empty vectors a part
    // held 1.5 KB per file).
    let sizes: Vec<usize> = keys.iter().map(|k| k.len()).collect();
    let groups = size_runs(&sizes, 1 << 13);
    // Each group's keyed rows with their hash, by shard, in delivery order.
    let by_shard: Vec<Vec<Vec<(u64, u32, u32)>>> = groups
        .into_par_iter()
        .map(|group| {
            // Sized for an even spread and a little more: grown by doubling, the lists and
            // the maps below were a tenth of the deduplication's time.
            let rows: usize = group.clone().map(|p| sizes[p]).sum();
            let each = rows / (1 << SHARD_BITS) * 9 / 8 + 16;
            let mut shards: Vec<Vec<_>> = (0..1 << SHARD_BITS)
                .map(|_| Vec::with_capacity(each))
                .collect();
            for p in group {
                let k = keys[p];
                for r in (0..k.len()).filter(|&r| k.is_valid(r)) {
                    let h = hasher.hash_one(k.value(r));
                    shards[(h >> (64 - SHARD_BITS)) as usize].push((h, p as u32, r as u32));
                }
            }
            shards
        })
        .collect();
    let key = |(p, r): (usize, usize)| keys[p].value(r);
    // Per shard, each key's latest row so far: the one it replaces is lost.
    let lost: Vec<Vec<(usize, usize)>> = (0..1 << SHARD_BITS)
        .into_par_iter()
        .map(|s| {
            let rows = by_shard.iter().map(|shards| shards[s].len()).sum();
            let mut latest: HashMap<u64, (usize, usize), BuildHasherDefault<PassThrough>> =
                HashMap::with_capacity_and_hasher(rows, Default::default());
            let mut others: HashMap<&str, (usize, usize)> = HashMap::new();
            let mut lost = Vec::new();
            for shards in &by_shard {
                for &(h, p, r) in &shards[s] {
                    let at = (p as usize, r as usize);
                    match latest.entry(h) {
                        Entry::Vacant(v) => {
                            v.insert(at);
                        }
                        Entry::Occupied(mut o) if key(*o.get()) == key(at) => {
                            lost.push(o.insert(at));
                        }
                        Entry::Occupied(_) => lost.extend(others.insert(key(at), at)),
                    }
                }
            }
            lost
        })
        .collect();
    let mut lost = lost.concat();
    lost.par_sort_unstable();
    let dropped = lost.len();
    let rows: usize = keys.iter().map(|k| k.len()).sum();
    let mut kept = Vec::with_capacity(rows - dropped);
    let mut lost = lost.into_iter().peekable();
    for (p, k) in keys.iter().enumerate() {
        for r in 0..k.len() {
            if lost.next_if_eq(&(p, r)).is_none() {
                kept.push((p, r));
            }
        }
    }
    (kept, dropped)
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_lean_table_builder_keeps_the_wanted_and_key_columns_and_nulls_the_rest() {
        use arrow::array::{Array, AsArray};
        // Dialogues: `id` is a key (never null), so it is built though not wanted.
        let mut b = super::TableBuilder::only(&super::DIALOGUES, |c| c == "order_number");
        for (id, n) in [("a", 1), ("b", 2)] {
            b.str(Some(id)).i64(Some(n)).str(Some("2024-05-07"));
            for _ in 0..4 {
                b.ts(Some(7));
            }
            for _ in 0..5 {
                b.f64(Some(1.0));
            }
            for _ in 0..6 {
                b.str(Some("x"));
            }
            b.bool(Some(true)).bool(Some(false)).str(Some(""));
            b.end_row();
        }
        let t = b.finish().unwrap();
        assert_eq!(t.num_rows(), 2);
        let ids = t.column_by_name("id").unwrap().as_string::<i32>();
        assert_eq!((ids.value(0), ids.value(1)), ("a", "b"));
        let n = t.column_by_name("order_number").unwrap();
        assert_eq!(
            n.as_primitive::<arrow::datatypes::Int64Type>().values(),
            &[1, 2]
        );
        for skipped in ["start_date", "start_time", "queue_sec", "outcome", "in_sla"] {
            let c = t.column_by_name(skipped).unwrap();
            assert_eq!(c.null_count(), 2, "{skipped}");
        }
        assert_eq!(t.schema(), super::DIALOGUES.schema());
    }

    #[test]
    fn small_parts_are_concatenated_in_runs_and_large_ones_kept() {
        use arrow::array::{Array, AsArray, Int64Array};
        use arrow::datatypes::{DataType, Field, Int64Type, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let part = |from: i64, rows: i64| {
            let n = Int64Array::from_iter_values(from..from + rows);
            arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(n)]).unwrap()
        };
        // 3 + 2 rows reach 4 and become one part; the 10-row part stays itself (not
        // copied); the last run (1 row) is what is left.
        let parts = vec![part(0, 3), part(3, 2), part(5, 10), part(15, 1)];
        let big = parts[2].column(0).to_data().buffers()[0].as_ptr();
        let out = super::coalesce(parts, 4).unwrap();
        let rows: Vec<usize> = out.iter().map(|p| p.num_rows()).collect();
        assert_eq!(rows, [5, 10, 1]);
        assert_eq!(out[1].column(0).to_data().buffers()[0].as_ptr(), big);
        let all: Vec<i64> = (out.iter())
            .flat_map(|p| p.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(all, (0..16).collect::<Vec<i64>>(), "row order kept");
        // A large item ends the run before it; a short run is left at the end.
        assert_eq!(
            super::size_runs(&[1, 1, 9, 2, 2, 1], 4),
            [0..2, 2..3, 3..5, 5..6]
        );
        assert_eq!(super::size_runs(&[5, 5], 4), [0..1, 1..2]);
        assert!(super::size_runs(&[], 4).is_empty());
    }

    #[test]
    fn columns_left_out_are_null_slices_of_one_shared_column() {
        use arrow::array::Array;
        use arrow::datatypes::DataType;
        let nulls = super::Nulls::default();
        let short = nulls.of(&DataType::Utf8, 3);
        let long = nulls.of(&DataType::Utf8, 9000);
        let again = nulls.of(&DataType::Utf8, 2);
        let other = nulls.of(&DataType::Int64, 4);
        for (a, rows) in [(&short, 3), (&long, 9000), (&again, 2), (&other, 4)] {
            assert_eq!((a.len(), a.null_count()), (rows, rows));
        }
        assert_eq!(short.data_type(), &DataType::Utf8);
        assert_eq!(other.data_type(), &DataType::Int64);
        // The longer column made for the second call is the one later calls slice.
        assert_eq!(
            again.to_data().buffers()[0].as_ptr(),
            long.to_data().buffers()[0].as_ptr()
        );
        // The same length again is the same slice, not a new one.
        assert!(std::sync::Arc::ptr_eq(
            &again,
            &nulls.of(&DataType::Utf8, 2)
        ));
        assert!(!std::sync::Arc::ptr_eq(
            &again,
            &nulls.of(&DataType::Utf8, 3)
        ));
    }

    use super::*;

    #[test]
    fn runs_are_listed_only_when_there_are_few_enough() {
        let rows = [(0, 3), (0, 4), (0, 5), (1, 0), (1, 1), (0, 6)];
        let expected = vec![(0, 3, 3), (1, 0, 2), (0, 6, 1)];
        assert_eq!(runs(&rows, 3), Some(expected.clone()));
        assert_eq!(runs(&rows, 7), Some(expected));
        assert_eq!(runs(&rows, 2), None);
        assert_eq!(runs(&rows[..1], 0), None);
        assert_eq!(runs(&[], 0), Some(vec![]));
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

    /// A two-column table: `name` and `source_file` (left empty in the parts).
    fn part(names: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("source_file", DataType::Utf8, true),
        ]));
        let empty = vec![""; names.len()];
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow::array::StringArray::from(names.to_vec())),
                Arc::new(arrow::array::StringArray::from(empty)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn latest_deliveries_are_kept_in_delivery_order() {
        // Keys from a small set (many copies, within and across parts) and nulls, in parts
        // of uneven sizes (some empty); the reference: a walk keeping each key's last row.
        let mut x = 7u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let names: Vec<String> = (0..40).map(|i| format!("dialogue-{i}")).collect();
        let parts: Vec<RecordBatch> = (0..9)
            .map(|p| {
                let n = [0, 1, 30, 300, 5][p % 5];
                let keys: Vec<Option<&str>> = (0..n)
                    .map(|_| match next() % 10 {
                        0 => None,
                        k => Some(names[(k * next() % 40) as usize].as_str()),
                    })
                    .collect();
                let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
                let keys = Arc::new(arrow::array::StringArray::from(keys)) as ArrayRef;
                RecordBatch::try_new(schema, vec![keys]).unwrap()
            })
            .collect();
        let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut want = Vec::new();
        for (p, part) in parts.iter().enumerate() {
            for (r, k) in part.column(0).as_string::<i32>().iter().enumerate() {
                match k {
                    Some(k) => drop(last.insert(k, (p, r))),
                    None => want.push((p, r)),
                }
            }
        }
        want.extend(last.into_values());
        want.sort_unstable();
        let rows: usize = parts.iter().map(|p| p.num_rows()).sum();
        let (kept, dropped) = latest_in_delivery_order(&parts, 0);
        assert_eq!(kept, want);
        assert_eq!(dropped, rows - want.len());
        assert!(
            dropped > 100 && want.len() > 40,
            "copies and nulls both met"
        );
        // The same rows as the key-ordered read keeps, in another order.
        let (mut by_key, dropped_by_key) = latest_by_text_key(&parts, 0);
        by_key.sort_unstable();
        assert_eq!((by_key, dropped_by_key), (want, dropped));
        assert_eq!(latest_in_delivery_order(&[], 0), (vec![], 0));
    }

    fn texts(a: &ArrayRef) -> Vec<&str> {
        a.as_string::<i32>().iter().map(|v| v.unwrap()).collect()
    }

    #[test]
    fn rows_sort_by_group_then_text_as_a_stable_sort_does() {
        type Row = (Option<i64>, Option<&'static str>, usize, usize);
        // Keys sharing their first 16 bytes, shorter than 16, with a zero byte (which the
        // zero-padded prefix cannot tell from the end), empty, null; groups null or not.
        let texts = [
            "0123456789abcdef-b",
            "0123456789abcdef-a",
            "0123456789abcdef",
            "ab",
            "ab\0",
            "",
            "b",
        ];
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        // No rows at all, and parts with none.
        let empty: Vec<Vec<Row>> = vec![Vec::new(); 3];
        assert!(sorted_by_group_and_text(empty.into_par_iter().map(|p| p.into_iter())).is_empty());
        // Small groups, groups large enough to be sorted in parallel themselves, one group.
        for (n, groups) in [(500, 4), (150_000, 2), (300, 1)] {
            let rows: Vec<Row> = (0..n)
                .map(|i| {
                    let g = match next(groups) {
                        0 => None,
                        g => Some(g as i64 - 2),
                    };
                    let k = match next(8) as usize {
                        7 => None,
                        t => Some(texts[t]),
                    };
                    (g, k, i / 100, i % 100)
                })
                .collect();
            let mut expected = rows.clone();
            expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let expected: Vec<(usize, usize)> = expected.iter().map(|r| (r.2, r.3)).collect();
            // The order rows come in does not matter.
            let reversed: Vec<_> = rows.iter().rev().copied().collect();
            // Parts of uneven sizes, some holding several groups.
            let mut parts = |rows: &[Row]| {
                let mut parts = Vec::new();
                let mut rest = rows;
                while !rest.is_empty() {
                    let (part, tail) = rest.split_at((next(40) as usize + 1).min(rest.len()));
                    parts.push(part.to_vec());
                    rest = tail;
                }
                parts
            };
            let (forward, backward) = (parts(&rows), parts(&reversed));
            assert_eq!(
                sorted_by_group_and_text(forward.into_par_iter().map(|p| p.into_iter())),
                expected
            );
            assert_eq!(
                sorted_by_group_and_text(backward.into_par_iter().map(|p| p.into_iter())),
                expected
            );
        }
    }

    #[test]
    fn deferred_rows_in_runs_are_copied_as_row_by_row() {
        // Long runs of a part (copied as slices) and scattered rows (copied row by row).
        // Every third name is longer than the 12 bytes a view holds inline.
        let name = |p: usize, r: usize| match r % 3 {
            0 => format!("{p}-{r}-and-a-longer-name"),
            _ => format!("{p}-{r}"),
        };
        let names: Vec<Vec<String>> = (0..2)
            .map(|p| (0..300).map(|r| name(p, r)).collect())
            .collect();
        let refs: Vec<Vec<&str>> = names
            .iter()
            .map(|n| n.iter().map(String::as_str).collect())
            .collect();
        let parts = vec![part(&refs[0]), part(&refs[1])];
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: Vec::new(),
            parent_key: None,
        };
        let runs: Vec<(usize, usize)> = (5..200)
            .map(|r| (1, r))
            .chain((0..150).map(|r| (0, r)))
            .chain((200..300).map(|r| (1, r)))
            .collect();
        let scattered: Vec<(usize, usize)> = (0..300).map(|i| (i % 2, i * 7 % 300)).collect();
        for positions in [runs, scattered] {
            let got = d.rows(&positions).unwrap();
            let expected: Vec<String> = positions.iter().map(|&(p, r)| name(p, r)).collect();
            assert_eq!(texts(got.column(0)), expected);
            // The same strings as views, the other columns as they were.
            let viewed = d.rows_viewing(&positions, &["name"]).unwrap();
            assert_eq!(viewed.schema().field(0).data_type(), &DataType::Utf8View);
            let views = viewed.column(0).as_string_view();
            let strings: Vec<&str> = views.iter().map(|v| v.unwrap_or("∅")).collect();
            assert_eq!(strings, expected);
            assert_eq!(viewed.column(1), got.column(1));
            let files: Vec<&str> = positions
                .iter()
                .map(|&(p, _)| ["x.json", "y.json"][p])
                .collect();
            assert_eq!(texts(got.column(1)), files);
        }
    }

    #[test]
    fn deferred_rows_come_from_their_positions_with_their_file() {
        let parts = vec![part(&["a", "b", "c"]), part(&["d", "e"])];
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: vec![(1, 1), (0, 2), (1, 0), (0, 0)],
            parent_key: None,
        };
        assert_eq!(d.num_rows(), 4);
        assert_eq!(texts(&d.column("name").unwrap()), ["e", "c", "d", "a"]);
        assert_eq!(
            texts(&d.column("source_file").unwrap()),
            ["y.json", "x.json", "y.json", "x.json"]
        );
        let some = d.rows(&d.positions[1..3]).unwrap();
        assert_eq!(texts(some.column(0)), ["c", "d"]);
        assert_eq!(texts(some.column(1)), ["x.json", "y.json"]);
        assert_eq!(d.rows(&[]).unwrap().num_rows(), 0);
        assert_eq!(d.rows_viewing(&[], &["name"]).unwrap().num_rows(), 0);
        let per_source = d.rows_per_source();
        assert_eq!((per_source["x.json"], per_source["y.json"]), (2, 2));
        let picked = d.select(&["source_file".into()]).unwrap();
        assert_eq!(picked.schema().field(0).name(), "source_file");
        assert_eq!(
            texts(picked.column(0)),
            ["y.json", "x.json", "y.json", "x.json"]
        );
        let none = d.select(&[]).unwrap();
        assert_eq!((none.num_columns(), none.num_rows()), (0, 4));
        assert!(d.select(&["nope".into()]).is_err());
        let all = d.into_batch(|_| true).unwrap();
        assert_eq!(texts(all.column(0)), ["e", "c", "d", "a"]);
        assert_eq!(
            texts(all.column(1)),
            ["y.json", "x.json", "y.json", "x.json"]
        );
    }

    #[test]
    fn a_deferred_child_reads_its_parents_key() {
        // Child rows of two parts; `name` is the parent's key, left empty in the parts.
        let parts = vec![part(&["", "", ""]), part(&[""])];
        let parent = |keys: &[&str]| arrow::array::StringArray::from(keys.to_vec());
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: vec![(1, 0), (0, 0), (0, 1), (0, 2)],
            parent_key: Some(ParentKey {
                column: "name",
                keys: vec![parent(&["p", "q"]), parent(&["r"])],
                rows: vec![vec![0, 0, 1], vec![0]],
            }),
        };
        assert_eq!(texts(&d.column("name").unwrap()), ["r", "p", "p", "q"]);
        assert_eq!(
            texts(d.rows(&d.positions[2..]).unwrap().column(0)),
            ["p", "q"]
        );
        let all = d.into_batch(|_| true).unwrap();
        assert_eq!(texts(all.column(0)), ["r", "p", "p", "q"]);
        assert_eq!(
            texts(all.column(1)),
            ["y.json", "x.json", "x.json", "x.json"]
        );
    }
}
