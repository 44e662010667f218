//! One Ultimate record, borrowed from the input buffer: its fields, its intents, and the
//! first meaningful intent among them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::Result;
use crate::source::de::KeyMemo;
use crate::source::json::{LooseBool, LooseCount, LooseStr, LooseTime, RawText};
use crate::source::{field, for_each_field};

#[derive(Debug, Default)]
pub(super) struct Record<'a> {
    pub(super) conversation_id: LooseStr<'a>,
    pub(super) platform_conversation_id: LooseStr<'a>,
    pub(super) bot_id: LooseStr<'a>,
    pub(super) bot_name: LooseStr<'a>,
    pub(super) start: LooseTime,
    pub(super) end: LooseTime,
    pub(super) language: LooseStr<'a>,
    pub(super) channel: LooseStr<'a>,
    pub(super) labels: Option<Vec<LooseStr<'a>>>,
    pub(super) conversations_data: RawText<'a>,
    pub(super) test_mode: LooseBool,
    pub(super) status: LooseStr<'a>,
    pub(super) last_resolution: LooseStr<'a>,
    pub(super) triggered_replies: RawText<'a>,
    pub(super) is_llm: LooseBool,
    pub(super) automated_resolution: LooseBool,
    pub(super) conversation_type: LooseStr<'a>,
    pub(super) counts: [LooseCount; COUNT_FIELDS.len()],
    pub(super) intents: Vec<Intent<'a>>,
}

/// The count fields, in the order of `Record::counts` and of the table's count columns
/// (lower-cased source key, canonical column).
pub(super) const COUNT_FIELDS: [(&str, &str); 8] = [
    ("llm_notunderstood_count", "llm_not_understood_count"),
    (
        "llm_responsegenerated_count",
        "llm_response_generated_count",
    ),
    ("llm_erroroccurred_count", "llm_error_occurred_count"),
    (
        "llm_escalationrequired_count",
        "llm_escalation_required_count",
    ),
    ("llm_fallback_count", "llm_fallback_count"),
    ("bot_messages_count", "bot_messages_count"),
    ("visitor_messages_count", "visitor_messages_count"),
    (
        "not_understood_messages_count",
        "not_understood_messages_count",
    ),
];

/// Declares [`Field`] and the list of its named variants in one place.
macro_rules! fields {
    ($($name:ident),* $(,)?) => {
        /// The fields of a record the reader knows.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(super) enum Field {
            $($name,)*
            /// An entry of [`COUNT_FIELDS`].
            Count(usize),
        }

        impl Field {
            /// Every variant but `Count`, in bit order (the counts follow).
            const NAMED: &'static [Field] = &[$(Field::$name),*];
        }
    };
}

fields!(
    ConversationId,
    PlatformConversationId,
    BotId,
    BotName,
    Start,
    End,
    Language,
    Channel,
    Labels,
    ConversationsData,
    TestMode,
    Status,
    LastResolution,
    TriggeredReplies,
    Intents,
    IsLlm,
    AutomatedResolution,
    ConversationType,
);

impl Field {
    pub(super) fn all() -> impl Iterator<Item = Field> {
        Field::NAMED
            .iter()
            .copied()
            .chain((0..COUNT_FIELDS.len()).map(Field::Count))
    }

    /// The field of a lower-cased key.
    fn of(key: &str) -> Option<Field> {
        use Field::*;
        Some(match key {
            "conversation_id" => ConversationId,
            "platform_conversation_id" => PlatformConversationId,
            "bot_id" => BotId,
            "bot_name" => BotName,
            "conversation_start_time" => Start,
            "conversation_end_time" => End,
            "language" => Language,
            "channel" => Channel,
            "labels" => Labels,
            "conversations_data" | "conversation_data" => ConversationsData,
            "test_mode" => TestMode,
            "conversation_status" => Status,
            "last_resolution" => LastResolution,
            "triggered_replies" => TriggeredReplies,
            "triggered_intent_replies" => Intents,
            "is_llm_conversation" => IsLlm,
            "automated_resolution" => AutomatedResolution,
            "conversation_type" => ConversationType,
            _ => Count(COUNT_FIELDS.iter().position(|(src, _)| *src == key)?),
        })
    }

    pub(super) fn bit(self) -> u32 {
        match self {
            Field::Count(i) => (Field::NAMED.len() + i) as u32,
            f => Field::NAMED.iter().position(|g| *g == f).unwrap_or(0) as u32,
        }
    }

