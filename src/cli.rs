//! Command-line types (clap). No logic lives here: `app` turns these into runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::metrics::agents::Source;
use crate::metrics::bot::{StatusMatch, TimeBasis};
use crate::metrics::messaging::{IntentType, View};
use crate::metrics::queue::{DirectionFilter, ServiceLevel};
use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "cxkpi",
    version,
    about = "Exact, documented contact-center KPIs from vendor export files",
    long_about = "cxkpi reads contact-center export files (Ultimate / Zendesk AI agents, …) and computes \
                  the vendors' own KPIs, bucketed in time and broken down by dimension.\n\n\
                  Exit codes: 0 ok, 1 bad input data, 2 bad command line, 3 I/O error, \
                  4 finished but some files were rejected (--skip-bad-files), 70 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print no notes or warnings on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute a KPI family from export files.
    #[command(subcommand)]
    Metrics(MetricsCommand),

    /// Print a canonical table (rows as parsed, deduplicated, with derived columns).
    Table(TableArgs),

    /// Write deterministic synthetic exports for tests and benchmarks.
    #[command(subcommand)]
    Generate(GenerateCommand),

    /// Add export files (any mix of formats) to a Parquet lake: incremental, idempotent,
    /// crash-safe.
    Ingest(IngestArgs),

    /// Print the lake's table definitions for another engine.
    Ddl(DdlArgs),

    /// The nightly job: ingest the inbox into the lake, then refresh every KPI table of the
    /// config.
    Run(RunArgs),

    /// Print a KPI family as SQL for DuckDB or Spark over the lake's tables (see `ddl`):
    /// the same rows as `metrics FAMILY --lake` with the same options.
    Sql(SqlArgs),

    /// Write one self-contained HTML page with the charts of every KPI family in the input.
    Report(ReportArgs),

    /// Tell what is in export files before trusting numbers from them: each file's vendor,
    /// framing, records and time range; each table's rows, duplicates and null shares; and
    /// data-quality findings (warnings, not errors).
    Inspect(InspectArgs),

    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), or write every command's page to a directory.
    Man {
        /// Write cxkpi.1 and a page per subcommand (cxkpi-metrics-bot.1, …) into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Export files or directories (any mix of vendors).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// table (text for a terminal) or json.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,

    /// List every file in the text form: past 40 files it shows one line per format
    /// (vendor, report, framing), naming only the files that could not be read or were
    /// passed over. The JSON form always lists every file.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Export files or directories, any mix of vendors (read through a temporary lake).
    #[arg(value_name = "PATH", required_unless_present = "lake")]
    pub paths: Vec<PathBuf>,

    /// Report on a cxkpi lake instead of files.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub lake: Option<PathBuf>,

    /// Start of the range, inclusive (as for metrics) [default: the first record].
    #[arg(long, value_name = "T")]
    pub from: Option<String>,

    /// End of the range, exclusive [default: after the last record].
    #[arg(long, value_name = "T")]
    pub to: Option<String>,

    /// IANA time zone for the range, the buckets and the intraday profile.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub tz: String,

    /// Bucket width (as for metrics) [default: 1h up to 3 days, 1d up to 92 days, else 1w].
    #[arg(long, value_name = "I")]
    pub interval: Option<String>,

    /// The queue's service level recomputed as queue time ≤ SECONDS (default: the export's InSLA).
    #[arg(long, value_name = "SECONDS")]
    pub sla_threshold: Option<f64>,

    /// Service-level variants to chart beside it, comma-separated (v1..v6).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "VARIANT,...")]
    pub service_level: Vec<ServiceLevel>,

    /// The HTML file to write (atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The engine to write SQL for: duckdb or spark (also Databricks SQL).
    #[arg(long, value_enum, global = true)]
    pub engine: Option<crate::sql::Engine>,

    /// The family and its options, as for `metrics` (no input: the SQL reads the tables
    /// `cxkpi ddl` defines).
    #[command(subcommand)]
    pub family: MetricsCommand,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job's TOML config (see cxkpi.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub write: WriteArgs,
}

