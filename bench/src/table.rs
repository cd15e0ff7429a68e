//! Markdown tables of results, with each figure's ratio to green's and to
//! the raw `generator` crate's.

use std::fmt::{self, Write as _};

use crate::timing::Sample;

/// What a figure counts.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Nanoseconds per operation.
    Nanos,
    /// Bytes per task.
    Bytes,
}

impl Unit {
    /// `value` in this unit, for people: `12.3 ns`, `3.10 µs`, `8,264 B`.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Nanos if value < 1_000.0 => format!("{value:.1} ns"),
            Unit::Nanos => format!("{:.2} µs", value / 1_000.0),
            Unit::Bytes => format!("{} B", thousands(value.round() as i64)),
        }
    }
}

/// Which baseline a row is, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A green row; the first one is the baseline of "vs green".
    Green,
    /// A raw `generator` row; the first one is the baseline of "vs raw
    /// generator".
    Generator,
    /// Anything else.
    Peer,
}

/// One implementation's figure.
#[derive(Debug)]
pub struct Row {
    /// Implementation and variant, e.g. ``tokio `yield_now` ``.
    pub name: String,
    /// Baseline role of the row.
    pub kind: Kind,
    /// The figure, or why there is none (a child process failed, say).
    pub value: Result<f64, String>,
    /// The median of the runs, when the figure is the best of several.
    pub median: Option<f64>,
    /// The figure measured on the target machine, for orientation.
    pub reference: Option<f64>,
    /// Anything else worth a column: what exactly was measured.
    pub note: String,
}

impl Row {
    /// A row with a measured figure.
    pub fn new(name: impl Into<String>, kind: Kind, value: f64) -> Row {
        Row {
            name: name.into(),
            kind,
            value: Ok(value),
            median: None,
            reference: None,
            note: String::new(),
        }
    }

    /// A row with the best and the median of several timed runs.
    pub fn timed(name: impl Into<String>, kind: Kind, sample: Sample) -> Row {
        Row {
            median: Some(sample.median),
            ..Row::new(name, kind, sample.best)
        }
    }

    /// A row whose figure could not be measured.
    pub fn failed(name: impl Into<String>, kind: Kind, why: String) -> Row {
        Row {
            value: Err(why),
            ..Row::new(name, kind, 0.0)
        }
    }