    /// The `bot_conversations` columns this field feeds; empty for the fields every read
    /// needs (the key, and the times that pick the copy kept and book the row).
    pub(super) fn columns(self) -> &'static [&'static str] {
        use Field::*;
        match self {
            ConversationId | Start | End => &[],
            PlatformConversationId => &["platform_conversation_id"],
            BotId => &["bot_id"],
            BotName => &["bot_name"],
            Language => &["language"],
            Channel => &["channel"],
            Labels => &["labels"],
            ConversationsData => &["conversations_data"],
            TestMode => &["test_mode"],
            Status => &["conversation_status"],
            LastResolution => &["last_resolution"],
            TriggeredReplies => &["triggered_replies"],
            Intents => &[
                "intent_count",
                "first_intent",
                "last_intent",
                "first_meaningful_intent",
            ],
            IsLlm => &["is_llm_conversation"],
            AutomatedResolution => &["automated_resolution"],
            ConversationType => &["conversation_type"],
            Count(i) => std::slice::from_ref(&COUNT_FIELDS[i].1),
        }
    }
}

/// Reads one record at `d`, skipping the fields whose bit is set in `skip` (`memo` carries
/// the key order from one record of a chunk to the next). The tests' form of [`fill`].
#[cfg(test)]
pub(super) fn record<'de>(
    d: &mut crate::source::de::Deserializer<'de>,
    skip: u64,
    memo: &mut Memos<'de>,
) -> Result<Record<'de>, crate::source::de::Error> {
    let mut r = Record::default();
    fill(d, skip, memo, &mut r)?;
    Ok(r)
}

/// The key orders [`fill`] carries from one record of a chunk to the next: the records'
/// and their intents'.
#[derive(Default)]
pub(super) struct Memos<'de> {
    record: KeyMemo<'de, Field>,
    intent: KeyMemo<'de, IntentField>,
}

/// [`record`] into `r`, a fresh record of the caller's: filled where it lives instead of
/// being built inside the parse and moved out of it (two copies of a few hundred bytes per
/// record).
pub(super) fn fill<'de>(
    d: &mut crate::source::de::Deserializer<'de>,
    skip: u64,
    memo: &mut Memos<'de>,
    r: &mut Record<'de>,
) -> Result<(), crate::source::de::Error> {
    let resolve = |k: &str| Field::of(k).filter(|f| skip >> f.bit() & 1 == 0);
    let Memos {
        record: memo,
        intent: intent_memo,
    } = memo;
    d.fields(
        "an Ultimate conversation object",
        memo,
        resolve,
        |d, f, key| {
            match f {
                Field::ConversationId => r.conversation_id = d.str_value(key)?,
                Field::PlatformConversationId => r.platform_conversation_id = d.str_value(key)?,
                Field::BotId => r.bot_id = d.str_value(key)?,
                Field::BotName => r.bot_name = d.str_value(key)?,
                Field::Start => r.start = d.text_value(key)?,
                Field::End => r.end = d.text_value(key)?,
                Field::Language => r.language = d.str_value(key)?,
                Field::Channel => r.channel = d.str_value(key)?,
                Field::Labels => r.labels = d.value::<Labels>(key)?.0,
                Field::ConversationsData => r.conversations_data = d.str_value(key)?,
                Field::TestMode => r.test_mode = d.text_value(key)?,
                Field::Status => r.status = d.str_value(key)?,
                Field::LastResolution => r.last_resolution = d.str_value(key)?,
                Field::TriggeredReplies => r.triggered_replies = d.str_value(key)?,
                Field::Intents => read_intents(d, key, intent_memo, &mut r.intents)?,
                Field::IsLlm => r.is_llm = d.text_value(key)?,
                Field::AutomatedResolution => r.automated_resolution = d.text_value(key)?,
                Field::ConversationType => r.conversation_type = d.str_value(key)?,
                Field::Count(i) => r.counts[i] = d.text_value(key)?,
            }
            Ok(true)
        },
    )
}

/// `labels`: an array of strings, null, or (tolerated) one string.
struct Labels<'a>(Option<Vec<LooseStr<'a>>>);

