//! The editor grammar (editors/vscode/syntaxes/xmpp.tmLanguage.json, TextMate's format, which VS Code,
//! many other editors and code hosts read) and the VS Code extension around it.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use common::*;
use serde_json::Value;

fn grammar() -> Value {
    serde_json::from_str(&fs::read_to_string(root().join("editors/vscode/syntaxes/xmpp.tmLanguage.json")).unwrap())
        .unwrap()
}

/// The words of the language's keywords, as grammar/xmpp.pest spells them (`kw_x = @{ "word" …`).
fn language_keywords() -> BTreeSet<String> {
    fs::read_to_string(root().join("grammar/xmpp.pest"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("kw_"))
        .filter_map(|l| Some(l.split('"').nth(1)?.to_string()))
        .collect()
}

/// The editor grammar highlights exactly the language's keywords: each in one group (statement, item,
/// value, server, secret), none the language lacks.
#[test]
fn the_editor_grammar_knows_every_keyword() {
    let g = grammar();
    let mut seen = BTreeSet::new();
    for group in ["statement", "item", "value", "server", "secret"] {
        let pattern = g["repository"][group]["match"].as_str().unwrap();
        // The one group of alternatives: `(?:a|b)` or `(a|b)`.
        let words = pattern.split(['(', ')']).find(|p| p.contains('|')).unwrap().trim_start_matches("?:");
        for w in words.split('|') {
            assert!(seen.insert(w.to_string()), "{w} is in two groups");
        }
    }
    assert_eq!(seen, language_keywords());
}

/// Every example and every file of the bad-input corpus, tokenized by VS Code's own highlighter
/// (vscode-textmate with Oniguruma): comments are comments to the end of their line, a keyword of the
/// language outside comments, strings and raw blocks is highlighted as one, strings are strings, and no
/// raw block (`ejabberd { … }`, `prosody { … }`) runs past its end into the statements after it.
#[test]
#[ignore = "needs tests/setup: vscode-textmate, vscode-oniguruma (npm)"]
fn every_example_and_bad_input_is_highlighted_as_the_language_reads_it() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["examples", "examples/common", "tests/diagnostics"] {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xmpp") {
                files.push(p.display().to_string());
            }
        }
    }
    files.sort();
    assert!(files.len() > 90, "{}", files.len());
    // A valid file with raw blocks (no example has one), which `check` holds valid.
    let raw = root().join("tests/editor/raw.xmpp");
    assert!(run(bin().arg("check").arg(&raw)).status.success());
    files.push(raw.display().to_string());
    let o = run(Command::new("timeout")
        .arg("120")
        .arg("node")
        .arg(root().join("tests/editor/tokenize.js"))
        .args(&files)
        .env("NODE_PATH", tool("../npm/node_modules")));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let tokens: Value = serde_json::from_slice(&o.stdout).unwrap();
    let keywords = language_keywords();
    let statements = ["targets", "include", "log", "domain", "listen", "auth", "storage", "limits", "turn", "metrics"];
    let (mut checked, mut statement_lines, mut raw_lines) = (0, 0, 0);
    for file in &files {
        let inside_raw = raw_lines_of(&fs::read_to_string(file).unwrap());
        for (n, line) in tokens[file].as_array().unwrap().iter().enumerate() {
            let line = line.as_array().unwrap();
            let whole: String = line.iter().map(|t| t[0].as_str().unwrap()).collect();
            let place = format!("{file}:{}: {whole:?}", n + 1);
            let scopes = |t: &Value| -> Vec<String> {
                t[1].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
            };
            let inside = |t: &Value, what: &str| scopes(t).iter().any(|s| s.starts_with(what));
            // A raw block's lines are YAML or Lua, highlighted by those languages' grammars; in a valid
            // file no raw block runs on into the statements after it.
            let first = whole.split([' ', '"']).next().unwrap_or("");
            let embedded = line.iter().any(|t| inside(t, "meta.embedded"));
            let valid = file.contains("/examples/") || file.ends_with("raw.xmpp");
            if valid && !whole.trim().is_empty() {
                assert_eq!(
                    embedded,
                    inside_raw.contains(&n),
                    "{place}: a raw block's lines as the language reads them"
                );
                raw_lines += usize::from(embedded);
            }
            if embedded {
                continue;
            }
            for t in line {
                let word = t[0].as_str().unwrap().trim();
                if inside(t, "comment") || inside(t, "string") {
                    continue;
                }
                if word.starts_with('#') {
                    panic!("{place}: `{word}` is not a comment");
                }
                if keywords.contains(word) {
                    let highlighted = scopes(t).iter().any(|s| {
                        ["keyword.", "constant.language.", "entity.name.type.", "support.function."]
                            .iter()
                            .any(|k| s.starts_with(k))
                    });
                    assert!(highlighted, "{place}: keyword `{word}` has scopes {:?}", scopes(t));
                    checked += 1;
                }
            }
            // A comment line is a comment from its `#` to its end.
            if whole.trim_start().starts_with('#') {
                let from = line.iter().position(|t| t[0].as_str().unwrap().contains('#')).unwrap();
                assert!(line[from..].iter().all(|t| inside(t, "comment")), "{place}");
            }
            // A statement at the start of a line is highlighted as one.
            if statements.contains(&first) {
                assert!(inside(&line[0], "keyword.control.statement"), "{place}");
                statement_lines += 1;
            }
        }
    }
    assert!(checked > 500 && statement_lines > 100, "only {checked} keywords and {statement_lines} statements checked");
    assert!(raw_lines >= 4, "only {raw_lines} lines of raw blocks checked");
}

