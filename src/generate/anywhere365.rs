//! Synthetic Anywhere365 Dialogues exports.
//!
//! Dialogues arrive uniformly over each day; 85% inbound. Inbound outcomes: 75% Accepted
//! (queue times mostly short, some long), 15% Abandoned (a third of them quick drops), 10%
//! IvrDrop. The tenant thresholds behind InSLA and QuickDrop are 20 s and 5 s. One file per
//! day, rotating through: an OData page with the documented mixed-case names and "True"/"False";
//! a bare array with PascalCase names and JSON booleans; NDJSON with "Inbound"/"Outbound"; two
//! OData pages where the second repeats the last records of the first.

use serde_json::{json, Map, Value};

use super::{json_err, write_file, Config, Rng, Twin};
use crate::error::{Error, Result};

const QUEUES: [&str; 3] = ["ep-q-sales", "ep-q-support", "ep-q-billing"];
const IVRS: [&str; 2] = ["ep-ivr-01", "ep-ivr-02"];
pub const SLA_THRESHOLD_SEC: f64 = 20.0;
pub const QUICK_DROP_SEC: f64 = 5.0;

#[derive(Debug, Clone)]
struct Dialogue {
    id: String,
    order: u64,
    start: i64,
    queue_enter: Option<i64>,
    accept: Option<i64>,
    end: i64,
    ivr_ms: i64,
    queue_ms: Option<i64>,
    talk_ms: i64,
    ivr_id: &'static str,
    queue_id: Option<&'static str>,
    agent: Option<String>,
    customer: String,
    inbound: bool,
    outcome: &'static str,
    in_sla: Option<bool>,
    quick_drop: Option<bool>,
}

fn dialogue(rng: &mut Rng, n: u64, start: i64) -> Dialogue {
    let inbound = rng.chance(0.85);
    let ivr_ms = if inbound { rng.range(5_000, 60_000) } else { 0 };
    let outcome = if !inbound {
        "Accepted"
    } else {
        *rng.weighted(&[("Accepted", 75), ("Abandoned", 15), ("IvrDrop", 10)])
    };
    let queue_id = (outcome != "IvrDrop").then(|| QUEUES[rng.range(0, 3) as usize]);
    let queue_enter = queue_id.map(|_| start + ivr_ms);
    let (queue_ms, accept, talk_ms, end) = match outcome {
        "Accepted" => {
            let q = if inbound {
                if rng.chance(0.7) {
                    rng.range(0, 20_000)
                } else {
                    rng.range(20_000, 300_000)
                }
            } else {
                0
            };
            let talk = rng.range(30_000, 900_000);
            let accept = start + ivr_ms + q;
            (Some(q), Some(accept), talk, accept + talk)
        }
        "Abandoned" => {
            let wait = if rng.chance(0.33) {
                rng.range(500, 5_000)
            } else {
                rng.range(5_001, 240_000)
            };
            (Some(wait), None, 0, start + ivr_ms + wait)
        }
        _ => (None, None, 0, start + ivr_ms + rng.range(0, 30_000)),
    };
    Dialogue {
        id: format!(
            "{:08x}-5b7e-4c2a-9d11-{:012x}",
            n,
            n.wrapping_mul(2_654_435_761) & 0xffff_ffff_ffff
        ),
        order: 100_000 + n,
        start,
        queue_enter,
        accept,
        end,
        ivr_ms,
        queue_ms,
        talk_ms,
        ivr_id: IVRS[rng.range(0, 2) as usize],
        queue_id,
        agent: accept.map(|_| format!("ep-agent-{:02}", rng.range(1, 13))),
        customer: format!("ep-cust-{}", rng.range(10_000, 99_999)),
        inbound,
        outcome,
        in_sla: (outcome == "Accepted")
            .then(|| queue_ms.unwrap_or(0) as f64 / 1000.0 <= SLA_THRESHOLD_SEC),
        quick_drop: (outcome == "Abandoned")
            .then(|| queue_ms.unwrap_or(0) as f64 / 1000.0 <= QUICK_DROP_SEC),
    }
}

fn iso(ms: i64) -> Value {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into()
}

