//! Moving columns between arrow-rs (readers, writers, the lake) and polars (the KPI engine)
//! without copying, through the Arrow C Data Interface.
//!
//! The two crates implement Arrow separately (polars has its own `polars-arrow`), so neither
//! knows the other's types; both implement the C Data Interface, whose two structs have one
//! `#[repr(C)]` layout fixed by the Arrow specification. Handing the structs across is the
//! documented way for two Arrow implementations in one process to share buffers.

use std::sync::Arc;

use arrow::array::{make_array, ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::{CompatLevel, DataFrame, IntoColumn, Series};

use crate::error::{Error, Result};

/// Compile-time check that the two implementations agree on the structs' size.
const _: () = {
    assert!(
        std::mem::size_of::<FFI_ArrowArray>()
            == std::mem::size_of::<polars_arrow::ffi::ArrowArray>()
    );
    assert!(
        std::mem::size_of::<FFI_ArrowSchema>()
            == std::mem::size_of::<polars_arrow::ffi::ArrowSchema>()
    );
};

/// An arrow-rs record batch as a polars DataFrame, sharing the buffers.
pub fn to_polars(batch: &RecordBatch) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (array, field) in batch.columns().iter().zip(batch.schema().fields()) {
        let (ffi_array, ffi_schema) = arrow::ffi::to_ffi(&array.to_data())?;
        // SAFETY: both types are the C Data Interface structs (repr(C), same layout, sizes
        // checked above); ownership (and the release callback) moves with the value.
        let (pl_array, pl_schema) = unsafe {
            (
                std::mem::transmute::<FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(ffi_array),
                std::mem::transmute::<FFI_ArrowSchema, polars_arrow::ffi::ArrowSchema>(ffi_schema),
            )
        };
        // SAFETY: the structs were just produced by arrow-rs from a valid array.
        let series = unsafe {
            let pl_field = polars_arrow::ffi::import_field_from_c(&pl_schema)?;
            let imported = polars_arrow::ffi::import_array_from_c(pl_array, pl_field.dtype)?;
            Series::from_arrow(field.name().as_str().into(), imported)?
        };
        columns.push(series.into_column());
    }
    Ok(DataFrame::new(batch.num_rows(), columns)?)
}

/// A polars DataFrame as an arrow-rs record batch, sharing the buffers. Strings arrive as
/// LargeUtf8 (polars' most compatible export level), which every writer handles.
pub fn to_arrow(df: &DataFrame) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(df.width());
    for column in df.columns() {
        let series = column.as_materialized_series().rechunk();
        let pl_field = series.field().to_arrow(CompatLevel::oldest());
        let pl_array = if series.chunks().is_empty() {
            polars_arrow::array::new_empty_array(pl_field.dtype.clone())
        } else {
            series.to_arrow(0, CompatLevel::oldest())
        };
        let pl_schema = polars_arrow::ffi::export_field_to_c(&pl_field);
        let pl_array = polars_arrow::ffi::export_array_to_c(pl_array);
        // SAFETY: as in `to_polars`, in the other direction.
        let data = unsafe {
            let ffi_schema =
                std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(pl_schema);
            let ffi_array =
                std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(pl_array);
            arrow::ffi::from_ffi(ffi_array, &ffi_schema)?
        };
        let array = make_array(data);
        fields.push(Field::new(
            column.name().as_str(),
            array.data_type().clone(),
            true,
        ));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    if arrays.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    RecordBatch::try_new(schema, arrays).map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, Int64Array, StringArray, TimestampMicrosecondArray};

    #[test]
    fn round_trip_keeps_values_and_nulls() {
        let batch = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ccc")])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None])) as ArrayRef,
            ),
            (
                "t",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(5), None, Some(7)])
                        .with_timezone("UTC"),
                ) as ArrayRef,
            ),
        ])
        .unwrap();
        let df = to_polars(&batch).unwrap();
        assert_eq!(df.height(), 3);
        let back = to_arrow(&df).unwrap();
        let s = back.column(0).as_string::<i64>();
        assert_eq!(s.value(2), "ccc");
        assert!(s.is_null(1));
        let n = back.column(1).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(n.value(1), 2);
        assert!(n.is_null(2));
    }
}
