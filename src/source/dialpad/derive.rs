//! The `interactions` table derived from the deduplicated messages: one row per sessionid,
//! in one pass over the slots the dedupe sorted (`dedupe.rs`).

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::Schema;

use super::dedupe::{slots_of, Identity, Parted, Sender, Slot};
use super::split_sessionid;
use crate::error::Result;
use crate::table::INTERACTIONS;

/// Derives `interactions` (one row per sessionid) from the messages of `slots` (of
/// `parts`, whose identity columns are `ids`), whose sessions each lie together, untimed
/// messages first and then the timed ones by ts: the dedupe's canonical order, or
/// [`interactions_of`]'s. Each session's
/// messages are taken by ts, the untimed ones last, ties in the order of `slots`.
///
/// Response times follow customer *turns*: a turn starts at the first customer message
/// after an agent message (or at the start) and is answered by the next agent message;
/// its response time is the gap between the two. Messages without ts take no part.
///
/// Only the `columns` asked for are built, in that order (every column for `None`).
pub(super) fn derive_interactions(
    parts: &[RecordBatch],
    ids: &Identity<'_>,
    slots: &[Slot],
    columns: Option<&[String]>,
) -> Result<RecordBatch> {
    use rayon::prelude::*;
    let csid = Parted::of(parts, "customersessionid")?;
    let chattype = Parted::of(parts, "chattype")?;
    let channel = Parted::of(parts, "sessionchannel")?;
    let lang = Parted::of(parts, "lang")?;
    let workflow = Parted::of(parts, "workflow")?;
    let empty = [&csid, &chattype, &channel, &lang, &workflow].map(Parted::all_null);
    // The columns asked for, as indices into the schema, in the order asked.
    let schema = INTERACTIONS.schema();
    let order: Vec<usize> = match columns {
        None => (0..schema.fields().len()).collect(),
        Some(columns) => (columns.iter())
            .map(|c| schema.index_of(c))
            .collect::<Result<_, _>>()?,
    };
    // Sessions are independent: pieces of whole sessions are derived on every core and
    // their rows put back in order.
    let mut cuts = vec![0];
    let step = slots.len() / (4 * rayon::current_num_threads()) + 1;
    while let Some(&last) = cuts.last() {
        let mut at = (last + step).min(slots.len());
        while at < slots.len() && ids.same_session(&slots[at], &slots[at - 1]) {
            at += 1;
        }
        if at == last {
            break;
        }
        cuts.push(at);
    }
    let pieces = cuts
        .par_windows(2)
        .map(|w| {
            let slots = &slots[w[0]..w[1]];
            let mut out = InteractionBuilders::new(&schema, &order);
            let named =
                out.sessionid.is_some() || out.conversation_id.is_some() || out.segment.is_some();
            let answered = out.first_response.is_some()
                || out.avg_response.is_some()
                || out.responses.is_some();
            let mut responses: Vec<f64> = Vec::new();
            let mut start = 0;
            while start < slots.len() {
                let mut end = start + 1;
                while end < slots.len() && ids.same_session(&slots[end], &slots[start]) {
                    end += 1;
                }
                let group = &slots[start..end];
                let untimed = group.partition_point(|s| !s.timed);
                let in_order = || group[untimed..].iter().chain(&group[..untimed]);
                let mut counts = [0i64; 4];
                let (mut first_ts, mut last_ts) = (None, None);
                let mut pending: Option<i64> = None;
                responses.clear();
                for s in in_order() {
                    counts[s.sender as usize] += 1;
                    let Some(t) = s.ts() else { continue };
                    first_ts = Some(first_ts.map_or(t, |f: i64| f.min(t)));
                    last_ts = Some(last_ts.map_or(t, |l: i64| l.max(t)));
                    match s.sender {
                        Sender::Customer if answered => {
                            pending.get_or_insert(t);
                        }
                        Sender::Agent if answered => {
                            if let Some(t0) = pending.take() {
                                responses.push((t - t0) as f64 / 1e6);
                            }
                        }
                        _ => {}
                    }
                }
                if named {
                    let head = group[0].head.to_be_bytes();
                    let s = ids.session(&group[0], &head);
                    put(&mut out.sessionid, |b| b.append_value(s));
                    // From the sessionid, as the read split it (a metrics-only read need
                    // not keep the messages' copies).
                    let (conversation, segment) =
                        split_sessionid(s).map_err(crate::error::Error::Internal)?;
                    put(&mut out.conversation_id, |b| b.append_value(conversation));
                    put(&mut out.segment, |b| b.append_option(segment));
                }
                let texts = [&csid, &chattype, &channel, &lang, &workflow];
                let outs = [
                    &mut out.customersessionid,
                    &mut out.chattype,
                    &mut out.sessionchannel,
                    &mut out.lang,
                    &mut out.workflow,
                ];
                for ((column, b), all_null) in texts.iter().zip(outs).zip(empty) {
                    put(b, |b| {
                        b.append_option(column.first_some(all_null, in_order()))
                    });
                }
                put(&mut out.first_ts, |b| b.append_option(first_ts));
                put(&mut out.last_ts, |b| b.append_option(last_ts));
                put(&mut out.messages, |b| b.append_value(group.len() as i64));
                let of = |sender: Sender| counts[sender as usize];
                put(&mut out.customer_messages, |b| {
                    b.append_value(of(Sender::Customer))
                });
                put(&mut out.bot_messages, |b| b.append_value(of(Sender::Bot)));
                put(&mut out.agent_messages, |b| {
                    b.append_value(of(Sender::Agent))
                });
                put(&mut out.first_response, |b| {
                    b.append_option(responses.first().copied())
                });
                put(&mut out.avg_response, |b| {
                    b.append_option(
                        (!responses.is_empty())
                            .then(|| responses.iter().sum::<f64>() / responses.len() as f64),
                    )
                });
                put(&mut out.responses, |b| {
                    b.append_value(responses.len() as i64)
                });
                start = end;
            }
            out.finish(&schema, &order)
        })
        .collect::<Result<Vec<RecordBatch>>>()?;
    Ok(arrow::compute::concat_batches(
        &Arc::new(schema.project(&order)?),
        &pieces,
    )?)
}

