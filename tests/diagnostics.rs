//! The corpus of bad inputs in `tests/diagnostics/`: each file names the diagnostics it must give in
//! `# expect: CODE LINE:COL` lines. Every one must appear, nothing else may, both engines must agree,
//! and no input may panic or trap.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits, Sandbox};

#[test]
fn every_bad_input_gives_exactly_its_expected_diagnostics() {
    let sandbox = Sandbox::new().unwrap();
    let mut files: Vec<_> =
        fs::read_dir(root().join("tests/diagnostics")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 50, "the corpus has {} inputs", files.len());
    let mut failures = Vec::new();
    let mut codes_seen = std::collections::BTreeSet::new();
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        let mut expected: Vec<String> =
            text.lines().filter_map(|l| l.strip_prefix("# expect: ")).map(str::to_string).collect();
        assert!(!expected.is_empty(), "{} has no `# expect:` line", path.display());
        let sources = vec![(format!("tests/diagnostics/{}", path.file_name().unwrap().to_string_lossy()), text)];
        let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
        let boxed = sandbox.compile(&sources, Limits::default()).unwrap();
        assert_eq!(native, boxed, "engines differ on {}", path.display());
        assert!(native.files.is_empty() || !native.has_errors());
        let mut got: Vec<String> =
            native.diagnostics.iter().map(|d| format!("{} {}:{}", d.code.as_str(), d.line, d.col)).collect();
        for d in &native.diagnostics {
            let first = d.message.chars().next().unwrap_or(' ');
            assert!(
                !first.is_uppercase() && !d.message.ends_with('.'),
                "style of {:?} in {}",
                d.message,
                path.display()
            );
            if let Some(h) = &d.hint {
                assert!(!h.ends_with('.'), "style of hint {h:?}");
            }
        }
        codes_seen.extend(native.diagnostics.iter().map(|d| d.code.as_str().to_string()));
        expected.sort();
        got.sort();
        if expected != got {
            failures.push(format!("{}: expected {expected:?}, got {got:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for code in xmpp_compiler::Code::ALL {
        assert!(codes_seen.contains(code.as_str()), "no input in the corpus gives {}", code.as_str());
    }
}

#[test]
fn explain_knows_every_code_and_refuses_unknown_ones() {
    for code in xmpp_compiler::Code::ALL {
        let o = run(bin().args(["explain", code.as_str()]));
        assert!(o.status.success());
        assert!(text(&o.stdout).starts_with(&format!("{}: ", code.as_str())), "{}", text(&o.stdout));
        assert!(text(&o.stdout).len() > 40, "{code:?} explains too little");
    }
    let o = run(bin().args(["explain", "E999"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown code `E999`"));
}

#[test]
fn check_speaks_json_for_ci() {
    let path = root().join("tests/diagnostics/unknown_feature.xmpp");
    let o = run(bin().arg("check").arg(&path).args(["--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["code"], "E012");
    assert_eq!(v[0]["severity"], "error");
    assert_eq!((v[0]["line"].as_u64(), v[0]["col"].as_u64()), (Some(2), Some(21)));
    assert_eq!(v[0]["hint"], "try `stream-management`");
    assert!(v[0]["message"].as_str().unwrap().contains("unknown feature `smacks`"));
}

/// Error recovery reports each broken statement, in order, and stops at its bound; `fmt` refuses the
/// same file with the same report; both engines agree. Every line here is broken in its own way.
#[test]
fn syntax_errors_are_each_reported_up_to_their_bound() {
    let broken = ["domian \"a.example.com\" { }", "log loud", "listen client port", "targets ejabberd"];
    let source: String = (0..30).map(|i| format!("{}\n", broken[i % broken.len()])).collect();
    let sources = vec![("many.xmpp".to_string(), source.clone())];
    let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
    let boxed = Sandbox::new().unwrap().compile(&sources, Limits::default()).unwrap();
    assert_eq!(native, boxed);
    let lines: Vec<u32> = native.diagnostics.iter().map(|d| d.line).collect();
    let want: Vec<u32> = (1..=xmpp_compiler::MAX_SYNTAX_ERRORS as u32).collect();
    assert_eq!(lines, want, "{:?}", native.diagnostics);
    assert!(native.diagnostics.iter().all(|d| d.code.as_str() == "E001"));

    let dir = TempDir::new("hx-recover").unwrap();
    let file = dir.0.join("many.xmpp");
    std::fs::write(&file, &source).unwrap();
    let o = run(bin().arg("fmt").arg(&file));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr).matches("error[E001]").count(), xmpp_compiler::MAX_SYNTAX_ERRORS);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), source, "fmt wrote a file it could not parse");
}
