//! Building a canonical table row by row: [`TableBuilder`] appends each value in the
//! declaration's column order; a metrics-only read leaves the columns it does not read out
//! ([`Col`], [`Nulls`]: shared all-null columns in their place).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Schema};
use arrow::error::ArrowError;

use super::{Kind, TableDef};
use crate::source::codes::WordCodes;

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
    /// A text column read as codes of a few words (see [`TableBuilder::sized_with_words`]).
    Words(WordCodes),
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
        Self::sized_with_words(def, want, capacity, &[])
    }

    /// [`TableBuilder::sized`], the text columns named in `words` that are built read as
    /// codes of their words (see [`WordCodes`]): the batches then hold a `UInt8` column
    /// there, whatever the declaration says (a metrics-only read, for KPIs that only test
    /// the words).
    pub fn sized_with_words(
        def: &'static TableDef,
        want: impl Fn(&str) -> bool,
        capacity: Capacity,
        words: &[(&str, &'static [&'static str])],
    ) -> Self {
        let Capacity { rows, text } = capacity;
        let words_of = |name: &str| words.iter().find(|(c, _)| *c == name).map(|&(_, w)| w);
        let columns = def
            .columns
            .iter()
            .map(|c| match (c.kind, words_of(c.name)) {
                _ if !want(c.name) && c.nullable => ColumnBuilder::Skipped(c.kind.arrow()),
                (Kind::Utf8, Some(words)) => ColumnBuilder::Words(WordCodes::new(words, rows)),
                (Kind::Utf8, _) => ColumnBuilder::Utf8(StringBuilder::with_capacity(rows, text)),
                (Kind::Int64, _) => ColumnBuilder::Int64(Int64Builder::with_capacity(rows)),
                (Kind::Float64, _) => ColumnBuilder::Float64(Float64Builder::with_capacity(rows)),
                (Kind::Bool, _) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
                (Kind::Timestamp, _) => ColumnBuilder::Timestamp(
                    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
                ),
                (Kind::Utf8List, _) => {
                    ColumnBuilder::Utf8List(ListBuilder::new(StringBuilder::new()))
                }
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
        match self.next(Kind::Utf8) {
            Some(ColumnBuilder::Utf8(b)) => b.append_option(v),
            Some(ColumnBuilder::Words(w)) => w.append_option(v),
            _ => {}
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
                ColumnBuilder::Words(w) => w.finish(),
            }
        }));
        RecordBatch::try_new(super::schema_of(self.def.schema(), &arrays), arrays)
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn text_columns_named_with_words_come_out_as_their_codes() {
        use arrow::array::AsArray;
        use arrow::datatypes::{DataType, UInt8Type};
        let want = |c: &str| ["direction", "outcome", "queue_id"].contains(&c);
        let words: [(&str, &'static [&'static str]); 2] = [
            ("outcome", &["accepted", "abandoned"]),
            // Not built (not wanted): stays left out.
            ("agent_id", &["x"]),
        ];
        let capacity = super::Capacity { rows: 4, text: 64 };
        let mut b =
            super::TableBuilder::sized_with_words(&crate::table::DIALOGUES, want, capacity, &words);
        for outcome in [Some("Accepted"), Some("ABANDONED"), Some("IvrDrop"), None] {
            b.str(Some("id")).i64(None).str(None);
            for _ in 0..4 {
                b.ts(None);
            }
            for _ in 0..5 {
                b.f64(None);
            }
            b.str(None)
                .str(Some("q1"))
                .str(None)
                .str(None)
                .str(Some("inbound"));
            b.str(outcome).bool(None).bool(None).str(Some(""));
            b.end_row();
        }
        let t = b.finish().unwrap();
        let field = |c: &str| t.schema().field_with_name(c).unwrap().data_type().clone();
        assert_eq!(field("outcome"), DataType::UInt8);
        assert_eq!(field("direction"), DataType::Utf8);
        assert_eq!(field("agent_id"), DataType::Utf8);
        let codes = t
            .column_by_name("outcome")
            .unwrap()
            .as_primitive::<UInt8Type>();
        let none = crate::source::codes::NO_WORD;
        assert_eq!(codes.values(), &[0, 1, none, none]);
        let direction = t.column_by_name("direction").unwrap().as_string::<i32>();
        assert_eq!(direction.value(3), "inbound");
    }

    #[test]
    fn a_lean_table_builder_keeps_the_wanted_and_key_columns_and_nulls_the_rest() {
        use arrow::array::{Array, AsArray};
        // Dialogues: `id` is a key (never null), so it is built though not wanted.
        let mut b = super::TableBuilder::only(&crate::table::DIALOGUES, |c| c == "order_number");
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
        assert_eq!(t.schema(), crate::table::DIALOGUES.schema());
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
}
