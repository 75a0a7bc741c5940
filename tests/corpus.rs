//! Replays the fuzz corpus (tests/fuzz/corpus: the seeds, and whatever `cargo fuzz` found worth
//! keeping) through both engines: no panic, no trap, the same result, and idempotent formatting.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits, Sandbox};

#[test]
fn the_fuzz_corpus_replays_cleanly_in_both_engines() {
    let sandbox = Sandbox::new().unwrap();
    let mut replayed = 0;
    for entry in fs::read_dir(root().join("tests/fuzz/corpus")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let sources = vec![("fuzz.xmpp".to_string(), text.clone())];
        let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
        let boxed = sandbox.compile(&sources, Limits::default()).unwrap();
        assert_eq!(native, boxed, "{}", path.display());
        if let Ok(formatted) = engine::format(Kind::Native, &text, Limits::default()).unwrap() {
            let again = engine::format(Kind::Native, &formatted, Limits::default()).unwrap().unwrap();
            assert_eq!(formatted, again, "{}: formatting is not idempotent", path.display());
        }
        replayed += 1;
    }
    assert!(replayed >= 70, "only {replayed} corpus files");
}
