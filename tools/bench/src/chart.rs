//! The chart of BENCHMARKS.md, drawn from the results as SVG: cold start per function beside the
//! hello-world reference (and its 1.5× target), and HTTP throughput beside raw DynamoDB Local.

use std::fmt::Write;

use crate::cold_start::ColdStart;
use crate::http_load::Load;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 330.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// Horizontal bars: (label, value, colour); `marker` draws a dashed line at that value.
fn bars(
    svg: &mut String,
    top: f64,
    title: &str,
    unit: &str,
    rows: &[(String, f64, &str)],
    marker: Option<(f64, &str)>,
) {
    let max = rows
        .iter()
        .map(|r| r.1)
        .chain(marker.map(|m| m.0))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let (left, right) = (170.0, WIDTH - 90.0);
    let scale = (right - left) / max;
    let height = (PANEL - 40.0) / rows.len().max(1) as f64;
    let _ = writeln!(
        svg,
        r#"<text x="10" y="{}" font-size="15" font-weight="bold">{}</text>"#,
        top + 18.0,
        escape(title)
    );
    for (i, (label, value, colour)) in rows.iter().enumerate() {
        let y = top + 30.0 + i as f64 * height;
        let w = (value * scale).max(1.0);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + height * 0.6,
            escape(label)
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{left}" y="{y}" width="{w:.1}" height="{:.1}" fill="{colour}"/>"#,
            height * 0.75
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11">{value:.1} {unit}</text>"#,
            left + w + 4.0,
            y + height * 0.6
        );
    }
    if let Some((value, label)) = marker {
        let x = left + value * scale;
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#c0392b" stroke-dasharray="4 3"/>"##,
            top + 26.0,
            top + PANEL - 8.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" font-size="11" fill="#c0392b">{}</text>"##,
            x + 3.0,
            top + 36.0,
            escape(label)
        );
    }
}

pub fn render(cold: &[ColdStart], load: &[Load], concurrency: usize) -> String {
    let mut svg = String::new();
    let height = 2.0 * PANEL + 20.0;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    // The reference line: a hello-world that makes the same one DynamoDB read a function's first
    // answer needs (the references themselves are grey).
    let hello = cold
        .iter()
        .find(|c| c.function == "hello-dynamodb")
        .map(|c| c.median_ms);
    let rows: Vec<(String, f64, &str)> = cold
        .iter()
        .map(|c| {
            (
                c.function.clone(),
                c.median_ms,
                if c.function.starts_with("hello") {
                    "#95a5a6"
                } else {
                    "#2980b9"
                },
            )
        })
        .collect();
    bars(
        &mut svg,
        0.0,
        "Cold start to first response (median, ms)",
        "ms",
        &rows,
        hello.map(|h| (h * 1.5, "1.5 × hello-world + one GetItem")),
    );
    let rows: Vec<(String, f64, &str)> = load
        .iter()
        .filter(|l| l.concurrency == concurrency)
        .map(|l| {
            (
                format!("{} ({})", l.route, l.path),
                l.rps,
                if l.path == "http" {
                    "#27ae60"
                } else {
                    "#95a5a6"
                },
            )
        })
        .collect();
    bars(
        &mut svg,
        PANEL,
        &format!(
            "Requests per second at concurrency {concurrency}: HTTP vs the same DynamoDB calls"
        ),
        "req/s",
        &rows,
        None,
    );
    svg.push_str("</svg>\n");
    svg
}