/// The lines (0-based) strictly inside the raw blocks of a valid file, as the language counts braces:
/// from a line `ejabberd {` or `prosody {` at the top level to the `}` that closes it.
fn raw_lines_of(text: &str) -> BTreeSet<usize> {
    let (mut lines, mut depth, mut raw) = (BTreeSet::new(), 0i32, false);
    for (n, line) in text.lines().enumerate() {
        let starts_raw = depth == 0 && ["ejabberd {", "prosody {"].iter().any(|p| line.starts_with(p));
        let code = if raw || starts_raw { line } else { line.split('#').next().unwrap_or("") };
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        // Its content: after the line that opens it, before the line that closes it.
        if raw && depth > 0 {
            lines.insert(n);
        }
        raw = (raw || starts_raw) && depth > 0;
    }
    lines
}

/// The VS Code extension packages as a .vsix with `vsce` (release/vsix): the grammar as it is here,
/// the client that starts `helm-xmpp lsp` with its dependency, the crate's version.
#[test]
#[ignore = "needs tests/setup: @vscode/vsce (npm), and npm's registry for vscode-languageclient"]
fn the_vs_code_extension_packages() {
    let out = TempDir::new("hx-vsix").unwrap();
    let o = run(Command::new("bash").arg(root().join("release/vsix")).arg(&out.0));
    assert!(o.status.success(), "release/vsix: {}", text(&o.stderr));
    let version = env!("CARGO_PKG_VERSION");
    let vsix = out.0.join(format!("helm-xmpp-{version}.vsix"));
    let read = |name: &str| {
        let o = run(Command::new("unzip").arg("-p").arg(&vsix).arg(name));
        assert!(o.status.success(), "{name} not in the .vsix: {}", text(&o.stderr));
        o.stdout
    };
    let manifest: Value = serde_json::from_slice(&read("extension/package.json")).unwrap();
    assert_eq!(manifest["version"], version);
    assert_eq!(manifest["contributes"]["languages"][0]["extensions"][0], ".xmpp");
    let grammar_file = root().join("editors/vscode/syntaxes/xmpp.tmLanguage.json");
    assert_eq!(read("extension/syntaxes/xmpp.tmLanguage.json"), fs::read(grammar_file).unwrap());
    assert!(text(&read("extension/extension.js")).contains("args: ['lsp']"));
    read("extension/node_modules/vscode-languageclient/package.json");
    read("extension/LICENSE.txt");
}
