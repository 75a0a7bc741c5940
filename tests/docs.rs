//! Every fenced `xmpp` block in docs/language.md compiles without errors, so the reference stays true.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits};

#[test]
fn every_example_in_the_language_reference_compiles() {
    let doc = std::fs::read_to_string(root().join("docs/language.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```xmpp") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 5, "found {} blocks", blocks.len());
    for block in blocks {
        let out = engine::compile(Kind::Native, &[("docs.xmpp".into(), block.clone())], Limits::default()).unwrap();
        let errors: Vec<_> = out
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}:{} {}", d.code.as_str(), d.line, d.col, d.message))
            .collect();
        assert!(errors.is_empty(), "{block}\n{errors:?}");
        assert_eq!(out.files.len(), 2, "{block}");
    }
}

/// The capability table in docs/language.md is the compiler's own, row for row.
#[test]
fn the_capability_table_is_the_compilers() {
    use xmpp_compiler::facts::{CAPABILITIES, Otherwise, Since};
    let mut table = String::from("| what you write | server | releases that can | otherwise |\n|---|---|---|---|\n");
    for c in CAPABILITIES {
        let releases = match c.since {
            Since::Never => "none".to_string(),
            Since::Release(v) => format!("{v} and later"),
        };
        let code = match (c.otherwise, c.since) {
            (Otherwise::Render, _) => "rendered another way",
            (Otherwise::Warn, _) => "W001",
            (Otherwise::Refuse, Since::Release(_)) => "E015",
            (Otherwise::Refuse, Since::Never) => "E020",
        };
        let since = match c.since {
            Since::Release(v) => v.to_string(),
            Since::Never => String::new(),
        };
        let fill = |t: &str| t.replace("{since}", &since).replace("{target}", "an older one").replace("{arg}", "…");
        let when = if c.with_other { " (when both servers are targets)" } else { "" };
        table.push_str(&format!(
            "| {} | {} | {releases} | {code}{when}: {}{} |\n",
            c.construct.written(),
            c.server.name(),
            fill(c.message),
            c.hint.map_or(String::new(), |h| format!(" ({})", fill(h))),
        ));
    }
    let path = root().join("docs/language.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- capabilities: begin -->\n", "<!-- capabilities: end -->");
    let (head, rest) = doc.split_once(begin).expect("the capabilities markers");
    let (current, tail) = rest.split_once(end).expect("the capabilities end marker");
    if current != table {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{head}{begin}{table}{end}{tail}")).unwrap();
        }
        panic!(
            "docs/language.md's capability table differs from facts::CAPABILITIES; UPDATE_DOCS=1 rewrites it:\n{table}"
        );
    }
}
