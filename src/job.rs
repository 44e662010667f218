//! The nightly job in one command: `cxkpi run --config cxkpi.toml` ingests the inbox into the
//! lake, then refreshes every KPI table the config lists, from the lake, atomically.
//!
//! Each `[[kpi]]` entry is turned into the command line a user would type
//! (`cxkpi metrics FAMILY --lake … --interval … --output …`) and parsed by the same clap
//! definitions, so a KPI in the job behaves exactly like the documented command. Every entry
//! is validated before anything is ingested.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The config format's version; 1.
    pub version: u32,
    /// Export files or directories to ingest (relative to the config file).
    pub inbox: Vec<PathBuf>,
    /// The lake directory.
    pub lake: PathBuf,
    /// Where the KPI tables are written, one file per `[[kpi]]`.
    pub outputs: PathBuf,
    /// Set bad files aside instead of failing the run (the exit code is then 4).
    #[serde(default)]
    pub skip_bad_files: bool,
    #[serde(default, rename = "kpi")]
    pub kpis: Vec<Kpi>,
    /// The HTML report, written after the KPI tables.
    pub report: Option<Report>,
}

/// `[report]`: the command `cxkpi report --lake LAKE --output OUTPUTS/FILE …`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The HTML file's name, in `outputs`.
    #[serde(default = "report_html")]
    pub file: String,
    pub tz: Option<String>,
    pub interval: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Any other flag of `cxkpi report`, e.g. ["--sla-threshold", "20"].
    #[serde(default)]
    pub options: Vec<String>,
}

fn report_html() -> String {
    "report.html".into()
}

impl Report {
    /// The equivalent command line.
    pub fn argv(&self, lake: &Path, outputs: &Path) -> Vec<String> {
        let mut a: Vec<String> = vec!["cxkpi".into(), "-q".into(), "report".into()];
        a.extend(["--lake".into(), lake.to_string_lossy().into_owned()]);
        for (name, v) in [
            ("tz", &self.tz),
            ("interval", &self.interval),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                a.extend([format!("--{name}"), v.clone()]);
            }
        }
        a.extend(self.options.iter().cloned());
        a.extend([
            "--output".into(),
            outputs.join(&self.file).to_string_lossy().into_owned(),
        ]);
        a
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// The output file's name, without extension.
    pub name: String,
    /// bot, messaging, queue, calls, csat or agents.
    pub family: String,
    /// For messaging: the view.
    pub view: Option<String>,
    pub interval: Option<String>,
    pub tz: Option<String>,
    #[serde(default)]
    pub by: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// parquet (default) or csv.
    #[serde(default = "parquet")]
    pub format: String,
    /// Any other flag of `cxkpi metrics FAMILY`, e.g. ["--sla-threshold", "30"].
    #[serde(default)]
    pub options: Vec<String>,
}

fn parquet() -> String {
    "parquet".into()
}

/// Reads the config; relative paths are taken from the config file's directory.
pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut cfg: Config =
        toml::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    if cfg.version != 1 {
        return Err(Error::Usage(format!(
            "{}: version {} is not supported (1 is)",
            path.display(),
            cfg.version
        )));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    cfg.inbox = cfg.inbox.iter().map(resolve).collect();
    cfg.lake = resolve(&cfg.lake);
    cfg.outputs = resolve(&cfg.outputs);
    let mut names = std::collections::HashSet::new();
    for k in &cfg.kpis {
        let safe = !k.name.is_empty()
            && k.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !safe || !names.insert(&k.name) {
            return Err(Error::Usage(format!(
                "{}: kpi name {:?} must be unique and made of letters, digits, '_' and '-'",
                path.display(),
                k.name
            )));
        }
        if !matches!(k.format.as_str(), "parquet" | "csv") {
            return Err(Error::Usage(format!(
                "kpi {}: format must be parquet or csv",
                k.name
            )));
        }
    }
    if let Some(r) = &cfg.report {
        let plain = Path::new(&r.file).file_name().map(|n| n == r.file.as_str()) == Some(true);
        if !plain || !r.file.ends_with(".html") {
            return Err(Error::Usage(format!(
                "{}: report file {:?} must be a file name ending in .html",
                path.display(),
                r.file
            )));
        }
    }
    Ok(cfg)
}

impl Kpi {
    /// The output file of this KPI table.
    pub fn output(&self, outputs: &Path) -> PathBuf {
        outputs.join(format!("{}.{}", self.name, self.format))
    }

    /// The equivalent command line.
    pub fn argv(&self, lake: &Path, outputs: &Path) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "cxkpi".into(),
            "-q".into(),
            "metrics".into(),
            self.family.clone(),
        ];
        a.extend(["--lake".into(), lake.to_string_lossy().into_owned()]);
        let mut flag = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                a.extend([format!("--{name}"), v.clone()]);
            }
        };
        flag("view", &self.view);
        flag("interval", &self.interval);
        flag("tz", &self.tz);
        flag("from", &self.from);
        flag("to", &self.to);
        if !self.by.is_empty() {
            a.extend(["--by".into(), self.by.join(",")]);
        }
        a.extend(self.options.iter().cloned());
        a.extend(["--format".into(), self.format.clone()]);
        a.extend([
            "--output".into(),
            self.output(outputs).to_string_lossy().into_owned(),
        ]);
        a
    }
}
