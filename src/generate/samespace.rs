//! Synthetic Samespace reports: calls, CSAT, agent session logs and productivity.
//!
//! Calls start uniformly over each day, 70% inbound; 80% of inbound and 65% of outbound calls
//! are answered after 3–40 s of ringing; 40% of answered calls have hold time (part of their
//! duration). A third of answered inbound calls have a CSAT record with after-call work and
//! answers to three 1–5 questions and one 0–10 question (now and then "N/A", or a "-1" or
//! "11" that no scale holds). Each agent logs in one to three times a day. The productivity
//! report has one record per agent.
//!
//! Call files rotate per day through plain JSON `{"total","data"}`, mongo-shell documents
//! (`ObjectId`, `ISODate`, `NumberLong`), Extended JSON (`$oid`, `$date`, `$numberLong`) and
//! a bare array; about 1% of calls are delivered again the next day.

use serde_json::{json, Value};

use super::{json_err, write_file, Config, Rng, Twin};
use crate::error::{Error, Result};

const TEAMS: [&str; 3] = ["Support", "Sales", "Billing"];
const AGENTS: [&str; 8] = [
    "Ana Ruiz",
    "Ben Okafor",
    "Chen Wei",
    "Dana Levi",
    "Eli Novak",
    "Fay Ito",
    "Gus Moreau",
    "Hana Berg",
];
const QUESTIONS: [(&str, i64); 4] = [
    (
        "SURVEY_ANSWER_1:How would you rate the support you received?",
        5,
    ),
    ("SURVEY_ANSWER_2:How knowledgeable was the agent?", 5),
    ("SURVEY_ANSWER_3:How courteous was the agent?", 5),
    (
        "SURVEY_ANSWER_4:How likely are you to recommend us (0-10)?",
        10,
    ),
];

#[derive(Debug, Clone)]
struct Call {
    id: String,
    uuid: String,
    inbound: bool,
    agent: usize,
    start: i64,
    answer: Option<i64>,
    end: i64,
    duration: i64,
    hold: i64,
    mos: f64,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn call(rng: &mut Rng, n: u64, start: i64) -> Call {
    let inbound = rng.chance(0.7);
    let answered = rng.chance(if inbound { 0.8 } else { 0.65 });
    let ring = rng.range(3_000, 40_000);
    let (answer, duration, hold) = if answered {
        let d = rng.range(30, 900);
        let hold = if rng.chance(0.4) {
            rng.range(5, d.min(120))
        } else {
            0
        };
        (Some(start + ring), d, hold)
    } else {
        (None, 0, 0)
    };
    let end = answer.map_or(start + ring, |a| a + duration * 1000 + rng.range(0, 900));
    Call {
        id: format!("{:024x}", 0x6630_a1b2_c3d4_u128 << 48 | n as u128),
        uuid: format!(
            "{:08x}-0a1b-11ef-9c2d-{:012x}",
            n,
            n.wrapping_mul(40_503) & 0xffff_ffff_ffff
        ),
        inbound,
        agent: rng.range(0, AGENTS.len() as i64) as usize,
        start,
        answer,
        end,
        duration,
        hold,
        mos: if answered {
            rng.range(35, 46) as f64 / 10.0
        } else {
            4.5
        },
    }
}

fn team(agent: usize) -> &'static str {
    TEAMS[agent % TEAMS.len()]
}

/// A call in one of the four notations, as JSON text (mongo shell is not JSON).
fn render_call(c: &Call, notation: usize) -> String {
    let status = if c.answer.is_some() {
        "answered"
    } else {
        "failed"
    };
    let (dir, caller, callee) = if c.inbound {
        (
            "in",
            "14155550123".to_string(),
            AGENTS[c.agent].to_lowercase().replace(' ', "."),
        )
    } else {
        (
            "out",
            AGENTS[c.agent].to_lowercase().replace(' ', "."),
            "14156369898".to_string(),
        )
    };
    let common = |id: Value, t: &dyn Fn(Option<i64>) -> Value, n: &dyn Fn(i64) -> Value| {
        json!({
            "_id": id, "x_origin_id": c.uuid, "uuid": c.uuid, "channel": "voice", "direction": dir,
            "type": "team", "endpoint_type": "WEB", "user_display_name": AGENTS[c.agent],
            "caller": caller, "callee": callee, "team_name": team(c.agent),
            "start_time": t(Some(c.start)), "answer_time": t(c.answer), "end_time": t(Some(c.end)),
            "progress_duration": n(0), "duration": n(c.duration), "conference_duration": n(0),
            "hold_duration": n(c.hold), "status": status, "terminated_by": "customer",
            "termination_cause": "NORMAL_CLEARING", "codec": "PCMU", "mos": c.mos,
            "domain_id": n(1455), "custom_data": {},
        })
    };
    match notation {
        1 => {
            // Mongo shell: placeholders replaced by shell calls after serialisation.
            let v = common(
                json!(format!("@OID@{}", c.id)),
                &|t| t.map_or(Value::Null, |t| json!(format!("@DATE@{}", iso(t)))),
                &|n| json!(format!("@LONG@{n}")),
            );
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            let text = regex_free_replace(&text, "\"@OID@", "ObjectId(\"", "\"");
            let text = regex_free_replace(&text, "\"@DATE@", "ISODate(\"", "\"");
            regex_free_replace(&text, "\"@LONG@", "NumberLong(", "")
        }
        2 => common(
            json!({"$oid": c.id}),
            &|t| t.map_or(Value::Null, |t| json!({"$date": iso(t)})),
            &|n| json!({"$numberLong": n.to_string()}),
        )
        .to_string(),
        _ => common(
            json!(c.id),
            &|t| t.map_or(Value::Null, |t| json!(iso(t))),
            &|n| json!(n),
        )
        .to_string(),
    }
}

