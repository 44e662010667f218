//! The report's charts as inline SVG, drawn with plotters' SVG backend.
//!
//! Three shapes cover every chart the report shows: lines over buckets (rates, times),
//! bars per category (grouped or stacked: volumes, mixes) and a heat map (the intraday
//! profile). The x axis of a time chart is the bucket's position; its labels are the
//! buckets' local dates, so a chart reads in the report's zone.

use plotters::prelude::*;

use crate::error::{Error, Result};

/// One named series of values, a value per category or bucket (None: no value).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

impl Series {
    pub fn new(name: &str, values: Vec<Option<f64>>) -> Self {
        Series {
            name: name.to_string(),
            values,
        }
    }
}

/// How a value axis is labelled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// A count.
    Count,
    /// A share 0..1, shown as a percentage.
    Percent,
    /// Seconds.
    Seconds,
    /// Hours.
    Hours,
}

impl Unit {
    fn tick(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{:.0}%", v * 100.0),
            // A count axis over small numbers gets fractional ticks: those stay unlabelled.
            Unit::Count if (v - v.round()).abs() > 1e-9 => String::new(),
            Unit::Count if v.abs() >= 10_000.0 => format!("{:.0}k", v / 1000.0),
            Unit::Count => format!("{v:.0}"),
            Unit::Seconds => format!("{v:.0} s"),
            Unit::Hours => format!("{v:.0} h"),
        }
    }
}

const W: u32 = 760;
const H: u32 = 300;
/// Colour-blind-safe (Okabe–Ito).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
];

fn err<E: std::fmt::Display>(e: E) -> Error {
    Error::Internal(format!("drawing a chart: {e}"))
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of series `i` as CSS, for the legend the page draws beside the chart.
pub fn css_color(i: usize) -> String {
    let RGBColor(r, g, b) = color(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The largest value of the series (at least `floor`), with some headroom.
fn top(series: &[Series], stacked: bool, floor: f64) -> f64 {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max = match stacked {
        true => (0..n)
            .map(|i| series.iter().filter_map(|s| s.values[i]).sum::<f64>())
            .fold(0.0, f64::max),
        false => series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    };
    (max * 1.1).max(floor)
}

/// The label of the category at tick `x` (plotters places at most 12 ticks, at round
/// positions; a tick between categories has none).
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if i < 0.0 || (i as usize) >= labels.len() || (x - i).abs() > 1e-6 {
        return String::new();
    }
    labels[i as usize].clone()
}

/// How many x ticks plotters may place over `labels`: as many as fit side by side at
/// their length (about 7 px a character at the axis font, with a gap), at most 12.
fn ticks(labels: &[String]) -> usize {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let fit = PLOT_WIDTH / (7 * longest + 16).max(1);
    labels.len().min(fit).clamp(2, 12)
}

/// The plot's width inside a chart: the picture less its margins and the value axis.
const PLOT_WIDTH: usize = W as usize - 2 * 12 - 64;

/// The chart of [`lines`] and [`bars`]: categories (buckets) along x, values along y.
type Categories<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Axes over `labels` (one category each) and values up to the series' top, labelled.
fn category_axes<'a>(
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    x_desc: &str,
    labels: &[String],
    series: &[Series],
    unit: Unit,
    stacked: bool,
) -> Result<Categories<'a>> {
    root.fill(&WHITE).map_err(err)?;
    let n = labels.len().max(1) as f64;
    let y_max = match unit {
        Unit::Percent => 1.0,
        _ => top(series, stacked, 1.0),
    };
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..(n - 0.5), 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc(unit))
        .x_labels(ticks(labels))
        .x_label_formatter(&|x| label_at(labels, *x))
        .y_label_formatter(&|y| unit.tick(*y))
        .light_line_style(RGBColor(246, 246, 246))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Lines over buckets, one per series; a missing value breaks its line.
pub fn lines(x_desc: &str, labels: &[String], series: &[Series], unit: Unit) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let mut chart = category_axes(&root, x_desc, labels, series, unit, false)?;
        for (k, s) in series.iter().enumerate() {
            let c = color(k);
            let mut segment: Vec<(f64, f64)> = Vec::new();
            let mut segments = Vec::new();
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => segment.push((i as f64, *v)),
                    None => segments.push(std::mem::take(&mut segment)),
                }
            }
            segments.push(segment);
            for seg in segments.into_iter().filter(|s| !s.is_empty()) {
                chart
                    .draw_series(LineSeries::new(seg.clone(), c.stroke_width(2)))
                    .map_err(err)?;
                if seg.len() <= 60 {
                    chart
                        .draw_series(seg.iter().map(|&p| Circle::new(p, 2, c.filled())))
                        .map_err(err)?;
                }
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Bars per category: side by side, or stacked.
pub fn bars(
    x_desc: &str,
    labels: &[String],
    series: &[Series],
    unit: Unit,
    stacked: bool,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let mut chart = category_axes(&root, x_desc, labels, series, unit, stacked)?;
        let k = series.len().max(1) as f64;
        let width = 0.8;
        let mut base = vec![0.0; labels.len()];
        for (j, s) in series.iter().enumerate() {
            let c = color(j);
            let mut rects = Vec::new();
            for (i, v) in s.values.iter().enumerate() {
                let Some(v) = v else { continue };
                let (x0, x1, y0) = match stacked {
                    true => (i as f64 - width / 2.0, i as f64 + width / 2.0, base[i]),
                    false => {
                        let w = width / k;
                        let x0 = i as f64 - width / 2.0 + j as f64 * w;
                        (x0, x0 + w, 0.0)
                    }
                };
                rects.push(Rectangle::new([(x0, y0), (x1, y0 + v)], c.filled()));
                if stacked {
                    base[i] += v;
                }
            }
            chart.draw_series(rects).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A heat map of the day: `values[row][slot]` for `slots` equal parts of 24 hours, darker
/// for more; the x axis is the local time of day.
pub fn heatmap(rows: &[String], values: &[Vec<f64>], x_desc: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let nr = rows.len().max(1);
        let slots = values.first().map_or(1, |r| r.len().max(1));
        let hours_per_slot = 24.0 / slots as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            // Rows are centred on whole numbers, so each label sits beside its row.
            .build_cartesian_2d(0.0..24.0, -0.5..(nr as f64 - 0.5))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(x_desc)
            .x_labels(13)
            .y_labels(nr)
            .x_label_formatter(&|x| format!("{:02.0}:00", x))
            .y_label_formatter(&|y| {
                // Rows from the top: the first row is drawn highest.
                let i = y.round();
                match (
                    i >= 0.0 && (y - i).abs() < 1e-6,
                    rows.len().checked_sub(i as usize + 1),
                ) {
                    (true, Some(r)) => rows[r].clone(),
                    _ => String::new(),
                }
            })
            .draw()
            .map_err(err)?;
        let max = values
            .iter()
            .flatten()
            .copied()
            .fold(0.0, f64::max)
            .max(1.0);
        let mut cells = Vec::new();
        for (r, row) in values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let t = v / max;
                // White to the palette's blue.
                let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
                let fill = RGBColor(mix(255, 0), mix(255, 90), mix(255, 160));
                let y = (nr - 1 - r) as f64;
                let x = c as f64 * hours_per_slot;
                cells.push(Rectangle::new(
                    [(x, y - 0.5), (x + hours_per_slot, y + 0.5)],
                    fill.filled(),
                ));
            }
        }
        chart.draw_series(cells).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn y_desc(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "count",
        Unit::Percent => "share (%)",
        Unit::Seconds => "seconds",
        Unit::Hours => "hours",
    }
}
