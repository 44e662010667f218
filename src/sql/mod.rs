//! `cxkpi sql`: a KPI family as SQL that DuckDB or Spark runs over the lake's tables (as
//! `cxkpi ddl` defines them) and that returns what `cxkpi metrics --lake` returns.
//!
//! The SQL lives in `queries/` as templates, one per family or view, embedded here; this
//! module fills in the query (range, buckets in a zone, `--by`) and the family's options.
//! The test suite runs the rendered SQL on DuckDB and Spark against `cxkpi metrics`, so a
//! template and the Rust definition cannot drift apart unnoticed.

pub mod dialect;

use crate::error::{Error, Result};
use crate::metrics::{self, agents, bot, messaging, queue, Query};
use crate::time::Interval;
pub use dialect::Engine;

/// One family or view and its options: what `cxkpi metrics` takes besides the query.
#[derive(Debug, Clone)]
pub enum Family {
    Bot(bot::Options),
    Messaging(messaging::Options),
    Queue(queue::Options),
    Calls,
    Csat,
    Agents(agents::Source),
}

const BOT: &str = include_str!("../../queries/ultimate/bot.sql");
const QUEUE: &str = include_str!("../../queries/anywhere365/queue.sql");
const CALLS: &str = include_str!("../../queries/samespace/calls.sql");
const CSAT: &str = include_str!("../../queries/samespace/csat.sql");
const AGENTS: &str = include_str!("../../queries/samespace/agents.sql");
const PRODUCTIVITY: &str = include_str!("../../queries/samespace/productivity.sql");
const INTERACTIONS_TABLE: &str = include_str!("../../queries/dialpad/interactions_table.sql");
const INTERACTIONS: &str = include_str!("../../queries/dialpad/interactions.sql");
const INTERACTION_TYPE: &str = include_str!("../../queries/dialpad/interaction-type.sql");
const CUSTOMER_ENDPOINT: &str = include_str!("../../queries/dialpad/customer-endpoint.sql");
const INTENTS: &str = include_str!("../../queries/dialpad/intents.sql");
const SENTIMENT: &str = include_str!("../../queries/dialpad/sentiment.sql");
const HANDOFF: &str = include_str!("../../queries/dialpad/handoff.sql");
const RESPONSE_TIMES: &str = include_str!("../../queries/dialpad/response-times.sql");

/// The statements (views first, the query last), each ending with `;` and a newline.
pub fn render(family: &Family, q: &Query, engine: Engine) -> Result<String> {
    let (statements, q, vars) = plan(family, q, engine)?;
    let r = Renderer {
        engine,
        q: &q,
        vars: &vars,
    };
    let mut out = String::new();
    for template in statements {
        out.push_str(r.expand(template)?.trim_end());
        out.push_str(";\n");
    }
    Ok(out)
}

/// The templates to render, the query as the family sees it (its leading dimension first),
/// and the family's placeholders.
type Plan = (Vec<&'static str>, Query, Vec<(&'static str, String)>);

