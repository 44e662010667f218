//! Synthetic Dialpad message dumps.
//!
//! Customer sessions start uniformly over each day: a bot segment (customer ↔ bot, topics
//! with scores), a hand-off to an agent in about a third of them (customer turns answered
//! after 5 s to 4 min, sometimes two customer messages in a turn, sometimes an agent greeting
//! first), rarely a chain of transfers up to segment 11 ("x.10" ≠ "x.1"), and a survey bot
//! after some agent segments. Message times strictly increase within a session.
//!
//! Dumps are 7-day pulls started every 3 days, so consecutive pulls overlap by 4 days and
//! deliver the same messages again. The framing rotates per pull: a bare array,
//! `[{"messages":[…]}]` in two pages, `{"messages":[…]}`, NDJSON, gzip.

use serde_json::{json, Map, Value};

use super::{json_err, write_file, Config, Rng, Twin};
use crate::error::{Error, Result};

const CHANNELS: [(&str, u32); 4] = [("web", 50), ("whatsapp", 25), ("sms", 15), ("facebook", 10)];
const LANGS: [(&str, u32); 4] = [("en", 70), ("de", 12), ("es", 10), ("fr", 8)];
/// (topic, customer text)
const TOPICS: [(&str, &str); 6] = [
    (
        "change_address",
        "I want to change my address to ****GPE****",
    ),
    ("delivery_status", "where is my order ****ID****"),
    ("cancel_order", "please cancel my order from ****DATE****"),
    ("refund", "I want my ****MONEY**** back"),
    ("opening_hours", "when are you open"),
    ("", "hello?"),
];

#[derive(Debug, Clone)]
struct Msg {
    ts_ms: i64,
    sessionid: String,
    customersessionid: String,
    sendertype: Option<&'static str>,
    chattype: &'static str,
    text: String,
    sentiment: Option<f64>,
    topic: Option<&'static str>,
    score: Option<f64>,
    workflow: Option<&'static str>,
    sendername: Option<String>,
    channel: &'static str,
    lang: &'static str,
}

struct Session<'r> {
    rng: &'r mut Rng,
    t: i64,
    conv: u64,
    customersessionid: String,
    channel: &'static str,
    lang: &'static str,
    out: Vec<Msg>,
}

impl Session<'_> {
    fn msg(&mut self, seg: u32, chattype: &'static str, sender: &'static str, gap: (i64, i64)) {
        self.t += self.rng.range(gap.0, gap.1);
        let customer = sender == "customer";
        let (topic, text) = if customer {
            TOPICS[self.rng.range(0, TOPICS.len() as i64) as usize]
        } else {
            ("", "")
        };
        let text = match sender {
            "customer" => text.to_string(),
            "bot" => "I can help with that.".to_string(),
            _ => "Hi, this is ****NAME****, let me check.".to_string(),
        };
        let with_topic =
            customer && !topic.is_empty() && (chattype == "bot" || self.rng.chance(0.4));
        self.out.push(Msg {
            ts_ms: self.t,
            sessionid: format!("{}.{}", self.conv, seg),
            customersessionid: self.customersessionid.clone(),
            // sendertype is optional: now and then it is missing.
            sendertype: if self.rng.chance(0.01) {
                None
            } else {
                Some(sender)
            },
            chattype,
            text,
            sentiment: if customer && self.rng.chance(0.95) {
                Some((self.rng.range(-10, 11) as f64) / 10.0)
            } else if customer {
                None
            } else {
                Some(0.0)
            },
            topic: with_topic.then_some(topic),
            score: with_topic.then(|| (self.rng.range(40, 100) as f64) / 100.0),
            workflow: (chattype == "bot").then_some(if seg == 1 { "Main Bot" } else { "Survey" }),
            sendername: (sender == "agent").then(|| format!("Agent {}", self.conv % 7)),
            channel: self.channel,
            lang: self.lang,
        });
    }
}

fn session(rng: &mut Rng, n: u64, start_ms: i64) -> Vec<Msg> {
    let conv = 48_000 + n;
    let sign = if rng.chance(0.3) { "-" } else { "" };
    let channel = *rng.weighted(&CHANNELS);
    let lang = *rng.weighted(&LANGS);
    let mut s = Session {
        customersessionid: format!("{sign}{}.{:04}", start_ms / 1_000_000, n % 10_000),
        rng,
        t: start_ms,
        conv,
        channel,
        lang,
        out: Vec::new(),
    };
    for _ in 0..s.rng.range(1, 5) {
        s.msg(1, "bot", "customer", (1_000, 30_000));
        s.msg(1, "bot", "bot", (500, 3_000));
    }
    if !s.rng.chance(0.35) {
        return s.out;
    }
    let last_agent_seg = if s.rng.chance(0.03) { 11 } else { 2 };
    for seg in 2..=last_agent_seg {
        if s.rng.chance(0.3) {
            s.msg(seg, "agent", "agent", (2_000, 20_000)); // a greeting answers nothing
        }
        for _ in 0..s.rng.range(1, if seg == 2 { 6 } else { 2 }) {
            s.msg(seg, "agent", "customer", (1_000, 60_000));
            if s.rng.chance(0.25) {
                s.msg(seg, "agent", "customer", (1_000, 20_000));
            }
            s.msg(seg, "agent", "agent", (5_000, 240_000));
        }
    }
    if s.rng.chance(0.2) {
        let seg = last_agent_seg + 1;
        s.msg(seg, "bot", "bot", (1_000, 5_000));
        s.msg(seg, "bot", "customer", (2_000, 30_000));
    }
    s.out
}

