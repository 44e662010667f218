//! The README documents what the code defines: every canonical column, metric column and
//! dimension appears in it, so the docs cannot silently fall behind the tables.

use cxkpi::metrics::bot;
use cxkpi::table::TABLES;

#[test]
fn readme_names_every_column_metric_and_dimension() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut missing = Vec::new();
    for t in TABLES {
        if !readme.contains(&format!("`{}`", t.name)) {
            missing.push(t.name.to_string());
        }
        for c in t.columns {
            if !readme.contains(c.name) {
                missing.push(format!("{}.{}", t.name, c.name));
            }
        }
    }
    for name in bot::COLUMNS.iter().chain(bot::DIMENSIONS) {
        if !readme.contains(&format!("`{name}`")) {
            missing.push(format!("bot: {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "README.md does not document: {missing:?}"
    );
}
