//! The module table and the known traps appear twice, in green-std's crate
//! docs and in README.md: this keeps the copies equal.

/// The lines of `text` from the heading that contains `from` up to the
/// next heading that contains `to`, markdown only (doc comment markers off).
fn section(text: &str, from: &str, to: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .map(|l| l.replace("[`green::unblock`]", "`green::unblock`"))
        .map(|l| l.replace("[`green::local!`]", "`green::local!`"))
        .collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with('#') && l.contains(from))
        .unwrap_or_else(|| panic!("no heading with {from:?}"));
    let len = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with('#') && l.contains(to))
        .unwrap_or_else(|| panic!("no heading with {to:?} after {from:?}"));
    lines[start + 1..start + 1 + len]
        .iter()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn readme_carries_the_crate_docs_table_and_traps() {
    let lib = include_str!("../src/lib.rs");
    let readme = include_str!("../../README.md");
    assert_eq!(
        section(readme, "what is green, module by module", "Known traps"),
        section(lib, "What is green, module by module", "Known traps"),
        "README.md's green-std table differs from green-std/src/lib.rs"
    );
    let traps = |text: &str| {
        let mut s = section(text, "Known traps", "");
        let end = s
            .iter()
            .position(|l| l.starts_with("pub ") || l.starts_with('#'))
            .unwrap_or(s.len());
        s.truncate(end);
        assert!(s.len() > 10, "the traps section is missing or cut short");
        s
    };
    assert_eq!(
        traps(readme),
        traps(lib),
        "README.md's green-std traps differ from lib.rs"
    );
}
