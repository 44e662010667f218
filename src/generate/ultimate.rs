//! Synthetic Ultimate daily exports.
//!
//! Conversations start uniformly over each day and last minutes (chat) to days (ticket
//! bots); each lands in the file of the UTC day it *ended*, as the vendor's export does.
//! Every file uses one rendering variant, rotating through: NDJSON with BigQuery-style
//! timestamps and string counts; a JSON array with RFC 3339 and numeric counts and intents
//! as JSON strings; gzip NDJSON with UPPER_CASE keys, epoch timestamps and text booleans;
//! gzip pretty JSON array with `+00:00` offsets and v3 fields. About 1% of conversations are
//! delivered twice in a second shard of the same day, and 1% again on a later day with a
//! later end time (the copy that must win).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};

use serde_json::{json, Map, Value};

use super::{json_err, Config, Rng, Twin};
use crate::error::{Error, Result};

const BOTS: [(&str, &str, &str); 2] = [
    ("64f1c2a9e3b1d20012ab34cd", "Acme Chat", "chat"),
    ("64f1c2a9e3b1d20012ab99ef", "Acme Email", "ticket"),
];

/// (name, id, not_meaningful, weight)
const INTENTS: [(&str, &str, bool, u32); 10] = [
    ("Greeting", "i-greet", true, 30),
    ("Talk to a human/agent", "i-human", false, 12),
    ("Order status", "i-order", false, 20),
    ("Change address", "i-address", false, 8),
    ("Refund", "i-refund", false, 10),
    ("Cancel order", "i-cancel", false, 7),
    ("Delivery time", "i-delivery", false, 9),
    ("Opening hours", "i-hours", false, 5),
    ("Thanks", "i-thanks", true, 10),
    ("Goodbye", "i-bye", true, 8),
];

const CHAT_STATUSES: [(Option<&str>, u32); 9] = [
    (Some("botHandled"), 44),
    (Some("agent"), 18),
    (Some("email"), 5),
    (Some("customEscalation"), 5),
    (Some("failedEscalation"), 7),
    (None, 6),
    (Some("bot_handled"), 3),
    (Some(""), 1),
    (Some("noStatus"), 2),
];

const TICKET_STATUSES: [(Option<&str>, u32); 6] = [
    (Some("answered"), 30),
    (Some("processed"), 20),
    (Some("notUnderstood"), 10),
    (Some("escalated"), 20),
    (Some("email"), 15),
    (None, 5),
];

const RESOLUTIONS: [(Option<&str>, u32); 7] = [
    (Some("informed"), 25),
    (Some("resolved"), 25),
    (Some("escalated"), 18),
    (Some("undefined"), 14),
    (Some("unresolved"), 6),
    (None, 10),
    (Some("Informed"), 2),
];

const LANGUAGES: [(&str, u32); 5] = [("en", 60), ("de", 15), ("nl", 10), ("fr", 10), ("es", 5)];
const LABELS: [&str; 4] = ["order_status", "vip", "returns", "complaint"];

/// Source keys of the count fields, in `Conv::counts` order.
const COUNT_KEYS: [&str; 8] = [
    "llm_notUnderstood_count",
    "llm_responseGenerated_count",
    "llm_errorOccurred_count",
    "llm_escalationRequired_count",
    "llm_fallback_count",
    "bot_messages_count",
    "visitor_messages_count",
    "not_understood_messages_count",
];

#[derive(Debug, Clone)]
struct GenIntent {
    index: usize,
    ts_ms: Option<i64>,
    not_meaningful: Option<bool>,
}

#[derive(Debug, Clone)]
struct Conv {
    id: String,
    platform_id: u64,
    bot: usize,
    start_ms: i64,
    end_ms: i64,
    language: &'static str,
    status: Option<&'static str>,
    resolution: Option<&'static str>,
    intents: Vec<GenIntent>,
    counts: [Option<i64>; 8],
    test_mode: bool,
    is_llm: bool,
    labels: Vec<&'static str>,
    order_id: u64,
}

