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
            .filter(|d| d.error)
            .map(|d| format!("{} {}:{} {}", d.code, d.line, d.col, d.message))
            .collect();
        assert!(errors.is_empty(), "{block}\n{errors:?}");
        assert_eq!(out.files.len(), 2, "{block}");
    }
}