fn plan(family: &Family, q: &Query, e: Engine) -> Result<Plan> {
    let mut q = q.clone();
    let mut vars: Vec<(&'static str, String)> = Vec::new();
    let statements = match family {
        Family::Bot(o) => {
            let time = match o.time {
                bot::TimeBasis::Start => "conversation_start_time",
                bot::TimeBasis::End => "conversation_end_time",
            };
            let norm = o.status_match == bot::StatusMatch::Normalized;
            let value = |s: &str| match norm {
                true => e.text(&bot::normalize(s)),
                false => e.text(s),
            };
            let list = |v: &[&str]| v.iter().map(|s| value(s)).collect::<Vec<_>>().join(", ");
            let column = |c: &str| match norm {
                true => e.normalized(c),
                false => c.to_string(),
            };
            let mut filters = String::new();
            if o.exclude_test {
                filters.push_str("\n    AND NOT coalesce(test_mode, false)");
            }
            if o.bot_summary {
                filters.push_str("\n    AND coalesce(bot_messages_count > 0, false)");
            }
            if q.by.iter().any(|d| d == "first_meaningful_intent") && !o.include_no_intent {
                filters.push_str("\n    AND first_meaningful_intent IS NOT NULL");
            }
            vars.extend([
                ("time", time.to_string()),
                ("status", column("conversation_status")),
                ("resolution", column("last_resolution")),
                ("bot_handled", value(bot::BOT_HANDLED)),
                ("escalated", list(bot::ESCALATION_STATUSES)),
                ("failed_escalation", value(bot::FAILED_ESCALATION)),
                ("informed", value(bot::INFORMED)),
                ("automated", list(bot::AUTOMATED_RESOLUTIONS)),
                ("filters", filters),
            ]);
            vec![BOT]
        }
        Family::Queue(o) => {
            queue::check_thresholds(o)?;
            let direction = match o.direction {
                queue::DirectionFilter::Inbound => "\n    AND lower(direction) = 'inbound'",
                queue::DirectionFilter::Outbound => "\n    AND lower(direction) = 'outbound'",
                queue::DirectionFilter::All => "",
            };
            let (sla, in_sla, known) = match o.sla_threshold {
                None => (String::new(), "in_sla".into(), "in_sla IS NOT NULL".into()),
                Some(t) => (
                    format!("_{}", queue::secs(t)),
                    format!("queue_sec <= {t}"),
                    "queue_sec IS NOT NULL".into(),
                ),
            };
            let (quick_suffix, quick) = match o.quick_drop_threshold {
                None => (String::new(), "quick_drop".to_string()),
                Some(t) => (
                    format!("_{}", queue::secs(t)),
                    format!("abandon_wait_sec <= {t}"),
                ),
            };
            let t = o.sla_threshold.unwrap_or(queue::DEFAULT_SLA_THRESHOLD);
            let mut levels = String::new();
            for v in &o.service_levels {
                let (num, den) = match v {
                    queue::ServiceLevel::V1 => ("awt", "accepted"),
                    queue::ServiceLevel::V2 | queue::ServiceLevel::V6 => {
                        ("awt", "accepted + abandoned")
                    }
                    queue::ServiceLevel::V3 => ("awt", "accepted + abandoned - quick_drops"),
                    queue::ServiceLevel::V4 => ("awt", "accepted + abandoned - abt"),
                    queue::ServiceLevel::V5 => ("awt + abt", "accepted + abandoned"),
                };
                let name = queue::service_level_name(*v, t);
                levels.push_str(&format!(
                    ",\n  {num} AS {name}_num,\n  {den} AS {name}_den,\n  CAST({num} AS DOUBLE) / NULLIF({den}, 0) AS {name}"
                ));
            }
            vars.extend([
                ("direction", direction.to_string()),
                ("sla", sla),
                ("in_sla", in_sla),
                ("sla_known", known),
                ("q", quick_suffix),
                ("quick", quick),
                ("t", t.to_string()),
                ("service_levels", levels),
            ]);
            vec![QUEUE]
        }
        Family::Calls => vec![CALLS],
        Family::Csat => {
            q = metrics::lead(&q, "question_id");
            vec![CSAT]
        }
        Family::Agents(agents::Source::Logs) => vec![AGENTS],
        Family::Agents(agents::Source::Productivity) => {
            agents::check_untimed(&q)?;
            vec![PRODUCTIVITY]
        }
        Family::Messaging(o) => {
            use messaging::View;
            if o.intent_type.is_some() && o.view != View::Intents {
                return Err(Error::Usage(
                    "--intent-type applies to --view intents only".into(),
                ));
            }
            let lead = match o.view {
                View::InteractionType => Some("chattype"),
                View::CustomerEndpoint => Some("sessionchannel"),
                View::Intents => Some("topic"),
                _ => None,
            };
            if let Some(d) = lead {
                q = metrics::lead(&q, d);
            }
            let intent_type = match o.intent_type {
                None => String::new(),
                Some(messaging::IntentType::Bot) => "\n    AND lower(chattype) = 'bot'".into(),
                Some(messaging::IntentType::Agent) => "\n    AND lower(chattype) = 'agent'".into(),
            };
            vars.push(("intent_type", intent_type));
            let view = match o.view {
                View::Interactions => INTERACTIONS,
                View::InteractionType => INTERACTION_TYPE,
                View::CustomerEndpoint => CUSTOMER_ENDPOINT,
                View::Intents => INTENTS,
                View::Sentiment => SENTIMENT,
                View::Handoff => HANDOFF,
                View::ResponseTimes => RESPONSE_TIMES,
            };
            match o.view {
                View::Intents | View::Sentiment => vec![view],
                _ => vec![INTERACTIONS_TABLE, view],
            }
        }
    };
    Ok((statements, q, vars))
}

/// Fills in a template's placeholders (see `queries/README.md`).
struct Renderer<'a> {
    engine: Engine,
    q: &'a Query,
    vars: &'a [(&'static str, String)],
}

