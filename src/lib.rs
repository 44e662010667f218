//! cxkpi: exact, documented contact-center KPIs from vendor export files.
//!
//! The flow: [`source`] finds and frames export files and parses them in parallel into the
//! canonical Arrow tables of [`table`]; [`metrics`] computes KPI families over them with
//! polars (through the zero-copy [`bridge`]) on the shared query layer of [`time`] and
//! [`metrics::Query`]; [`output`] writes the results. [`app`] wires this to the [`cli`].

pub mod alloc;
pub mod app;
pub mod bridge;
pub mod cli;
pub mod error;
pub mod fuzz;
pub mod generate;
pub mod inspect;
pub mod job;
pub mod lake;
pub mod metrics;
pub mod output;
pub mod report;
pub mod source;
pub mod sql;
pub mod table;
pub mod time;

pub use error::{Error, Result};
