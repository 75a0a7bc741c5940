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

/// Replays the CLI fuzz corpus (tests/fuzz/cli-corpus, from `cargo fuzz run cli`: a root file's name
/// and text, files it includes, and a manifest stream, NUL-separated) through the host's include loop
/// in both engines: no panic or trap, the same result, outputs that read back, and a post-renderer
/// that refuses or injects.
#[test]
fn the_cli_fuzz_corpus_replays_cleanly_in_both_engines() {
    use serde::Deserialize;
    use xmpp_compiler::manifests;
    let sandbox = Sandbox::new().unwrap();
    let mut replayed = 0;
    for entry in fs::read_dir(root().join("tests/fuzz/cli-corpus")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(text) = String::from_utf8(fs::read(&path).unwrap()) else { continue };
        let mut parts = text.split('\0');
        let (Some(root_name), Some(root_text)) = (parts.next(), parts.next()) else { continue };
        let rest: Vec<&str> = parts.collect();
        let files: Vec<(&str, &str)> = rest.chunks_exact(2).map(|c| (c[0], c[1])).take(8).collect();
        let compile_all = |kind: Option<&Sandbox>| {
            let mut sources = vec![(root_name.to_string(), root_text.to_string())];
            loop {
                let out = match kind {
                    Some(s) => s.compile(&sources, Limits::default()).unwrap(),
                    None => engine::compile(Kind::Native, &sources, Limits::default()).unwrap(),
                };
                let found: Vec<_> = out.needs.iter().map(|n| files.iter().find(|(p, _)| *p == n.path)).collect();
                if out.needs.is_empty() || found.iter().any(Option::is_none) || sources.len() > 16 {
                    return out;
                }
                sources.extend(found.into_iter().flatten().map(|(p, t)| (p.to_string(), t.to_string())));
            }
        };
        let native = compile_all(None);
        assert_eq!(native, compile_all(Some(&sandbox)), "{}", path.display());
        if !native.has_errors() && native.needs.is_empty() {
            for f in &native.files {
                if f.name.ends_with(".yml") {
                    assert!(serde_norway::from_str::<serde_norway::Value>(&f.text).unwrap().is_mapping());
                } else {
                    assert_eq!(xmpp_compiler::lua_syntax::check(&f.text), Ok(()), "{}", path.display());
                }
            }
            if rest.len() % 2 == 1
                && let Ok(out) = manifests::postrender(rest[rest.len() - 1], &native, "xmpp-config")
            {
                for d in serde_norway::Deserializer::from_str(&out) {
                    assert!(serde_norway::Value::deserialize(d).unwrap().is_mapping(), "{}", path.display());
                }
            }
        }
        replayed += 1;
    }
    assert!(replayed >= 6, "only {replayed} corpus files");
}
