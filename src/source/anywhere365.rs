//! Anywhere365 (AnywhereNow Dialogue Cloud) Insights API, entity Dialogues.
//!
//! Read in every shape seen: OData pages `{"@odata.context":…, "value":[…]}` saved as separate
//! files, bare arrays, NDJSON. Property names come in mixed case (`startTimestamp`,
//! `StartTimestamp`, `Outcome`, `InSLA`); `InSLA` / `QuickDrop` as "True"/"False"/null or
//! booleans (null stays null: it means "not applicable"); `direction` as 1/2 or
//! "Inbound"/"Outbound"; durations in seconds, at most ±292,000 years ([`LooseSeconds`]).

use arrow::array::RecordBatch;

use super::codes::word_index;
use super::de::KeyMemo;
use super::json::{LooseBool, LooseCount, LooseSeconds, LooseStr, LooseTime, RawText};
use super::{read_all, Candidate, Keyless, OnBadFile, Records, Rejects, Vendor};
use crate::error::Result;
use crate::table::{
    latest_in_canonical_order, latest_in_delivery_order, Capacity, Deferred, Nulls, TableBuilder,
    DIALOGUES,
};

#[derive(Debug)]
pub struct Tables {
    pub dialogues: RecordBatch,
    pub stats: super::Stats,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Metrics-only read: `dialogues` comes out with only these columns, in delivery order
    /// rather than canonical order, and the fields no queue KPI reads ([`LEAN_SKIPPED`], and
    /// the [`DIMENSION_KEYS`] not asked for) are skipped undecoded. `None` reads every
    /// column, in canonical order.
    pub only: Option<Vec<String>>,
    /// Columns of a metrics-only read read only as codes of these words (see
    /// `codes::WordCodes`): `metrics::queue::coded`.
    pub words: Vec<(&'static str, &'static [&'static str])>,
}

/// The keys a metrics-only read skips (lower-cased).
const LEAN_SKIPPED: [&str; 5] = [
    "ordernumber",
    "startdate",
    "accepttimestamp",
    "sessiondurationinsec",
    "customerid",
];

/// Keys a metrics-only read skips unless their column is asked for (a `--by` dimension).
const DIMENSION_KEYS: [(&str, &str); 3] = [
    ("ivrid", "ivr_id"),
    ("queueid", "queue_id"),
    ("agentid", "agent_id"),
];

impl Options {
    /// The keys to skip undecoded: none for a full read.
    fn skipped(&self) -> Vec<&'static str> {
        super::lean_skipped(self.only.as_deref(), &LEAN_SKIPPED, &DIMENSION_KEYS)
    }
}

/// Reads Dialogues exports into the `dialogues` table.
pub fn read(
    candidates: &[Candidate],
    opts: &Options,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<Tables> {
    let keyless = Keyless::default();
    let skipped = opts.skipped();
    let nulls = Nulls::default();
    let chunks = read_all(
        candidates,
        &[Vendor::Anywhere365],
        on_bad,
        opts.only.is_none(),
        rejects,
        &keyless,
        |records, keyless| parse_chunk(records, opts, &skipped, keyless, &nulls),
    )?;
    let files = rejects.read_of(candidates.len());
    let records = chunks.iter().map(|(c, _)| c.num_rows()).sum();
    let (chunks, sources): (Vec<_>, Vec<_>) = chunks.into_iter().unzip();
    let (dialogues, duplicates) = match &opts.only {
        // The kept rows are copied column by column, and only the columns asked for, in
        // delivery order: no queue KPI depends on the order of its rows.
        Some(columns) => {
            let schema = DIALOGUES.schema();
            let (positions, dropped) = latest_in_delivery_order(&chunks, schema.index_of("id")?);
            let kept = Deferred {
                schema,
                parts: chunks,
                sources,
                positions,
                parent_key: None,
            };
            (kept.select(columns)?, dropped)
        }
        None => latest_in_canonical_order(chunks, Some(sources), &DIALOGUES, "id")?,
    };
    let mut stats = super::Stats {
        files,
        records,
        duplicates,
        ..super::Stats::default()
    };
    keyless.report(&mut stats);
    Ok(Tables { stats, dialogues })
}

#[derive(Debug, Default)]
struct Dialogue<'a> {
    id: RawText<'a>,
    order_number: LooseCount,
    start_date: LooseStr<'a>,
    start: LooseTime,
    queue_enter: LooseTime,
    accept: LooseTime,
    end: LooseTime,
    ivr: LooseSeconds,
    queue: LooseSeconds,
    talk: LooseSeconds,
    session: LooseSeconds,
    ivr_id: RawText<'a>,
    queue_id: RawText<'a>,
    customer_id: RawText<'a>,
    agent_id: RawText<'a>,
    direction: LooseStr<'a>,
    outcome: LooseStr<'a>,
    in_sla: LooseBool,
    quick_drop: LooseBool,
}

keys! {
    /// The fields of a Dialogue the reader knows.
    Key, KEYS:
    Id = "id",
    OrderNumber = "ordernumber",
    StartDate = "startdate",
    Start = "starttimestamp",
    QueueEnter = "queueentertimestamp",
    Accept = "accepttimestamp",
    End = "endtimestamp",
    Ivr = "ivrdurationinsec",
    Queue = "queuedurationinsec",
    Talk = "initialtalkdurationinsec",
    Session = "sessiondurationinsec",
    IvrId = "ivrid",
    QueueId = "queueid",
    CustomerId = "customerid",
    AgentId = "agentid",
    Direction = "direction",
    Outcome = "outcome",
    InSla = "insla",
    QuickDrop = "quickdrop",
}

/// Reads one Dialogue at `d` into `r`, a fresh one of the caller's, skipping the `skipped`
/// keys (see [`Options::skipped`]; `memo` carries the key order from one record of a chunk
/// to the next). Filled where it lives rather than returned: moving a few hundred bytes out
/// of the parse copied them twice per record (as the other readers do).
fn dialogue<'de>(
    d: &mut super::de::Deserializer<'de>,
    skipped: &[&str],
    memo: &mut KeyMemo<'de, Key>,
    r: &mut Dialogue<'de>,
) -> Result<(), super::de::Error> {
    let resolve = |k: &str| super::known_key(&KEYS, skipped, k);
    d.fields(
        "an Anywhere365 Dialogue object",
        memo,
        resolve,
        |d, k, key| {
            match k {
                Key::Id => r.id = d.str_value(key)?,
                Key::OrderNumber => r.order_number = d.text_value(key)?,
                Key::StartDate => r.start_date = d.str_value(key)?,
                Key::Start => r.start = d.text_value(key)?,
                Key::QueueEnter => r.queue_enter = d.text_value(key)?,
                Key::Accept => r.accept = d.text_value(key)?,
                Key::End => r.end = d.text_value(key)?,
                Key::Ivr => r.ivr = d.text_value(key)?,
                Key::Queue => r.queue = d.text_value(key)?,
                Key::Talk => r.talk = d.text_value(key)?,
                Key::Session => r.session = d.text_value(key)?,
                Key::IvrId => r.ivr_id = d.str_value(key)?,
                Key::QueueId => r.queue_id = d.str_value(key)?,
                Key::CustomerId => r.customer_id = d.str_value(key)?,
                Key::AgentId => r.agent_id = d.str_value(key)?,
                Key::Direction => r.direction = d.str_value(key)?,
                Key::Outcome => r.outcome = d.str_value(key)?,
                Key::InSla => r.in_sla = d.text_value(key)?,
                Key::QuickDrop => r.quick_drop = d.text_value(key)?,
            }
            Ok(true)
        },
    )
}

