//! `--plot DIR`: SVG charts of the server workloads, one line per
//! contender against the connection count (log scale): throughput, and p99
//! latency (log scale). Files: `DIR/<workload>-throughput.svg` and
//! `DIR/<workload>-p99.svg`.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::contender::Contender;
use crate::net::Sweep;

/// One contender's points: (connections, value).
type Series = (String, Vec<(f64, f64)>);

/// Writes both charts of `sweep` into `dir` (created if missing); returns
/// their paths.
pub fn write(dir: &Path, sweep: &Sweep, unit: &str) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let workload = sweep.proto.key();
    let series = |value: fn(&crate::net::Measured) -> f64| -> Vec<Series> {
        Contender::SERVERS
            .iter()
            .filter_map(|&who| {
                let points: Vec<(f64, f64)> = sweep
                    .points
                    .iter()
                    .filter(|p| p.who == who)
                    .filter_map(|p| Some((p.conns as f64, value(p.median().ok()?))))
                    .collect();
                (!points.is_empty()).then(|| (who.label(), points))
            })
            .collect()
    };
    let throughput = dir.join(format!("{workload}-throughput.svg"));
    chart(
        &throughput,
        &format!("{workload}: {unit}/s against connections"),
        &format!("{unit}/s"),
        false,
        &series(|m| m.load.rate()),
    )?;
    let p99 = dir.join(format!("{workload}-p99.svg"));
    chart(
        &p99,
        &format!("{workload}: p99 latency against connections"),
        "p99 latency (ms)",
        true,
        &series(|m| m.load.p99_ns as f64 / 1e6),
    )?;
    Ok(vec![throughput, p99])
}

/// One chart: a line per series, x on a log scale, y linear from 0 or on a
/// log scale.
fn chart(
    path: &Path,
    title: &str,
    y_desc: &str,
    log_y: bool,
    series: &[Series],
) -> Result<(), String> {
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().copied());
    let (x_lo, x_hi) = all().fold((f64::MAX, 0f64), |(lo, hi), (x, _)| (lo.min(x), hi.max(x)));
    let (y_lo, y_hi) = all().fold((f64::MAX, 0f64), |(lo, hi), (_, y)| (lo.min(y), hi.max(y)));
    if series.is_empty() || y_hi <= 0.0 {
        return Err(format!("nothing to plot in {}", path.display()));
    }
    let x_range = ((x_lo * 0.8)..(x_hi * 1.25)).log_scale();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| format!("{}: {e}", path.display());
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80);
    if log_y {
        let y_range = ((y_lo * 0.8).max(1e-3)..(y_hi * 1.25)).log_scale();
        let mut chart = builder.build_cartesian_2d(x_range, y_range).map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("connections")
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| match *y {
                y if y >= 10.0 => format!("{y:.0}"),
                y if y >= 1.0 => format!("{y:.1}"),
                y => format!("{y:.2}"),
            })
            .draw()
            .map_err(err)?;
        lines(&mut chart, series, SeriesLabelPosition::UpperLeft).map_err(err)?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(x_range, 0.0..(y_hi * 1.15))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("connections")
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{:.0}k", y / 1e3))
            .draw()
            .map_err(err)?;
        lines(&mut chart, series, SeriesLabelPosition::UpperRight).map_err(err)?;
    }
    root.present().map_err(err)
}

/// Draws every series (a line and its points) and the legend.
fn lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    legend: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, (label, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(legend)
        .draw()
}
