//! Properties over generated DSL files (a seeded generator; `PROPERTY_SEED` and `PROPERTY_CASES`
//! change the run): whatever the compiler accepts yields YAML that parses and Lua that `luac -p`
//! accepts; formatting is idempotent and changes nothing but layout; native and sandbox agree.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::process::Command;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits, Sandbox};

/// xorshift64*: small, seeded, good enough to pick fragments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TARGETS: &[&str] = &[
    "",
    "targets ejabberd >= 23.01\n",
    "targets ejabberd >= 24.12, prosody >= 13.0\n",
    "targets prosody >= 0.12\n",
    "targets ejabberd >= 23.01, prosody >= 0.12\n",
];
const FEATURES: &[&str] =
    &["carbons", "stream-management", "csi", "blocking", "offline", "private", "bookmarks", "vcard", "pep", "version"];

/// One DSL file built from valid fragments in random combinations; some combinations are rightly
/// refused (the compiler's cross-checks), which the test counts.
fn generate(rng: &mut Rng) -> String {
    let mut s = String::from(rng.pick(TARGETS));
    if rng.chance(50) {
        s.push_str(&format!("log {}\n", rng.pick(&["debug", "info", "warning", "error"])));
    }
    let http = rng.chance(60);
    for d in 0..1 + rng.below(4) {
        s.push_str(&format!("domain \"d{d}.example.com\" {{\n"));
        if rng.chance(60) {
            s.push_str(&format!("  admins {}\n", rng.pick(&["alice", "alice, bob", "ops@d0.example.com"])));
        }
        if rng.chance(40) {
            s.push_str(&format!("  registration {}\n", rng.pick(&["open", "closed", "open { interval 10min }"])));
        }
        if rng.chance(50) {
            s.push_str("  profile modern\n");
        } else if rng.chance(60) {
            let n = 1 + rng.below(4);
            let mut picked: Vec<&str> = (0..n).map(|_| rng.pick(FEATURES)).collect();
            picked.dedup(); // adjacent repeats only, as the generator has always done
            s.push_str(&format!("  features {}\n", picked.join(", ")));
        }
        if rng.chance(50) {
            let retention = rng.pick(&["", "; retention 30d", "; retention 52w", "; retention 1y"]);
            s.push_str(&format!("  archive {{ default {}{retention} }}\n", rng.pick(&["roster", "always", "never"])));
        }
        if rng.chance(50) {
            s.push_str(&format!(
                "  groupchat \"conference\" {{ history {}; create {} }}\n",
                rng.below(100),
                rng.pick(&["anyone", "local", "admins"])
            ));
        }
        if http && rng.chance(40) {
            s.push_str(&format!(
                "  upload \"upload\" {{ max-size {}MB; expire {}d }}\n",
                1 + rng.below(100),
                1 + rng.below(60)
            ));
        }
        if rng.chance(30) {
            s.push_str("  pubsub \"pubsub\"\n");
        }
        s.push_str("}\n");
    }
    s.push_str(&format!("listen client {} {{ tls {} }}\n", 5222 + rng.below(10), rng.pick(&["required", "optional"])));
    if rng.chance(50) {
        s.push_str("listen federation 5269 { tls required }\n");
    }
    if http {
        s.push_str("listen http 5280 {\n  bosh \"/http-bind\"\n  upload \"/upload\"\n");
        if rng.chance(50) {
            s.push_str("  websocket \"/xmpp-websocket\"\n");
        }
        if rng.chance(30) {
            s.push_str("  api \"/api\" allow 127.0.0.1/8\n");
        }
        s.push_str("}\n");
    }
    if rng.chance(40) {
        s.push_str("storage postgres {\n  host \"db\"\n  database \"xmpp\"\n  user \"xmpp\"\n  password env(\"DB_PASSWORD\")\n}\n");
    }
    if rng.chance(30) {
        s.push_str(&format!("limits {{ client {}KB/s }}\n", 1 + rng.below(500)));
    }
    // Comments, blank lines and odd indentation, which formatting must keep or normalise.
    let mut out = String::new();
    for line in s.lines() {
        if rng.chance(8) {
            out.push_str("# a comment line\n");
        }
        if rng.chance(5) {
            out.push('\n');
        }
        out.push_str(&" ".repeat(rng.below(3)));
        out.push_str(line.trim_start());
        if rng.chance(8) && !line.trim_end().ends_with('{') {
            out.push_str("  # trailing");
        }
        out.push('\n');
    }
    out
}

/// The files without their first line (the header names the sources' digest, which layout changes).
fn bodies(files: &[xmpp_compiler::OutFile]) -> Vec<(String, String)> {
    files.iter().map(|f| (f.name.clone(), f.text.split_once('\n').map_or("", |(_, rest)| rest).to_string())).collect()
}

