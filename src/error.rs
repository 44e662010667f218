//! The library's typed errors and the exit codes the binary maps them to.
//!
//! Exit codes are part of the interface: a scheduler decides on them, so they never change
//! meaning. They are documented in the README.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input file something went wrong. Lines and columns are 1-based, the byte
/// offset 0-based (of the decompressed content when the file was gzip, of its UTF-8 form
/// when it was UTF-16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} (byte {})",
            self.path.display(),
            self.line,
            self.column,
            self.offset
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The content of an input file is not what the reader expects.
    #[error("{location}: {message}")]
    Data { location: Location, message: String },

    /// A file that is not in the format expected: JSON of none of the exports cxkpi reads,
    /// or of the wrong one for the command; a lake file that is not the table's Parquet.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },

    /// Reading or writing a file failed (missing path, permissions, full disk).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),

    /// A file is a recognized export, but of another vendor than the command reads.
    #[error("{}: not {expected}: it looks like {}", path.display(), found.name())]
    OtherVendor {
        path: PathBuf,
        expected: &'static str,
        found: crate::source::Vendor,
    },

    /// Values a KPI sums add up past what a 64-bit integer holds (polars' integer sums
    /// wrap around silently): no export's counts or durations come near, so the input
    /// holds values it should not.
    #[error("the values of {columns} add up past what a KPI can sum (2^63): the input holds counts or durations no export should")]
    Overflow { columns: String },

    /// Some input files were rejected and skipped on request; everything else completed.
    #[error("{count} input file(s) were rejected and skipped")]
    Rejected { count: usize },

    /// Another run holds the lake's lock and did not release it within `--wait`.
    #[error("{}: the lake is locked by another run ({holder}); waited {waited:.1} s (see --wait)", path.display())]
    Locked {
        path: PathBuf,
        holder: String,
        waited: f64,
    },

    /// A bug in cxkpi itself (a SQL template with a placeholder it does not know).
    #[error("internal error: {0}")]
    Internal(String),

    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The I/O error a Parquet error carries (parquet-rs wraps the reader's and writer's I/O
/// failures as `External`), or the Parquet error itself.
fn io_inside(
    e: parquet::errors::ParquetError,
) -> std::result::Result<std::io::Error, parquet::errors::ParquetError> {
    match e {
        parquet::errors::ParquetError::External(inner) => inner
            .downcast::<std::io::Error>()
            .map(|e| *e)
            .map_err(parquet::errors::ParquetError::External),
        e => Err(e),
    }
}

/// Exit codes of the `cxkpi` binary.
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// Bad input data: a file is not valid JSON, is truncated, or is not the expected
    /// export, or its values add up past what a KPI can sum. Nothing was written.
    pub const DATA: u8 = 1;
    /// Bad command line (clap also uses 2).
    pub const USAGE: u8 = 2;
    /// A file could not be read or written.
    pub const IO: u8 = 3;
    /// The run completed, but some input files were rejected and skipped (`--skip-bad-files`).
    pub const REJECTED: u8 = 4;
    /// The lake is locked by another run that did not finish within `--wait`: try again
    /// later (sysexits' EX_TEMPFAIL, which schedulers know as "retry").
    pub const LOCKED: u8 = 75;
    /// A bug in cxkpi (an engine error that bad input should never cause).
    pub const INTERNAL: u8 = 70;
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Data { .. }
            | Error::Format { .. }
            | Error::OtherVendor { .. }
            | Error::Overflow { .. } => exit::DATA,
            Error::Io { .. } => exit::IO,
            Error::Usage(_) => exit::USAGE,
            Error::Rejected { .. } => exit::REJECTED,
            Error::Locked { .. } => exit::LOCKED,
            Error::Internal(_) | Error::Polars(_) | Error::Arrow(_) | Error::Parquet(_) => {
                exit::INTERNAL
            }
        }
    }

    /// An error of the Parquet reader on the lake file `path`: a failed read is an I/O
    /// error, anything else a damaged file (exit 1, not a bug), both naming the file.
    pub fn lake_file(path: &Path, e: Error) -> Self {
        let message = match e {
            Error::Parquet(e) => match io_inside(e) {
                Ok(source) => return Error::io(path, source),
                Err(e) => e.to_string(),
            },
            Error::Arrow(e) => e.to_string(),
            other => return other,
        };
        Error::Format {
            path: path.to_path_buf(),
            message: format!(
                "not a readable partition file of the lake ({message}): it was damaged or \
                 replaced outside cxkpi; restore it, or ingest the exports into a new lake"
            ),
        }
    }

    /// An error of the Parquet writer on `path`: a failed write (a full disk) is an I/O
    /// error naming the file; anything else is a bug.
    pub fn parquet_write(path: &Path, e: parquet::errors::ParquetError) -> Self {
        match io_inside(e) {
            Ok(source) => Error::io(path, source),
            Err(e) => Error::Parquet(e),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the error is about one input file's content, so `--skip-bad-files` may
    /// set the file aside and go on.
    pub fn is_bad_file(&self) -> bool {
        matches!(
            self,
            Error::Data { .. } | Error::Format { .. } | Error::OtherVendor { .. }
        )
    }
}