fn conversation(rng: &mut Rng, n: u64, day_ms: i64) -> Conv {
    let bot = if rng.chance(0.8) { 0 } else { 1 };
    let start_ms = day_ms + rng.range(0, 86_400_000);
    // Heavy-tailed durations: chat minutes to ~2 h, ticket bots up to 72 h.
    let max_s = if bot == 0 { 7_200.0 } else { 259_200.0 };
    let dur_ms = ((max_s / 30.0f64).powf(rng.f64()) * 30_000.0) as i64;
    let status = if bot == 0 {
        *rng.weighted(&CHAT_STATUSES)
    } else {
        *rng.weighted(&TICKET_STATUSES)
    };
    let mut t = start_ms + rng.range(500, 5_000);
    let n_intents = *rng.weighted(&[(0usize, 10), (1, 30), (2, 30), (3, 18), (4, 8), (5, 4)]);
    let mut intents: Vec<GenIntent> = (0..n_intents)
        .map(|_| {
            t += rng.range(1_000, 60_000);
            let weights: [(usize, u32); INTENTS.len()] = std::array::from_fn(|i| (i, INTENTS[i].3));
            let index = *rng.weighted(&weights);
            GenIntent {
                index,
                ts_ms: Some(t),
                not_meaningful: Some(INTENTS[index].2),
            }
        })
        .collect();
    for it in intents.iter_mut() {
        if rng.chance(0.04) {
            it.not_meaningful = None; // absent: fails the SQL's `is false`
        }
        if rng.chance(0.02) {
            it.ts_ms = None;
        }
    }
    if intents.len() >= 2 && rng.chance(0.15) {
        // Array order and timestamp order disagree now and then; and timestamps tie.
        let (a, b) = (intents[0].ts_ms, intents[1].ts_ms);
        intents[0].ts_ms = b;
        intents[1].ts_ms = if rng.chance(0.3) { b } else { a };
    }
    let visitor = rng.range(1, 13);
    let is_llm = rng.chance(0.3);
    let mut counts = [
        Some(if is_llm { rng.range(0, 3) } else { 0 }),
        Some(if is_llm { rng.range(1, 6) } else { 0 }),
        Some(if is_llm && rng.chance(0.05) { 1 } else { 0 }),
        Some(if is_llm { rng.range(0, 2) } else { 0 }),
        Some(if is_llm { rng.range(0, 3) } else { 0 }),
        Some(if rng.chance(0.03) {
            0
        } else {
            visitor + rng.range(0, 4)
        }),
        Some(visitor),
        Some(rng.range(0, visitor / 3 + 1)),
    ];
    for c in counts.iter_mut() {
        if rng.chance(0.015) {
            *c = None;
        }
    }
    let n_labels = rng.range(0, 3) as usize;
    let language = *rng.weighted(&LANGUAGES);
    Conv {
        id: format!(
            "{:024x}",
            (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x6641_b0e2) as u128 | ((n as u128) << 64)
        ),
        platform_id: 10_000 + n,
        bot,
        start_ms,
        end_ms: start_ms + dur_ms,
        language,
        status,
        resolution: *rng.weighted(&RESOLUTIONS),
        intents,
        counts,
        test_mode: rng.chance(0.03),
        is_llm,
        labels: (0..n_labels)
            .map(|i| LABELS[(n as usize + i) % LABELS.len()])
            .collect(),
        order_id: rng.range(1000, 99_999) as u64,
    }
}

/// How one file renders its records.
#[derive(Debug, Clone, Copy)]
struct Variant {
    array: bool,
    gzip: bool,
    pretty: bool,
    upper: bool,
    ts: TsStyle,
    numeric_counts: bool,
    intents_as_text: bool,
    text_bools: bool,
    v3: bool,
}

#[derive(Debug, Clone, Copy)]
enum TsStyle {
    BigQuery,
    Rfc3339Z,
    EpochMs,
    Offset,
}

const PLAIN: Variant = Variant {
    array: false,
    gzip: false,
    pretty: false,
    upper: false,
    ts: TsStyle::BigQuery,
    numeric_counts: false,
    intents_as_text: false,
    text_bools: false,
    v3: false,
};

fn variant(k: usize) -> Variant {
    match k % 4 {
        0 => PLAIN,
        1 => Variant {
            array: true,
            ts: TsStyle::Rfc3339Z,
            numeric_counts: true,
            intents_as_text: true,
            ..PLAIN
        },
        2 => Variant {
            gzip: true,
            upper: true,
            ts: TsStyle::EpochMs,
            text_bools: true,
            ..PLAIN
        },
        _ => Variant {
            array: true,
            gzip: true,
            pretty: true,
            ts: TsStyle::Offset,
            v3: true,
            ..PLAIN
        },
    }
}