/// `direction` as the canonical `inbound` / `outbound`; other values are kept as delivered.
pub fn direction(v: &str) -> &str {
    const WORDS: [&str; 2] = ["inbound", "outbound"];
    // The usual value first, without the trim (1% of a queue run).
    if let Some(i) = word_index(v, &WORDS) {
        return WORDS[i];
    }
    match v.trim() {
        "1" => "inbound",
        "2" => "outbound",
        t => word_index(t, &WORDS).map_or(v, |i| WORDS[i]),
    }
}

/// Bytes of an export per dialogue, at least: the generated ones hold 520, a dialogue of
/// its id, times and outcome about 200.
const MIN_DIALOGUE_BYTES: usize = 200;

fn parse_chunk(
    mut records: Records<'_>,
    opts: &Options,
    skipped: &[&str],
    keyless: &Keyless,
    nulls: &Nulls,
) -> Result<(RecordBatch, std::sync::Arc<str>)> {
    let f = records.file();
    let capacity = Capacity::of_input(records.input_len(), MIN_DIALOGUE_BYTES);
    let want = |c: &str| super::wanted(opts.only.as_deref(), c);
    let mut b = TableBuilder::sized_with_words(&DIALOGUES, want, capacity, &opts.words);
    let mut memo = KeyMemo::default();
    loop {
        let mut r = Dialogue::default();
        let Some((start, ())) = records.next(|d| dialogue(d, skipped, &mut memo, &mut r))? else {
            break;
        };
        let Some(id) = r.id.0.as_deref() else {
            keyless.note(f, start, "id");
            continue;
        };
        let abandoned = r
            .outcome
            .0
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("abandoned"));
        let abandon_wait = match (abandoned, r.queue_enter.0, r.end.0) {
            (false, _, _) => None,
            (true, Some(q), Some(e)) => Some((e - q) as f64 / 1e6),
            (true, _, _) => r.queue.0,
        };
        b.str(Some(id))
            .i64(r.order_number.0)
            .str(r.start_date.0.as_deref())
            .ts(r.start.0)
            .ts(r.queue_enter.0)
            .ts(r.accept.0)
            .ts(r.end.0)
            .f64(r.ivr.0)
            .f64(r.queue.0)
            .f64(r.talk.0)
            .f64(r.session.0)
            .f64(abandon_wait)
            .str(r.ivr_id.0.as_deref())
            .str(r.queue_id.0.as_deref())
            .str(r.customer_id.0.as_deref())
            .str(r.agent_id.0.as_deref())
            .str(r.direction.0.as_deref().map(direction))
            .str(r.outcome.0.as_deref())
            .bool(r.in_sla.0)
            .bool(r.quick_drop.0)
            // `source_file`: the chunk's, filled in by the gather (see `table::Deferred`).
            .str(Some(""));
        b.end_row();
    }
    Ok((b.finish_sharing(nulls)?, f.path.to_string_lossy().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogues_in_mixed_case_with_text_booleans() {
        let text = r#"{"Id":"a1","StartTimestamp":"2024-05-07T09:00:01Z","queueDurationInSec":18.0,
                "direction":1,"Outcome":"Accepted","InSLA":"True","QuickDrop":null,"orderNumber":104233}"#;
        let mut d = Dialogue::default();
        crate::source::de::from_slice_with(text.as_bytes(), |de| {
            dialogue(de, &[], &mut KeyMemo::default(), &mut d)
        })
        .unwrap();
        assert_eq!(d.id.0.as_deref(), Some("a1"));
        assert_eq!(d.in_sla.0, Some(true));
        assert_eq!(d.quick_drop.0, None);
        assert_eq!(d.queue.0, Some(18.0));
        assert_eq!(d.order_number.0, Some(104_233));
        assert_eq!(direction(d.direction.0.as_deref().unwrap()), "inbound");
        assert_eq!(direction("Outbound"), "outbound");
        assert_eq!(direction("sideways"), "sideways");
        assert_eq!(direction(" INBOUND "), "inbound");
        assert_eq!(direction(" 2"), "outbound");
        assert_eq!(direction(" in "), " in ");
    }
}