/// One dialogue as the API renders it, in one of the naming variants.
fn render(d: &Dialogue, variant: usize) -> Value {
    let pascal = variant == 1;
    let name = |camel: &str| -> String {
        match (pascal, camel) {
            (true, c) => {
                let mut cs = c.chars();
                cs.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                    .unwrap_or_default()
            }
            (false, c) => c.to_string(),
        }
    };
    let flag = |b: Option<bool>| -> Value {
        match (b, variant) {
            (None, _) => Value::Null,
            (Some(b), 1) => b.into(),
            (Some(b), _) => if b { "True" } else { "False" }.into(),
        }
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(name(k), v);
    };
    put("id", d.id.clone().into());
    let date = chrono::DateTime::from_timestamp_millis(d.start)
        .unwrap_or_default()
        .date_naive();
    put("startDate", date.to_string().into());
    put("startTimestamp", iso(d.start));
    put(
        "queueEnterTimestamp",
        d.queue_enter.map_or(Value::Null, iso),
    );
    put("acceptTimestamp", d.accept.map_or(Value::Null, iso));
    put("endTimestamp", iso(d.end));
    put("ivrDurationInSec", (d.ivr_ms as f64 / 1000.0).into());
    put(
        "queueDurationInSec",
        d.queue_ms
            .map_or(Value::Null, |q| (q as f64 / 1000.0).into()),
    );
    put(
        "initialTalkDurationInSec",
        (d.talk_ms as f64 / 1000.0).into(),
    );
    put(
        "sessionDurationInSec",
        ((d.end - d.start) as f64 / 1000.0).into(),
    );
    put("ivrId", d.ivr_id.into());
    put("queueId", d.queue_id.into());
    put("customerId", d.customer.clone().into());
    put("agentId", d.agent.clone().into());
    put(
        "direction",
        match (variant, d.inbound) {
            (2, true) => "Inbound".into(),
            (2, false) => "Outbound".into(),
            (_, true) => 1.into(),
            (_, false) => 2.into(),
        },
    );
    // The documented names: Outcome, InSLA and QuickDrop are PascalCase in every variant.
    m.insert("Outcome".into(), d.outcome.into());
    m.insert("InSLA".into(), flag(d.in_sla));
    m.insert("QuickDrop".into(), flag(d.quick_drop));
    m.insert(name("orderNumber"), d.order.into());
    Value::Object(m)
}

fn reference(d: &Dialogue, file: &str, pos: usize) -> Value {
    json!({
        "_file": file, "_pos": pos, "id": d.id, "order_number": d.order,
        "start_us": d.start * 1000, "queue_enter_us": d.queue_enter.map(|t| t * 1000),
        "accept_us": d.accept.map(|t| t * 1000), "end_us": d.end * 1000,
        "ivr_sec": d.ivr_ms as f64 / 1000.0, "queue_sec": d.queue_ms.map(|q| q as f64 / 1000.0),
        "initial_talk_sec": d.talk_ms as f64 / 1000.0, "session_sec": (d.end - d.start) as f64 / 1000.0,
        "ivr_id": d.ivr_id, "queue_id": d.queue_id, "agent_id": d.agent, "customer_id": d.customer,
        "direction": if d.inbound { "inbound" } else { "outbound" }, "outcome": d.outcome,
        "in_sla": d.in_sla, "quick_drop": d.quick_drop,
    })
}

pub fn write(cfg: &Config) -> Result<String> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let mut rng = Rng::new(cfg.seed ^ 0xA365);
    let mut twin = Twin::create(cfg)?;
    let (mut files, mut records, mut n) = (0, 0, 0u64);
    for d in 0..cfg.days as i64 {
        let day = cfg.start + chrono::Duration::days(d);
        let day_ms = super::day_start_ms(cfg, d);
        let mut dialogues: Vec<Dialogue> = (0..cfg.per_day)
            .map(|_| {
                n += 1;
                let start = day_ms + rng.range(0, 86_400_000);
                dialogue(&mut rng, n, start)
            })
            .collect();
        dialogues.sort_by_key(|x| x.start);
        let variant = if cfg.plain { 2 } else { (d % 4) as usize };
        let mut pages: Vec<(String, Vec<&Dialogue>)> = Vec::new();
        if variant == 3 {
            let half = dialogues.len() / 2;
            let overlap = half.saturating_sub(5);
            pages.push((
                format!("dialogues_{day}_page1.json"),
                dialogues[..half].iter().collect(),
            ));
            pages.push((
                format!("dialogues_{day}_page2.json"),
                dialogues[overlap..].iter().collect(),
            ));
        } else {
            pages.push((format!("dialogues_{day}.json"), dialogues.iter().collect()));
        }
        for (name, page) in pages {
            let rendered: Vec<Value> = page.iter().map(|x| render(x, variant)).collect();
            let mut body = Vec::new();
            match variant {
                1 => serde_json::to_writer_pretty(&mut body, &rendered).map_err(json_err)?,
                2 => {
                    for r in &rendered {
                        serde_json::to_writer(&mut body, r).map_err(json_err)?;
                        body.push(b'\n');
                    }
                }
                _ => serde_json::to_writer(
                    &mut body,
                    &json!({"@odata.context": "https://insights.example/odata/$metadata#Dialogues",
                            "@odata.count": rendered.len(), "value": rendered}),
                )
                .map_err(json_err)?,
            }
            write_file(&cfg.out.join(&name), body, false)?;
            for (i, x) in page.iter().enumerate() {
                twin.write(&reference(x, &name, i))?;
            }
            files += 1;
            records += page.len();
        }
    }
    twin.finish()?;
    Ok(format!(
        "wrote {files} files with {records} dialogues ({n} distinct) to {}",
        cfg.out.display()
    ))
}
