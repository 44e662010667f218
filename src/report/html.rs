//! The report's page: one HTML file with its CSS and charts inline, nothing loaded from the
//! network, no script. Every chart carries its numbers as a table (in a `<details>`), and
//! every figure its KPI's definition.

use std::fmt::Write;

/// Text made safe for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a number is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fmt {
    Count,
    Percent,
    Seconds,
    Number,
}

/// A value as a reader sees it (`41.2%`, `12,345`, `38.4 s`); empty for none.
pub fn show(v: Option<f64>, f: Fmt) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    match f {
        Fmt::Count => group_thousands(v.round() as i64),
        Fmt::Percent => format!("{:.1}%", v * 100.0),
        Fmt::Seconds => format!("{v:.1} s"),
        Fmt::Number => format!("{v:.2}"),
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// The exact value, as `cxkpi metrics` prints it, for a `data-value` attribute.
pub fn exact(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A headline figure: the value shown, the exact value in `data-value`.
pub struct Headline {
    pub label: &'static str,
    pub column: &'static str,
    pub value: Option<f64>,
    pub fmt: Fmt,
}

pub fn headlines(items: &[Headline]) -> String {
    let mut out = String::from("<div class=\"headline\">\n");
    for h in items {
        let _ = writeln!(
            out,
            "<div class=\"kpi\" data-column=\"{}\" data-value=\"{}\"><span class=\"value\">{}</span><span class=\"label\">{}</span></div>",
            h.column,
            exact(h.value),
            show(h.value, h.fmt),
            esc(h.label)
        );
    }
    out.push_str("</div>\n");
    out
}

/// A table: a header row and rows of (shown text, exact value) cells.
pub fn table(header: &[String], rows: &[Vec<(String, String)>]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for (i, (text, value)) in r.iter().enumerate() {
            match i {
                0 => {
                    let _ = write!(out, "<th scope=\"row\">{}</th>", esc(text));
                }
                _ => {
                    let _ = write!(out, "<td data-value=\"{}\">{}</td>", esc(value), esc(text));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A chart with its title, its legend (series names in their colours: text a reader can
/// select, beside the chart rather than over its data), its definition and its numbers.
pub fn figure(
    id: &str,
    title: &str,
    legend: &[(String, String)],
    definition: &str,
    svg: &str,
    numbers: &str,
) -> String {
    let mut keys = String::new();
    if legend.len() > 1 {
        keys.push_str("<ul class=\"legend\">");
        for (name, color) in legend {
            let _ = write!(
                keys,
                "<li><span class=\"swatch\" style=\"background:{color}\"></span>{}</li>",
                esc(name)
            );
        }
        keys.push_str("</ul>\n");
    }
    format!(
        "<figure id=\"{id}\">\n<figcaption>{}</figcaption>\n{keys}<div class=\"chart\" role=\"img\" aria-label=\"{}\">{}</div>\n<p class=\"def\">{}</p>\n<details><summary>The numbers</summary>\n{numbers}</details>\n</figure>\n",
        esc(title),
        esc(title),
        strip_xml_header(svg),
        esc(definition)
    )
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

pub const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #f6f7f9; }
header { background: #0b3d61; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 24px; }
header p { margin: 2px 0; opacity: .9; }
nav a { color: #fff; margin-right: 16px; }
main { max-width: 1000px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border-radius: 8px; padding: 8px 24px 16px; margin: 20px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { font-size: 20px; border-bottom: 1px solid #e3e5e8; padding-bottom: 6px; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 20px; }
.kpi { background: #eef4f9; border-radius: 6px; padding: 10px 14px; min-width: 120px; }
.kpi .value { display: block; font-size: 22px; font-weight: 600; color: #0b3d61; }
.kpi .label { display: block; font-size: 12px; color: #4a4f55; }
figure { margin: 20px 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.chart svg { max-width: 100%; height: auto; }
.legend { list-style: none; padding: 0; margin: 0 0 4px; font-size: 13px; }
.legend li { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.def { font-size: 13px; color: #4a4f55; margin: 4px 0; }
details { font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border-bottom: 1px solid #e3e5e8; padding: 3px 10px; text-align: right; }
th[scope=row], thead th:first-child { text-align: left; }
footer { font-size: 12px; color: #6b7075; text-align: center; padding: 16px; }
";