/// Replaces `"@TAG@value"` (a placeholder string) by `open value close)`.
fn regex_free_replace(text: &str, tag: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(tag) {
        out.push_str(&rest[..i]);
        let after = &rest[i + tag.len()..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(open);
        out.push_str(&after[..end]);
        out.push_str(close);
        out.push(')');
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

pub fn write(cfg: &Config) -> Result<String> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let mut rng = Rng::new(cfg.seed ^ 0x5A3E);
    let mut twin = Twin::create(cfg)?;
    let mut emit = |v: Value| twin.write(&v);
    let (mut n, mut answer_n, mut files) = (0u64, 0u64, 0);
    let mut all_calls: Vec<Call> = Vec::new();
    let mut carry: Vec<Call> = Vec::new();
    let mut csat_records: Vec<Value> = Vec::new();
    let mut logs: Vec<Value> = Vec::new();
    for d in 0..cfg.days as i64 {
        let day = cfg.start + chrono::Duration::days(d);
        let day_ms = super::day_start_ms(cfg, d);
        let mut calls: Vec<Call> = (0..cfg.per_day)
            .map(|_| {
                n += 1;
                let start = day_ms + rng.range(0, 86_400_000);
                call(&mut rng, n, start)
            })
            .collect();
        calls.sort_by_key(|c| c.start);
        let mut delivered: Vec<Call> = std::mem::take(&mut carry);
        delivered.extend(calls.iter().cloned());
        if !cfg.plain {
            carry = calls.iter().filter(|_| rng.chance(0.01)).cloned().collect();
        }
        let notation = if cfg.plain { 0 } else { (d % 4) as usize };
        let name = format!("calls_{day}.json");
        let texts: Vec<String> = delivered.iter().map(|c| render_call(c, notation)).collect();
        let body = match notation {
            0 => format!(
                "{{\"total\":{},\"data\":[{}]}}\n",
                texts.len(),
                texts.join(",")
            ),
            1 => texts.join("\n") + "\n",
            _ => format!("[{}]\n", texts.join(",\n")),
        };
        write_file(&cfg.out.join(&name), body.into_bytes(), false)?;
        files += 1;
        for (i, c) in delivered.iter().enumerate() {
            emit(json!({
                "_table": "calls", "_file": name, "_pos": i, "uuid": c.uuid,
                "direction": if c.inbound { "in" } else { "out" }, "team_name": team(c.agent),
                "user_display_name": AGENTS[c.agent], "start_us": c.start * 1000,
                "answer_us": c.answer.map(|t| t * 1000), "end_us": c.end * 1000,
                "duration": c.duration, "hold_duration": c.hold, "mos": c.mos,
                "status": if c.answer.is_some() { "answered" } else { "failed" },
            }))?;
        }
        // CSAT for a third of the answered inbound calls.
        for c in calls.iter().filter(|c| c.inbound && c.answer.is_some()) {
            if !rng.chance(0.33) {
                continue;
            }
            let acw = rng.range(10, 120);
            let mut items = Vec::new();
            for (qi, (question, scale)) in QUESTIONS.iter().enumerate() {
                if rng.chance(0.1) {
                    continue;
                }
                answer_n += 1;
                let answer = if rng.chance(0.02) {
                    // One broken answer in fifty, of three kinds (no draw of its own, so the
                    // rest of the stream is what it was).
                    ["N/A", "-1", "11"][answer_n as usize % 3].to_string()
                } else if *scale == 10 {
                    rng.range(0, 11).to_string()
                } else {
                    (*rng.weighted(&[(1, 5), (2, 7), (3, 15), (4, 35), (5, 38)])).to_string()
                };
                let ts = c.end + 5_000 + qi as i64 * 4_000;
                items.push(
                    json!({"_id": format!("63b2d22bc6e3fe49{:08x}", answer_n), "timestamp": iso(ts),
                                  "uuid": c.uuid, "question": question, "answer": answer}),
                );
                emit(json!({"_table": "csat_answers", "call_uuid": c.uuid,
                            "answer_id": format!("63b2d22bc6e3fe49{:08x}", answer_n),
                            "question_id": qi as i64 + 1, "answer_text": answer,
                            "answered_us": ts * 1000, "team_name": team(c.agent),
                            "user_display_name": AGENTS[c.agent]}))?;
            }
            emit(json!({"_table": "csat_calls", "call_uuid": c.uuid, "acw_duration": acw}))?;
            csat_records.push(json!({
                "_id": c.uuid, "csat": items, "direction": "in", "caller": "14155550123",
                "callee": "18886669555", "user_display_name": AGENTS[c.agent], "team_name": team(c.agent),
                "start_time": iso(c.start), "end_time": iso(c.end), "duration": c.duration,
                "acw_duration": acw, "conversation_tags": ["Resolved"], "notes": "",
            }));
        }
        // Agent logins.
        for (a, agent) in AGENTS.iter().enumerate() {
            let mut t = day_ms + 7 * 3_600_000 + rng.range(0, 3_600_000);
            for s in 0..rng.range(1, 4) {
                let len = rng.range(600, 4 * 3_600) * 1000;
                let reason =
                    *rng.weighted(&[("Logout", 70), ("Network Loss", 20), ("Idle Timeout", 10)]);
                let id = format!("62bdac0dfa59dc03{:04x}{:04x}", d * 8 + a as i64, s);
                logs.push(json!({"_id": id.clone(), "session_id": format!("{id}-session"), "domain_id": 1703,
                    "user_system_id": format!("61efa2871b1efd2313{:06x}", a), "user_login_id": "",
                    "user_display_name": agent, "ip_address": "0.0.0.0", "start_time": iso(t),
                    "end_time": iso(t + len), "activity": "login", "logout_reason": reason,
                    "session_duration": len / 1000}));
                emit(
                    json!({"_table": "agent_sessions", "id": id, "user_display_name": agent,
                            "start_us": t * 1000, "logout_reason": reason, "session_duration": len / 1000}),
                )?;
                t += len + rng.range(60_000, 3_600_000);
            }
        }
        all_calls.extend(calls);
    }
    write_file(
        &cfg.out.join("csat.json"),
        serde_json::to_vec_pretty(&json!({"total": csat_records.len(), "data": csat_records}))
            .map_err(json_err)?,
        false,
    )?;
    // Session logs in mongo-shell notation, one document after another.
    let shell: Vec<String> = logs
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if let Some(o) = l.as_object_mut() {
                for (key, tag) in [
                    ("_id", "@OID@"),
                    ("start_time", "@DATE@"),
                    ("end_time", "@DATE@"),
                ] {
                    if let Some(Value::String(v)) = o.get(key) {
                        let tagged = format!("{tag}{v}");
                        o.insert(key.into(), tagged.into());
                    }
                }
            }
            let text = serde_json::to_string_pretty(&l).unwrap_or_default();
            let text = regex_free_replace(&text, "\"@OID@", "ObjectId(\"", "\"");
            regex_free_replace(&text, "\"@DATE@", "ISODate(\"", "\"")
        })
        .collect();
    write_file(
        &cfg.out.join("agent_logs.json"),
        (shell.join("\n") + "\n").into_bytes(),
        false,
    )?;
    // Productivity: one record per agent, from that agent's calls.
    let mut productivity = Vec::new();
    for (a, agent) in AGENTS.iter().enumerate() {
        let mine: Vec<&Call> = all_calls.iter().filter(|c| c.agent == a).collect();
        let answered: Vec<&&Call> = mine.iter().filter(|c| c.answer.is_some()).collect();
        let inbound: Vec<&&Call> = answered.iter().filter(|c| c.inbound).copied().collect();
        let mean = |xs: Vec<f64>| {
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().sum::<f64>() / xs.len() as f64
            }
        };
        let rec = json!({
            "_id": format!("5e97fbfafee6373b23aa{:04x}", a), "user": agent.split(' ').next().unwrap_or(agent),
            "session_duration": rng.range(20_000, 200_000), "away_time": rng.range(0, 20_000),
            "acd": mean(answered.iter().map(|c| c.duration as f64).collect()),
            "acw": rng.range(10, 90), "asa": mean(inbound.iter().map(|c| (c.answer.unwrap_or(c.start) - c.start) as f64 / 1000.0).collect()),
            "avg_hold_time": mean(answered.iter().map(|c| c.hold as f64).collect()),
            "avg_ring_duration": rng.range(3, 30),
            "inbound_conversations": inbound.len(), "outbound_conversations": answered.len() - inbound.len(),
        });
        let mut r = rec.clone();
        if let Some(o) = r.as_object_mut() {
            o.insert("_table".into(), "productivity".into());
        }
        emit(r)?;
        productivity.push(rec);
    }
    write_file(
        &cfg.out.join("productivity.json"),
        serde_json::to_vec_pretty(&productivity).map_err(json_err)?,
        false,
    )?;
    twin.finish()?;
    Ok(format!(
        "wrote {} files: {} calls, {} CSAT records, {} agent sessions, {} productivity records to {}",
        files + 3,
        all_calls.len(),
        csat_records.len(),
        logs.len(),
        AGENTS.len(),
        cfg.out.display()
    ))
}