/// How a run that writes the lake shares it and bounds its memory.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Seconds to wait for another run that holds the lake's lock; 0 fails at once. A run
    /// still locked out after the wait exits with code 75 (try again later).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub wait: u64,

    /// JSON read per batch (after gzip), which bounds the run's memory: a number of bytes
    /// with an optional unit (K, M, G: binary; KB, MB, GB: decimal). A file of one record
    /// per line that is larger is read in windows of this size (at least 1 MiB). The run
    /// still commits once, whatever the number of batches.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub batch_size: u64,
}

/// A size such as `512M`, `64KiB`, `2GB` or `1000`, in bytes (at least 1).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number, then K, M or G)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (K, M, G, KB, MB or GB)"
            ))
        }
    };
    match n.checked_mul(scale) {
        Some(0) => Err("the size must be at least 1 byte".into()),
        Some(b) => Ok(b),
        None => Err(format!("{s:?} is too large")),
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Export files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The lake directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,

    /// Set aside files whose content is bad, list them, and go on (exit code 4).
    #[arg(long)]
    pub skip_bad_files: bool,

    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct DdlArgs {
    /// duckdb (views over read_parquet), spark or trino (external partitioned tables).
    #[arg(long, value_parser = ["duckdb", "spark", "trino"])]
    pub engine: String,

    /// The lake directory: read to tell which tables hold data, and, without --location,
    /// where the engine finds them (as an absolute path).
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,

    /// The lake's location as the engine sees it, when it is elsewhere (a copy or sync of
    /// the lake on object storage: s3a://bucket/cxkpi, abfss://…, gs://…).
    #[arg(long, value_name = "URI")]
    pub location: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Bot KPIs from Ultimate / Zendesk AI-agent exports (the vendor's "Popular Metrics").
    Bot(BotArgs),

    /// Dialpad Digital Engagement views from redacted message dumps.
    Messaging(MessagingArgs),

    /// Queue KPIs (service level, abandonment, speed of answer) from Anywhere365 Dialogues.
    Queue(QueueArgs),

    /// Call KPIs (answer rate, talk, hold, ACW, AHT, time to answer, MOS) from Samespace calls.
    Calls(PlainMetricsArgs),

    /// CSAT per survey question from Samespace CSAT reports.
    Csat(PlainMetricsArgs),

    /// Agent logged-in time, logouts and productivity from Samespace logs and productivity.
    Agents(AgentsArgs),
}

#[derive(Debug, Args)]
pub struct PlainMetricsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub output: OutputArgs,

    /// Which dialogues: inbound (the queue KPIs' definition), outbound or all.
    #[arg(long, value_enum, default_value_t = DirectionFilter::Inbound)]
    pub direction: DirectionFilter,

    /// Recompute in_sla as accepted with queue time ≤ SECONDS instead of the export's InSLA
    /// (columns get a `_SECONDSs` suffix); also the T of --service-level (default 20).
    #[arg(long, value_name = "SECONDS")]
    pub sla_threshold: Option<f64>,

    /// Recompute quick drops as abandoned with a wait ≤ SECONDS instead of QuickDrop.
    #[arg(long, value_name = "SECONDS")]
    pub quick_drop_threshold: Option<f64>,

    /// Service-level variants to add, comma-separated (v1..v6, see the README).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "VARIANT,...")]
    pub service_level: Vec<ServiceLevel>,
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub output: OutputArgs,

    /// The report to summarize: session logs or the productivity report.
    #[arg(long, value_enum, default_value_t = Source::Logs)]
    pub source: Source,
}

#[derive(Debug, Args)]
pub struct MessagingArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub output: OutputArgs,

    /// The view to compute.
    #[arg(long, value_enum, default_value_t = View::Interactions)]
    pub view: View,

    /// For --view intents: only messages of bot or of agent interactions (Dialpad's intenttype).
    #[arg(long, value_enum)]
    pub intent_type: Option<IntentType>,
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Export files or directories (searched recursively); gzip and framing are detected by content.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Read the canonical tables from a cxkpi lake (see `cxkpi ingest`) instead of files.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub lake: Option<PathBuf>,

    /// Set aside files whose content is bad, list them on stderr, and go on (exit code 4).
    #[arg(long)]
    pub skip_bad_files: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, else csv; or from the --output extension].
    #[arg(long, short, value_enum)]
    pub format: Option<Format>,

    /// Write to FILE (atomically: a temporary name, then rename) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Start of the range, inclusive: a date (local midnight in --tz), a local date-time, or RFC 3339.
    #[arg(long, value_name = "T")]
    pub from: Option<String>,

    /// End of the range, exclusive; same notations as --from.
    #[arg(long, value_name = "T")]
    pub to: Option<String>,

    /// Bucket width: total, 15m, 30m, 1h, Nh (N dividing 24), 1d, 1w (Monday), 1mo.
    #[arg(long, default_value = "total", value_name = "I")]
    pub interval: String,

    /// IANA time zone for dates, bucket boundaries and bucket_start (DST-correct).
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub tz: String,

    /// Dimensions to break down by, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "DIM,...")]
    pub by: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BotArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub output: OutputArgs,

    /// Book conversations by their start time (default) or end time.
    #[arg(long, value_enum, default_value_t = TimeBasis::Start)]
    pub time: TimeBasis,

    /// Leave out test conversations (test_mode = true).
    #[arg(long)]
    pub exclude_test: bool,

    /// Bot Summary parity (vendor FAQ): count only conversations with bot_messages_count > 0.
    #[arg(long)]
    pub bot_summary: bool,

    /// Compare statuses exactly as the vendor SQL does, or ignoring case and separators.
    #[arg(long, value_enum, default_value_t = StatusMatch::Exact)]
    pub status_match: StatusMatch,

    /// Intent names never taken as the first meaningful intent, comma-separated ("" for none).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAME,...",
        default_value = "Greeting,Talk to a human/agent"
    )]
    pub exclude_intents: Vec<String>,

    /// With --by first_meaningful_intent, keep conversations without one as a null group
    /// (the vendor SQL drops them).
    #[arg(long)]
    pub include_no_intent: bool,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// The table: bot_conversations, bot_intents (Ultimate), messages, interactions (Dialpad),
    /// dialogues (Anywhere365), calls, csat_calls, csat_answers, agent_sessions, productivity
    /// (Samespace).
    #[arg(value_name = "TABLE")]
    pub table: String,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,

    /// Intent names never taken as the first meaningful intent, comma-separated ("" for none).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAME,...",
        default_value = "Greeting,Talk to a human/agent"
    )]
    pub exclude_intents: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Ultimate / Zendesk AI-agent daily exports with every documented quirk.
    Ultimate(GenerateArgs),

    /// Dialpad message dumps: 7-day pulls every 3 days (overlapping), bot → agent hand-offs,
    /// survey bots, every framing.
    Dialpad(GenerateArgs),

    /// Anywhere365 Dialogues as OData pages, arrays and NDJSON, in mixed notations.
    Anywhere365(GenerateArgs),

    /// Samespace calls, CSAT, agent logs and productivity in plain, mongo-shell and
    /// Extended JSON notation.
    Samespace(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the exports to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Number of days of conversations.
    #[arg(long, default_value_t = 7)]
    pub days: u32,

    /// Conversations started per day.
    #[arg(long, default_value_t = 1000)]
    pub per_day: u32,

    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// First day (UTC).
    #[arg(long, default_value = "2024-03-25", value_name = "DATE")]
    pub start: String,

    /// Only plain NDJSON files with lower-case keys (no quirks), for benchmarks and peers.
    #[arg(long)]
    pub plain: bool,

    /// Also write a plain NDJSON twin of every delivered record (duplicates included) to FILE,
    /// for independent checks with DuckDB.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