/// The interactions of a `messages` table (read from the lake), every column: its slots
/// sorted by sessionid and ts, ties in table order, as [`derive_interactions`] takes them.
pub fn interactions_of(messages: &RecordBatch) -> Result<RecordBatch> {
    use rayon::prelude::*;
    let parts = std::slice::from_ref(messages);
    let ids = Identity::of(parts)?;
    let mut slots = slots_of(parts, &ids)?;
    slots.par_sort_unstable_by(|a, b| {
        (a.key().cmp(&b.key())).then_with(|| ids.session_time(a, b).then(a.at().cmp(&b.at())))
    });
    derive_interactions(parts, &ids, &slots, None)
}

/// Appends to a column's builder, if the column is built.
fn put<B>(builder: &mut Option<B>, append: impl FnOnce(&mut B)) {
    if let Some(b) = builder {
        append(b);
    }
}

/// The builders of the `interactions` columns a derive was asked for (`None`: not built,
/// and what only it reads is not worked out). Why: a view reads two to four of the
/// seventeen, and building the sessionid and conversation_id texts of every interaction
/// that no view of counts reads was two fifths of the derive.
struct InteractionBuilders {
    sessionid: Option<StringBuilder>,
    conversation_id: Option<StringBuilder>,
    segment: Option<Int64Builder>,
    customersessionid: Option<StringBuilder>,
    chattype: Option<StringBuilder>,
    sessionchannel: Option<StringBuilder>,
    lang: Option<StringBuilder>,
    workflow: Option<StringBuilder>,
    first_ts: Option<TimestampMicrosecondBuilder>,
    last_ts: Option<TimestampMicrosecondBuilder>,
    messages: Option<Int64Builder>,
    customer_messages: Option<Int64Builder>,
    bot_messages: Option<Int64Builder>,
    agent_messages: Option<Int64Builder>,
    first_response: Option<Float64Builder>,
    avg_response: Option<Float64Builder>,
    responses: Option<Int64Builder>,
}

impl InteractionBuilders {
    /// Builders for the columns of `schema` (the `interactions` schema) at `order`.
    fn new(schema: &Schema, order: &[usize]) -> Self {
        let want = |name: &str| schema.index_of(name).is_ok_and(|i| order.contains(&i));
        let text = |name: &str| want(name).then(StringBuilder::new);
        let count = |name: &str| want(name).then(Int64Builder::new);
        let ts = |name: &str| {
            want(name).then(|| TimestampMicrosecondBuilder::new().with_timezone("UTC"))
        };
        let secs = |name: &str| want(name).then(Float64Builder::new);
        InteractionBuilders {
            sessionid: text("sessionid"),
            conversation_id: text("conversation_id"),
            segment: count("segment"),
            customersessionid: text("customersessionid"),
            chattype: text("chattype"),
            sessionchannel: text("sessionchannel"),
            lang: text("lang"),
            workflow: text("workflow"),
            first_ts: ts("first_ts"),
            last_ts: ts("last_ts"),
            messages: count("messages"),
            customer_messages: count("customer_messages"),
            bot_messages: count("bot_messages"),
            agent_messages: count("agent_messages"),
            first_response: secs("first_response_sec"),
            avg_response: secs("avg_response_sec"),
            responses: count("responses"),
        }
    }

    /// The columns built, at `order` of `schema` (as [`InteractionBuilders::new`] was given).
    fn finish(self, schema: &Schema, order: &[usize]) -> Result<RecordBatch> {
        fn done<B: ArrayBuilder>(b: Option<B>) -> Option<ArrayRef> {
            b.map(|mut b| b.finish())
        }
        // In schema order.
        let mut cols: [Option<ArrayRef>; 17] = [
            done(self.sessionid),
            done(self.conversation_id),
            done(self.segment),
            done(self.customersessionid),
            done(self.chattype),
            done(self.sessionchannel),
            done(self.lang),
            done(self.workflow),
            done(self.first_ts),
            done(self.last_ts),
            done(self.messages),
            done(self.customer_messages),
            done(self.bot_messages),
            done(self.agent_messages),
            done(self.first_response),
            done(self.avg_response),
            done(self.responses),
        ];
        let columns = (order.iter())
            .map(|&i| cols.get_mut(i).and_then(Option::take))
            .collect::<Option<Vec<ArrayRef>>>()
            .ok_or_else(|| {
                crate::error::Error::Internal("an interactions column asked for twice".into())
            })?;
        Ok(RecordBatch::try_new(
            Arc::new(schema.project(order)?),
            columns,
        )?)
    }
}