fn ts(ms: i64, style: TsStyle) -> Value {
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    match style {
        TsStyle::BigQuery => Value::from(t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()),
        TsStyle::Rfc3339Z => Value::from(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        TsStyle::EpochMs => Value::from(ms),
        TsStyle::Offset => Value::from(t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()),
    }
}

fn render(c: &Conv, v: Variant, quirk: u64) -> Value {
    let (bot_id, bot_name, channel) = BOTS[c.bot];
    let mut m = Map::new();
    let mut put = |k: &str, val: Value| {
        let k = if v.upper {
            k.to_uppercase()
        } else {
            k.to_string()
        };
        m.insert(k, val);
    };
    let boolean = |b: bool| {
        if v.text_bools {
            Value::from(b.to_string())
        } else {
            Value::from(b)
        }
    };
    put("bot_id", bot_id.into());
    put("bot_name", bot_name.into());
    put("conversation_id", c.id.clone().into());
    put(
        "platform_conversation_id",
        if v.numeric_counts {
            c.platform_id.into()
        } else {
            c.platform_id.to_string().into()
        },
    );
    put("conversation_start_time", ts(c.start_ms, v.ts));
    put("conversation_end_time", ts(c.end_ms, v.ts));
    put("language", c.language.into());
    put("channel", channel.into());
    put("labels", json!(c.labels));
    let data = json!({"order_id": format!("A-{}", c.order_id), "country": "DE"}).to_string();
    put(
        if v.upper || v.v3 {
            "conversation_data"
        } else {
            "conversations_data"
        },
        data.into(),
    );
    put("test_mode", boolean(c.test_mode));
    match (c.status, quirk % 2) {
        (Some(s), _) => put("conversation_status", s.into()),
        (None, 0) => put("conversation_status", Value::Null),
        (None, _) => {} // absent
    }
    match c.resolution {
        Some(r) => put("last_resolution", r.into()),
        None => put("last_resolution", Value::Null),
    }
    put(
        "triggered_replies",
        json!([{"reply_timestamp": ts(c.start_ms + 400, v.ts), "reply_id": "r1", "reply_language": c.language,
                "reply_name": "Welcome", "reply_type": "dialogue", "intent_id": null}]),
    );
    let intents: Vec<Value> = c
        .intents
        .iter()
        .map(|it| {
            let (name, id, _, _) = INTENTS[it.index];
            let mut o = Map::new();
            o.insert(
                "intent_timestamp".into(),
                it.ts_ms.map_or(Value::Null, |t| ts(t, v.ts)),
            );
            o.insert("intent_id".into(), id.into());
            o.insert("intent_name".into(), name.into());
            if let Some(nm) = it.not_meaningful {
                o.insert("not_meaningful".into(), nm.into());
            }
            if v.intents_as_text {
                Value::from(Value::Object(o).to_string())
            } else {
                Value::Object(o)
            }
        })
        .collect();
    put("triggered_intent_replies", intents.into());
    put("is_llm_conversation", boolean(c.is_llm));
    for (i, key) in COUNT_KEYS.iter().enumerate() {
        match c.counts[i] {
            Some(n) if v.numeric_counts => put(key, n.into()),
            Some(n) => put(key, n.to_string().into()),
            None if (quirk + i as u64).is_multiple_of(3) => put(key, "".into()),
            None if (quirk + i as u64) % 3 == 1 => put(key, Value::Null),
            None => {}
        }
    }
    if v.v3 {
        put("conversation_type", "messaging".into());
        put(
            "automated_resolution",
            (c.status == Some("botHandled")).into(),
        );
        put(
            "knowledge_sources",
            json!([{"article_name": "Shipping FAQ"}]),
        );
        put("segments", json!([]));
        put("session_ended_timestamp", ts(c.end_ms, v.ts));
    }
    Value::Object(m)
}

/// The plain twin of a delivered record, for DuckDB: canonical keys, integer counts or
/// null, epoch-µs instants, intents as objects; `_file`/`_pos` give the delivery order.
fn reference(c: &Conv, file: &str, pos: usize) -> Value {
    let (bot_id, bot_name, channel) = BOTS[c.bot];
    let intents: Vec<Value> = c
        .intents
        .iter()
        .map(|it| {
            let (name, id, _, _) = INTENTS[it.index];
            json!({"intent_timestamp_us": it.ts_ms.map(|t| t * 1000), "intent_id": id,
                   "intent_name": name, "not_meaningful": it.not_meaningful})
        })
        .collect();
    let mut m = Map::new();
    m.insert("_file".into(), file.into());
    m.insert("_pos".into(), pos.into());
    m.insert("conversation_id".into(), c.id.clone().into());
    m.insert("bot_id".into(), bot_id.into());
    m.insert("bot_name".into(), bot_name.into());
    m.insert("channel".into(), channel.into());
    m.insert("language".into(), c.language.into());
    m.insert("start_us".into(), (c.start_ms * 1000).into());
    m.insert("end_us".into(), (c.end_ms * 1000).into());
    m.insert("test_mode".into(), c.test_mode.into());
    m.insert("conversation_status".into(), c.status.into());
    m.insert("last_resolution".into(), c.resolution.into());
    m.insert("is_llm_conversation".into(), c.is_llm.into());
    for (i, key) in COUNT_KEYS.iter().enumerate() {
        m.insert(key.to_lowercase(), c.counts[i].into());
    }
    m.insert("triggered_intent_replies".into(), intents.into());
    Value::Object(m)
}

fn day_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis()
}