fn render(m: &Msg, plain: bool, quirk: u64) -> Value {
    let mut o = Map::new();
    o.insert("text".into(), m.text.clone().into());
    let t = chrono::DateTime::from_timestamp_millis(m.ts_ms).unwrap_or_default();
    o.insert(
        "timestamp".into(),
        t.format("%Y-%m-%d %H:%M:%S").to_string().into(),
    );
    o.insert("ts".into(), m.ts_ms.into());
    if let Some(st) = m.sendertype {
        o.insert("sendertype".into(), st.into());
    }
    if let Some(n) = &m.sendername {
        o.insert("sendername".into(), n.clone().into());
        o.insert(
            "senderemail".into(),
            format!("{}@example.com", n.replace(' ', ".").to_lowercase()).into(),
        );
    }
    o.insert("sessionid".into(), m.sessionid.clone().into());
    o.insert("sentiment".into(), m.sentiment.into());
    if let Some(w) = m.workflow {
        o.insert("workflow".into(), w.into());
        o.insert(
            "workflownodeid".into(),
            format!("node_{}", quirk % 40).into(),
        );
    }
    o.insert("topic".into(), m.topic.unwrap_or("").into());
    o.insert("score".into(), m.score.unwrap_or(0.0).into());
    if let (Some(topic), Some(score)) = (m.topic, m.score) {
        o.insert(
            "topmatches".into(),
            json!([{"topic": topic, "score": score, "text": m.text},
                   {"topic": "delivery_status", "score": 0.05, "text": "where is my order"}]),
        );
    }
    o.insert("lang".into(), m.lang.into());
    o.insert(
        "customersessionid".into(),
        m.customersessionid.clone().into(),
    );
    o.insert("sessionchannel".into(), m.channel.into());
    match (m.channel, plain) {
        ("whatsapp", _) => {
            o.insert("sessionchannelinfo".into(), json!({"number": "+15550100"}));
        }
        ("facebook", false) => {
            o.insert("sessionchannelinfo".into(), "page:acme".into());
        }
        _ => {}
    }
    o.insert("chattype".into(), m.chattype.into());
    Value::Object(o)
}

/// The plain twin of a delivered message, for DuckDB.
fn reference(m: &Msg, file: &str, pos: usize) -> Value {
    json!({
        "_file": file, "_pos": pos, "sessionid": m.sessionid, "customersessionid": m.customersessionid,
        "ts_us": m.ts_ms * 1000, "sendertype": m.sendertype, "chattype": m.chattype, "text": m.text,
        "sentiment": m.sentiment, "topic": m.topic.unwrap_or(""), "score": m.score.unwrap_or(0.0),
        "lang": m.lang, "workflow": m.workflow, "sessionchannel": m.channel,
    })
}

/// Writes the pulls (and the reference twin); returns a one-line summary.
pub fn write(cfg: &Config) -> Result<String> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let mut rng = Rng::new(cfg.seed ^ 0xD1A1);
    let day0 = cfg
        .start
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis();
    let mut messages = Vec::new();
    let mut n = 0u64;
    for d in 0..cfg.days as i64 {
        for _ in 0..cfg.per_day {
            n += 1;
            let start = day0 + d * 86_400_000 + rng.range(0, 86_400_000);
            messages.extend(session(&mut rng, n, start));
        }
    }
    messages.sort_by_key(|m| m.ts_ms);
    let (window, step) = if cfg.plain {
        (cfg.days as i64, cfg.days as i64)
    } else {
        (7, 3)
    };
    let mut twin = Twin::create(cfg)?;
    let (mut files, mut delivered) = (0, 0);
    let last_ts = messages.last().map_or(day0, |m| m.ts_ms);
    let mut k = 0i64;
    loop {
        let from = day0 + k * step * 86_400_000;
        if from > last_ts {
            break;
        }
        let to = from + window * 86_400_000;
        let pull: Vec<&Msg> = messages
            .iter()
            .filter(|m| m.ts_ms >= from && m.ts_ms < to)
            .collect();
        let day = cfg.start + chrono::Duration::days(k * step);
        let name = format!("dialpad_messages_{day}_{window}d.json");
        let records: Vec<Value> = pull
            .iter()
            .enumerate()
            .map(|(i, m)| render(m, cfg.plain, i as u64))
            .collect();
        let variant = if cfg.plain { 3 } else { k % 5 };
        let mut body = Vec::new();
        match variant {
            0 => serde_json::to_writer(&mut body, &records).map_err(json_err)?,
            1 | 4 => {
                // Two pages, as two wrapper objects.
                let half = records.len() / 2;
                let pages = json!([{"messages": records[..half]}, {"messages": records[half..]}]);
                serde_json::to_writer_pretty(&mut body, &pages).map_err(json_err)?
            }
            2 => {
                serde_json::to_writer(&mut body, &json!({"messages": records})).map_err(json_err)?
            }
            _ => {
                for r in &records {
                    serde_json::to_writer(&mut body, r).map_err(json_err)?;
                    body.push(b'\n');
                }
            }
        }
        write_file(&cfg.out.join(&name), body, variant == 4)?;
        for (i, m) in pull.iter().enumerate() {
            twin.write(&reference(m, &name, i))?;
        }
        files += 1;
        delivered += pull.len();
        k += 1;
        if cfg.plain {
            break;
        }
    }
    twin.finish()?;
    Ok(format!(
        "wrote {files} pulls with {delivered} messages ({} distinct) to {}",
        messages.len(),
        cfg.out.display()
    ))
}