#[test]
#[ignore = "needs tests/setup: luac5.4"]
fn accepted_files_give_valid_yaml_and_lua_format_idempotently_and_agree_in_the_sandbox() {
    let seed = std::env::var("PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_5a11_u64);
    let cases: usize = std::env::var("PROPERTY_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let mut rng = Rng(seed | 1);
    let sandbox = Sandbox::new().unwrap();
    let tmp = TempDir::new("hx-property").unwrap();
    let lua = tmp.0.join("prosody.cfg.lua");
    let mut accepted = 0;
    for case in 0..cases {
        let dsl = generate(&mut rng);
        let sources = vec![("gen.xmpp".to_string(), dsl.clone())];
        let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
        let boxed = sandbox.compile(&sources, Limits::default()).unwrap();
        assert_eq!(native, boxed, "case {case} (seed {seed}): engines differ on\n{dsl}");
        if native.has_errors() {
            continue;
        }
        accepted += 1;
        for f in &native.files {
            let body = &f.text;
            if f.name.ends_with(".yml") {
                let parsed: Result<serde_norway::Value, _> = serde_norway::from_str(body);
                assert!(parsed.as_ref().is_ok_and(|v| v["hosts"].is_sequence()), "case {case}: {parsed:?}\n{dsl}");
            } else {
                fs::write(&lua, body).unwrap();
                let o = run(Command::new("luac5.4").arg("-p").arg(&lua));
                assert!(o.status.success(), "case {case}: luac: {}\n{dsl}\n{body}", text(&o.stderr));
            }
        }
        let once = engine::format(Kind::Native, &dsl, Limits::default()).unwrap().unwrap();
        let twice = engine::format(Kind::Native, &once, Limits::default()).unwrap().unwrap();
        assert_eq!(once, twice, "case {case}: formatting is not idempotent\n{dsl}");
        let boxed_format = sandbox.format(&dsl, Limits::default()).unwrap().unwrap();
        assert_eq!(once, boxed_format, "case {case}: engines format differently");
        let reformatted = engine::compile(Kind::Native, &[("gen.xmpp".into(), once)], Limits::default()).unwrap();
        assert_eq!(bodies(&reformatted.files), bodies(&native.files), "case {case}: formatting changed the meaning");
    }
    // The generator must mostly produce files the compiler takes, or the properties test little.
    assert!(accepted * 2 > cases, "only {accepted} of {cases} generated files were accepted");
    eprintln!("{accepted} of {cases} generated files accepted and checked (seed {seed})");
}

/// Lua fragments that mutations insert: tokens luac cares about beyond the grammar too.
const LUA_PIECES: &[&str] = &[
    "end",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "=",
    "==",
    ",",
    ";",
    "local",
    "\"",
    "'",
    "[[",
    "]]",
    "--[[",
    "break",
    "goto x",
    "::x::",
    "...",
    "return",
    "<const>",
    "<close>",
    "\\q",
    "\\300",
    "0x",
    "1e",
    "..",
    ".",
    ":",
    "::",
    "function",
    "do",
    "then",
    "if x",
    "not",
    "#",
    "~",
    "//",
    "x",
    "x =",
    "f()",
    "\n",
    " ",
    "--",
    "\\z",
    "\\u{110000}",
    "3x",
    "until",
];

/// The compile-time Lua check and `luac -p` give the same verdict on mutated Lua: every emitted
/// prosody.cfg.lua, and fragments, with tokens deleted, repeated or inserted (`PROPERTY_SEED`).
#[test]
#[ignore = "needs tests/setup: luac5.4"]
fn the_lua_check_agrees_with_luac() {
    let seed = std::env::var("PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x1ac_5eed_u64);
    let mut rng = Rng(seed | 1);
    let mut bases: Vec<String> = ["local a <const> = 1; function f(...) return ... end", "for i = 1, 2 do break end"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for dir in fs::read_dir(root().join("tests/golden")).unwrap() {
        let lua = dir.unwrap().path().join("prosody.cfg.lua");
        if lua.exists() {
            bases.push(fs::read_to_string(lua).unwrap());
        }
    }
    let tmp = TempDir::new("hx-luac").unwrap();
    let (mut disagree, mut refused) = (Vec::new(), 0);
    for case in 0..600 {
        let mut text = bases[rng.below(bases.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, rng.pick(LUA_PIECES)),
                1 => {
                    let end = text[at..].char_indices().nth(1 + rng.below(4)).map_or(text.len(), |(i, _)| at + i);
                    text.replace_range(at..end, "");
                }
                _ => {
                    let end = text[at..].char_indices().nth(1 + rng.below(6)).map_or(text.len(), |(i, _)| at + i);
                    let piece = text[at..end].to_string();
                    text.insert_str(at, &piece);
                }
            }
        }
        let file = tmp.0.join(format!("case{case}.lua"));
        // A first line starting with `#` is skipped by luac (and `lua`) as a shebang, not by Prosody's
        // loader: a line break first makes luac read what Prosody reads.
        fs::write(&file, format!("\n{text}")).unwrap();
        let luac = run(Command::new("luac5.4").arg("-p").arg(&file)).status.success();
        let ours = xmpp_compiler::lua_syntax::check(&text);
        refused += usize::from(!luac);
        if luac != ours.is_ok() {
            disagree.push(format!("case {case}: luac {luac}, ours {ours:?}\n{text}"));
        }
    }
    eprintln!("{refused} of 600 mutated Lua files refused by luac; the check agreed on all (seed {seed})");
    assert!(disagree.is_empty(), "{} disagreements (seed {seed}):\n{}", disagree.len(), disagree.join("\n---\n"));
    assert!(refused > 100 && refused < 500, "the mutations made {refused} of 600 invalid: too few or too many to test");
}