/// Writes the exports (and the reference twin); returns a one-line summary.
pub fn write(cfg: &Config) -> Result<String> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let mut rng = Rng::new(cfg.seed);
    // (bot, end date, shard) -> records, in delivery order.
    let mut files: BTreeMap<(usize, NaiveDate, u32), Vec<Conv>> = BTreeMap::new();
    let mut n = cfg.seed.wrapping_mul(1_000_003);
    let mut total = 0usize;
    for d in 0..cfg.days {
        let day = cfg.start + chrono::Duration::days(d as i64);
        for _ in 0..cfg.per_day {
            n += 1;
            let c = conversation(&mut rng, n, day_ms(day));
            let end_day = DateTime::from_timestamp_millis(c.end_ms)
                .unwrap_or_default()
                .date_naive();
            if !cfg.plain && rng.chance(0.01) {
                files
                    .entry((c.bot, end_day, 1))
                    .or_default()
                    .push(c.clone());
                total += 1;
            }
            if !cfg.plain && rng.chance(0.01) {
                let mut later = c.clone();
                later.end_ms += rng.range(3_600_000, 3 * 3_600_000);
                later.status = Some("agent");
                later.resolution = Some("escalated");
                let later_day = DateTime::from_timestamp_millis(later.end_ms)
                    .unwrap_or_default()
                    .date_naive();
                files.entry((c.bot, later_day, 0)).or_default().push(later);
                total += 1;
            }
            files.entry((c.bot, end_day, 0)).or_default().push(c);
            total += 1;
        }
    }
    let mut twin = Twin::create(cfg)?;
    for (k, ((bot, day, shard), convs)) in files.iter().enumerate() {
        let v = if cfg.plain { PLAIN } else { variant(k) };
        let name = format!("conversation_{}_{}_{:012}.json", BOTS[*bot].0, day, shard);
        let path = cfg.out.join(&name);
        let mut body = Vec::new();
        if v.array {
            let records: Vec<Value> = convs
                .iter()
                .enumerate()
                .map(|(i, c)| render(c, v, i as u64))
                .collect();
            let arr = Value::Array(records);
            if v.pretty {
                serde_json::to_writer_pretty(&mut body, &arr)
            } else {
                serde_json::to_writer(&mut body, &arr)
            }
            .map_err(json_err)?;
            body.push(b'\n');
        } else {
            for (i, c) in convs.iter().enumerate() {
                serde_json::to_writer(&mut body, &render(c, v, i as u64)).map_err(json_err)?;
                body.push(b'\n');
            }
        }
        super::write_file(&path, body, v.gzip)?;
        for (i, c) in convs.iter().enumerate() {
            twin.write(&reference(c, &name, i))?;
        }
    }
    twin.finish()?;
    Ok(format!(
        "wrote {} files with {} records to {}",
        files.len(),
        total,
        cfg.out.display()
    ))
}