    /// Adds the target machine's figure.
    pub fn reference(mut self, value: f64) -> Row {
        self.reference = Some(value);
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// What green is aiming for in a table: `figure < limit` (or `<=`).
#[derive(Clone, Copy, Debug)]
pub struct Aim {
    /// The bound.
    pub limit: f64,
    /// Whether the bound itself is good enough (`<=` rather than `<`).
    pub inclusive: bool,
}

/// How much slower this machine is than the target machine, judged by one
/// peer whose figure on both is known.
#[derive(Clone, Debug)]
pub struct Scale {
    /// Figure here ÷ figure on the target machine.
    pub factor: f64,
    /// The row it comes from.
    pub basis: String,
}

impl Scale {
    /// The scale given by `row`, if it has both a figure and a target figure.
    pub fn from_row(row: &Row) -> Option<Scale> {
        let value = *row.value.as_ref().ok()?;
        Some(Scale {
            factor: value / row.reference?,
            basis: row.name.clone(),
        })
    }
}

/// One measurement, all implementations side by side.
#[derive(Debug)]
pub struct Table {
    /// Heading.
    pub title: String,
    /// Header of the figure column, e.g. "ns per switch".
    pub figure: &'static str,
    /// Unit of every figure.
    pub unit: Unit,
    /// The rows, in print order.
    pub rows: Vec<Row>,
    /// Green's aim, checked against the first green row.
    pub aim: Option<Aim>,
    /// This machine's speed relative to the target machine, to translate
    /// the aim (timings only).
    pub scale: Option<Scale>,
    /// Lines printed under the table (how it was measured).
    pub footnotes: Vec<String>,
}

impl Table {
    fn baseline(&self, kind: Kind) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.kind == kind)
            .and_then(|r| r.value.as_ref().ok().copied())
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let green = self.baseline(Kind::Green);
        let generator = self.baseline(Kind::Generator);
        let ratio = |value: f64, base: Option<f64>| match base {
            Some(base) if base > 0.0 && value / base < 0.095 => format!("{:.3}×", value / base),
            Some(base) if base > 0.0 => format!("{:.2}×", value / base),
            _ => "n/a".to_string(),
        };
        let with_median = self.rows.iter().any(|r| r.median.is_some());
        let mut header = vec!["implementation".to_string(), self.figure.to_string()];
        if with_median {
            header.push("median".into());
        }
        header
            .extend(["vs green", "vs raw generator", "target machine", "notes"].map(String::from));
        let mut cells: Vec<Vec<String>> = vec![header];
        for row in &self.rows {
            let (figure, vs_green, vs_gen) = match &row.value {
                Ok(v) => (self.unit.format(*v), ratio(*v, green), ratio(*v, generator)),
                Err(why) => (format!("failed: {why}"), "n/a".into(), "n/a".into()),
            };
            let optional = |v: Option<f64>| v.map_or_else(String::new, |v| self.unit.format(v));
            let mut line = vec![row.name.clone(), figure];
            if with_median {
                line.push(optional(row.median));
            }
            line.extend([vs_green, vs_gen, optional(row.reference), row.note.clone()]);
            cells.push(line);
        }
        let columns = cells[0].len();
        let mut widths = vec![0usize; columns];
        for line in &cells {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        // Text columns (the first and the last) left, figures right.
        let is_text = |col: usize| col == 0 || col == columns - 1;
        writeln!(f, "### {}\n", self.title)?;
        for (i, line) in cells.iter().enumerate() {
            let mut out = String::from("|");
            for (col, (cell, &w)) in line.iter().zip(&widths).enumerate() {
                if is_text(col) {
                    let _ = write!(out, " {cell:<w$} |");
                } else {
                    let _ = write!(out, " {cell:>w$} |");
                }
            }
            writeln!(f, "{out}")?;
            if i == 0 {
                let mut rule = String::from("|");
                for (col, &w) in widths.iter().enumerate() {
                    let dashes = "-".repeat(w.max(3));
                    if is_text(col) {
                        let _ = write!(rule, " {dashes} |");
                    } else {
                        let _ = write!(rule, " {}: |", &dashes[1..]);
                    }
                }
                writeln!(f, "{rule}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "Ratios are figure ÷ baseline: above 1.00× costs more than the baseline."
        )?;
        if let (Some(aim), Some(green)) = (self.aim, green) {
            let met = |limit: f64| match (aim.inclusive, green <= limit, green < limit) {
                (true, ok, _) | (false, _, ok) if ok => "met",
                _ => "**not met**",
            };
            let op = if aim.inclusive { "≤" } else { "<" };
            writeln!(
                f,
                "Green's aim (target machine): {op} {}: {} here ({}).",
                self.unit.format(aim.limit),
                met(aim.limit),
                self.unit.format(green),
            )?;
            if let Some(scale) = &self.scale {
                let limit = aim.limit * scale.factor;
                writeln!(
                    f,
                    "Scaled to this machine ({} takes {:.2}× its target-machine time here), the \
                     aim is about {op} {}: {}.",
                    scale.basis,
                    scale.factor,
                    self.unit.format(limit),
                    met(limit),
                )?;
            }
        }
        for note in &self.footnotes {
            writeln!(f, "{note}")?;
        }
        Ok(())
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_figures() {
        assert_eq!(thousands(8264), "8,264");
        assert_eq!(thousands(-1_000_000), "-1,000,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(Unit::Nanos.format(7.54), "7.5 ns");
        assert_eq!(Unit::Nanos.format(3100.0), "3.10 µs");
        assert_eq!(Unit::Bytes.format(464.4), "464 B");
    }

    #[test]
    fn ratios_are_to_the_first_green_and_generator_rows() {
        let table = Table {
            title: "t".into(),
            figure: "ns",
            unit: Unit::Nanos,
            rows: vec![
                Row::new("green", Kind::Green, 10.0),
                Row::new("gen", Kind::Generator, 5.0),
                Row::new("peer", Kind::Peer, 20.0),
            ],
            aim: Some(Aim {
                limit: 15.0,
                inclusive: false,
            }),
            footnotes: vec![],
            scale: None,
        };
        let text = table.to_string();
        let peer = text.lines().find(|l| l.starts_with("| peer")).unwrap();
        assert!(peer.contains(" 2.00× | "), "{text}");
        assert!(peer.contains(" 4.00× | "), "{text}");
        assert!(text.contains(": met here (10.0 ns)"), "{text}");
    }
}