impl<'de> Deserialize<'de> for Labels<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of labels")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<LooseStr<'de>>()? {
                    v.push(s);
                }
                Ok(Labels(Some(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Labels<'de>, E> {
                Ok(Labels(Some(vec![LooseStr(Some(Cow::Borrowed(s)))])))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Labels<'de>, E> {
                Ok(Labels(Some(vec![LooseStr(Some(Cow::Owned(s.to_owned())))])))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Labels<'de>, E> {
                Ok(Labels(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Intent<'a> {
    pub(super) id: LooseStr<'a>,
    pub(super) name: LooseStr<'a>,
    pub(super) timestamp: LooseTime,
    pub(super) not_meaningful: LooseBool,
}

impl Intent<'_> {
    fn into_owned(self) -> Intent<'static> {
        let own = |s: LooseStr<'_>| LooseStr(s.0.map(|c| Cow::Owned(c.into_owned())));
        Intent {
            id: own(self.id),
            name: own(self.name),
            timestamp: self.timestamp,
            not_meaningful: self.not_meaningful,
        }
    }
}

impl<'de> Deserialize<'de> for Intent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Intent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an intent object, or a JSON string holding one")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Intent<'de>, A::Error> {
                let mut it = Intent::default();
                for_each_field(&mut map, &[], |k, key, map| {
                    match k {
                        "intent_id" => it.id = field(map, key)?,
                        "intent_name" => it.name = field(map, key)?,
                        "intent_timestamp" => it.timestamp = field(map, key)?,
                        "not_meaningful" => it.not_meaningful = field(map, key)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Ok(it)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Intent<'de>, E> {
                crate::source::de::from_str::<Intent>(s)
                    .map(Intent::into_owned)
                    .map_err(|e| E::custom(format_args!("intent JSON text: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of an intent the reader keeps.
#[derive(Debug, Clone, Copy)]
pub(super) enum IntentField {
    Id,
    Name,
    Timestamp,
    NotMeaningful,
}

impl IntentField {
    /// The field of a lower-cased key.
    fn of(key: &str) -> Option<IntentField> {
        Some(match key {
            "intent_id" => IntentField::Id,
            "intent_name" => IntentField::Name,
            "intent_timestamp" => IntentField::Timestamp,
            "not_meaningful" => IntentField::NotMeaningful,
            _ => return None,
        })
    }
}

/// `triggered_intent_replies` into `out`. The usual shape, an array of intent objects, is
/// walked as records are (by `Deserializer::fields`, with the intents' key memo); the
/// others (null, the array or an intent as JSON text) go through [`Intents`]. Why: through
/// serde's visitors the intents were a quarter of an ingest's parse.
pub(super) fn read_intents<'de>(
    d: &mut crate::source::de::Deserializer<'de>,
    key: &str,
    memo: &mut KeyMemo<'de, IntentField>,
    out: &mut Vec<Intent<'de>>,
) -> Result<(), crate::source::de::Error> {
    if d.next_byte() != Some(b'[') {
        *out = d.value::<Intents>(key)?.0;
        return Ok(());
    }
    out.clear();
    d.elements(|d| {
        if d.next_byte() != Some(b'{') {
            out.push(Intent::deserialize(&mut *d)?);
            return Ok(());
        }
        let mut it = Intent::default();
        d.fields("an intent object", memo, IntentField::of, |d, f, k| {
            match f {
                IntentField::Id => it.id = d.str_value(k)?,
                IntentField::Name => it.name = d.str_value(k)?,
                IntentField::Timestamp => it.timestamp = d.text_value(k)?,
                IntentField::NotMeaningful => it.not_meaningful = d.text_value(k)?,
            }
            Ok(true)
        })?;
        out.push(it);
        Ok(())
    })
    .map_err(|e| serde::de::Error::custom(format_args!("field `{key}`: {e}")))
}

/// `triggered_intent_replies`: an array of intents, null, or the array as JSON text.
pub(super) struct Intents<'a>(pub(super) Vec<Intent<'a>>);

impl<'de> Deserialize<'de> for Intents<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Intents<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of intents")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Intents<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(it) = seq.next_element::<Intent<'de>>()? {
                    v.push(it);
                }
                Ok(Intents(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Intents<'de>, E> {
                if s.trim().is_empty() {
                    return Ok(Intents(Vec::new()));
                }
                crate::source::de::from_str::<Intents>(s)
                    .map(|i| Intents(i.0.into_iter().map(Intent::into_owned).collect()))
                    .map_err(|e| E::custom(format_args!("intents JSON text: {e}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Intents<'de>, E> {
                Ok(Intents(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Index of the first meaningful intent: the earliest by `intent_timestamp` (a null
/// timestamp sorts first, as in BigQuery's ascending order), ties broken by array order,
/// among items with `not_meaningful` false (null fails the SQL's `is false`), a non-null
/// name, and a name not in `excluded` (SQL `NOT IN` drops null names too).
pub(super) fn first_meaningful(intents: &[Intent<'_>], excluded: &[String]) -> Option<usize> {
    intents
        .iter()
        .enumerate()
        .filter(|(_, it)| {
            it.not_meaningful.0 == Some(false)
                && it
                    .name
                    .0
                    .as_deref()
                    .is_some_and(|n| !excluded.iter().any(|x| x == n))
        })
        .min_by_key(|(i, it)| (it.timestamp.0, *i))
        .map(|(i, _)| i)
}