impl Renderer<'_> {
    /// Expands every `${…}` outside `--` comments (which keep the template's own
    /// wording), innermost first, so a placeholder may take another as its argument
    /// (`${bucket(${time})}`).
    fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::with_capacity(template.len() * 2);
        for line in template.lines() {
            let (code, comment) = line.split_at(line.find("--").unwrap_or(line.len()));
            let mut text = code.to_string();
            // A value never holds `${`, so each step leaves one placeholder fewer.
            while let Some(start) = innermost(&text) {
                let end = start
                    + text[start..]
                        .find('}')
                        .ok_or_else(|| Error::Internal("unclosed ${ in a SQL template".into()))?;
                let value = self.placeholder(&text[start + 2..end])?;
                text.replace_range(start..=end, &value);
            }
            out.push_str(&text);
            out.push_str(comment);
            out.push('\n');
        }
        Ok(out)
    }

    fn placeholder(&self, p: &str) -> Result<String> {
        let e = self.engine;
        let q = self.q;
        let (name, args) = match p.find('(') {
            Some(i) if p.ends_with(')') => (&p[..i], split_args(&p[i + 1..p.len() - 1])),
            _ => (p, Vec::new()),
        };
        let arg = |i: usize| -> Result<&str> {
            args.get(i)
                .copied()
                .ok_or_else(|| Error::Internal(format!("SQL placeholder {p:?} lacks an argument")))
        };
        let bucketed = q.interval != Interval::Total;
        let mut keys: Vec<&str> = Vec::new();
        if bucketed {
            keys.push("bucket_us");
        }
        keys.extend(q.by.iter().map(String::as_str));
        Ok(match name {
            "bucket" => e.bucket(arg(0)?, q.interval, &q.tz),
            "range" => {
                let t = e.us(arg(0)?);
                match (q.from, q.to) {
                    (None, None) => "TRUE".into(),
                    (Some(f), None) => format!("{t} >= {f}"),
                    (None, Some(to)) => format!("{t} < {to}"),
                    (Some(f), Some(to)) => format!("{t} >= {f} AND {t} < {to}"),
                }
            }
            "dims" => q.by.iter().map(|d| format!("{d}, ")).collect(),
            "keys" => keys.iter().map(|k| format!("{k}, ")).collect(),
            "group" => match keys.is_empty() {
                true => String::new(),
                false => format!("GROUP BY {}", keys.join(", ")),
            },
            "out" => {
                let mut out: String = q.by.iter().map(|d| format!("{d}, ")).collect();
                if bucketed {
                    out.insert_str(
                        0,
                        &format!("{} AS bucket_start, ", e.instant_text("bucket_us", &q.tz)),
                    );
                }
                out
            }
            "order" => match keys.is_empty() {
                true => String::new(),
                false => format!(
                    "ORDER BY {}",
                    keys.iter()
                        .map(|k| format!("{k} NULLS LAST"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            "us" => e.us(arg(0)?),
            "quantile" => e.quantile(arg(0)?, arg(1)?),
            "min_by" => e.min_by(arg(0)?, arg(1)?),
            _ => self
                .vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Error::Internal(format!("unknown SQL placeholder {p:?}")))?,
        })
    }
}

/// The start of the last `${` whose placeholder holds no other: the innermost one.
fn innermost(text: &str) -> Option<usize> {
    let mut found = None;
    let mut from = 0;
    while let Some(i) = text[from..].find("${") {
        let start = from + i;
        let close = text[start..].find('}').map(|c| start + c);
        let next = text[start + 2..].find("${").map(|n| start + 2 + n);
        match (close, next) {
            (Some(c), Some(n)) if n < c => from = n,
            (Some(_), _) => {
                found = Some(start);
                break;
            }
            (None, _) => break,
        }
    }
    found
}

/// Arguments split at the commas outside parentheses.
fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_innermost_first() {
        let q = Query::default();
        let vars = [("time", "conversation_start_time".to_string())];
        let r = Renderer {
            engine: Engine::Spark,
            q: &q,
            vars: &vars,
        };
        assert_eq!(
            r.expand("x ${us(${time})} ${quantile(a + f(b, c), 0.5)} y")
                .unwrap(),
            "x unix_micros(conversation_start_time) percentile(a + f(b, c), 0.5) y\n"
        );
        assert!(r.expand("${nope}").is_err());
    }

    #[test]
    fn every_family_renders_without_placeholders_left() {
        let q = Query {
            interval: Interval::Hours(1),
            tz: "Europe/Amsterdam".parse().unwrap(),
            by: vec![],
            from: Some(0),
            to: Some(1),
        };
        let views = [
            messaging::View::Interactions,
            messaging::View::InteractionType,
            messaging::View::CustomerEndpoint,
            messaging::View::Intents,
            messaging::View::Sentiment,
            messaging::View::Handoff,
            messaging::View::ResponseTimes,
        ];
        let mut families = vec![
            Family::Bot(bot::Options::default()),
            Family::Queue(queue::Options::default()),
            Family::Calls,
            Family::Csat,
            Family::Agents(agents::Source::Logs),
        ];
        families.extend(views.map(|view| {
            Family::Messaging(messaging::Options {
                view,
                intent_type: None,
            })
        }));
        for f in &families {
            for e in [Engine::Duckdb, Engine::Spark] {
                let sql = render(f, &q, e).unwrap();
                // Comments keep the template's wording; code has no placeholder left.
                let code: Vec<&str> = sql
                    .lines()
                    .map(|l| l.split("--").next().unwrap_or(""))
                    .collect();
                assert!(!code.concat().contains("${"), "{f:?}: {sql}");
                assert!(sql.ends_with(";\n"));
                // Statements are split at `;` and a newline: none may end a line inside.
                for statement in sql.split(";\n").filter(|s| !s.trim().is_empty()) {
                    assert!(statement.contains("SELECT"), "{f:?}: {statement}");
                }
            }
        }
        // The productivity report has no time: no range, no buckets.
        assert!(render(
            &Family::Agents(agents::Source::Productivity),
            &q,
            Engine::Spark
        )
        .is_err());
    }
}
