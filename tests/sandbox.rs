//! The sandbox: a component that imports nothing, bounded in execution and memory, and giving
//! exactly what the native compiler gives.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits, Sandbox};

#[test]
fn the_component_imports_nothing() {
    let sandbox = Sandbox::new().unwrap();
    assert_eq!(sandbox.imports(), Vec::<String>::new());
}

/// The embedded component runs where it lies in the binary (on Linux; elsewhere from a copy), and a
/// precompiled artifact from anywhere else never does.
#[test]
fn the_embedded_component_runs_in_place() {
    assert_eq!(Sandbox::new().unwrap().runs_in_place(), cfg!(target_os = "linux"));
    let copy = Sandbox::embedded_artifact().to_vec();
    let loaded = Sandbox::from_artifact(&copy, &digest(&copy)).unwrap();
    assert!(!loaded.runs_in_place());
    assert!(loaded.compile(&[("a.xmpp".into(), String::new())], Limits::default()).is_ok());
}

/// Every example and a spread of bad inputs: both engines agree on files, ports and diagnostics.
#[test]
fn sandbox_and_native_give_identical_results() {
    let sandbox = Sandbox::new().unwrap();
    let mut examples = 0;
    for entry in fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xmpp") {
            // With includes: the host loop, run by each engine.
            let native = engine::compile_file(Kind::Native, &path, Limits::default()).unwrap();
            let boxed = engine::compile_file(Kind::Sandbox, &path, Limits::default()).unwrap();
            assert_eq!(native, boxed, "{}", path.display());
            assert!(!native.1.files.is_empty(), "{} compiles", path.display());
            examples += 1;
        }
    }
    assert!(examples >= 4);
    let mut inputs: Vec<(String, String)> = Vec::new();
    for bad in [
        "",
        "domain",
        "domain \"x\" { admins }",
        "listen client 99999\ndomain \"é\" {}",
        "targets ejabberd >= 1.0\ndomain \"a.b\" { archive { retention 90min } }",
        "\u{0}\u{feff}domain \"a\" {",
    ] {
        inputs.push(("bad.xmpp".into(), bad.into()));
    }
    for input in inputs {
        let sources = vec![input];
        let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
        let boxed = sandbox.compile(&sources, Limits::default()).unwrap();
        assert_eq!(native, boxed, "{}", sources[0].0);
    }
}

/// The deepest nesting the compiler accepts (braces in a raw block, Lua brackets and functions)
/// compiles in the sandbox's stack exactly as natively; one level more is an error in both.
#[test]
fn the_deepest_nesting_allowed_fits_the_sandbox() {
    let n = xmpp_compiler::MAX_NESTING;
    let yaml = format!("x: {}1{}", "[".repeat(n - 1), "]".repeat(n - 1));
    let lua = format!(
        "x = {}1{}\n  y = {}1 {}\n  z = {}{}",
        "(".repeat(n),
        ")".repeat(n),
        "function() return ".repeat(n - 1),
        "end ".repeat(n - 1),
        "{".repeat(n - 1),
        "}".repeat(n - 1)
    );
    let sandbox = Sandbox::new().unwrap();
    for (extra, errors) in [(0, false), (1, true)] {
        let yaml = yaml.replacen('[', &"[".repeat(1 + extra), 1).replacen(']', &"]".repeat(1 + extra), 1);
        let lua = lua.replacen('(', &"(".repeat(1 + extra), 1).replacen(')', &")".repeat(1 + extra), 1);
        for raw in [format!("ejabberd {{\n  {yaml}\n}}"), format!("prosody {{\n  {lua}\n}}")] {
            let text = format!("domain \"a.example.com\" {{ }}\nlisten client 5222\n{raw}\n");
            let sources = vec![("deep.xmpp".to_string(), text)];
            let native = engine::compile(Kind::Native, &sources, Limits::default()).unwrap();
            let boxed = sandbox.compile(&sources, Limits::default()).unwrap();
            assert_eq!(native, boxed);
            assert_eq!(native.has_errors(), errors, "{extra} past the bound: {:?}", native.diagnostics);
        }
    }
}

/// `--fuel` bounds a whole compile: the rounds that read a chain of includes share it, so a chain
/// cannot multiply it (its last round alone fits the same bound).
#[test]
fn the_execution_bound_covers_every_round_of_includes() {
    let tmp = TempDir::new("hx-fuel").unwrap();
    for i in 0..100 {
        fs::write(tmp.0.join(format!("f{i}.xmpp")), format!("include \"f{}.xmpp\"\n", i + 1)).unwrap();
    }
    fs::write(tmp.0.join("f100.xmpp"), "domain \"a.example.com\" { }\n").unwrap();
    let root_file = tmp.0.join("f0.xmpp");
    let (sources, _) = engine::compile_file(Kind::Native, &root_file, Limits::default()).unwrap();
    let bound = Limits { fuel: 200_000_000, ..Limits::default() };
    let last_round = Sandbox::new().unwrap().compile(&sources, bound);
    assert!(last_round.is_ok_and(|c| !c.has_errors()), "the last round alone fits");
    let whole = engine::compile_file(Kind::Sandbox, &root_file, bound);
    assert!(whole.is_err_and(|e| e.0.contains("execution bound")), "the rounds together do not");
}

#[test]
fn the_execution_bound_stops_the_compiler_cleanly() {
    let tmp = TempDir::new("hx-fuel").unwrap();
    let o = run(bin().current_dir(root()).args(["compile", "examples/site.xmpp", "--fuel", "10000", "-o"]).arg(&tmp.0));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("stopped at its execution bound (--fuel"), "{}", text(&o.stderr));
    assert_eq!(fs::read_dir(&tmp.0).unwrap().count(), 0, "nothing written");
}

#[test]
fn the_memory_bound_stops_the_compiler_cleanly() {
    let tmp = TempDir::new("hx-memory").unwrap();
    let big = tmp.0.join("big.xmpp");
    let mut text_ = String::new();
    for i in 0..20_000 {
        text_.push_str(&format!("domain \"d{i}.example.com\" {{ admins alice, bob; archive on }}\n"));
    }
    fs::write(&big, text_).unwrap();
    let out = tmp.0.join("out");
    let o = run(bin().arg("compile").arg(&big).args(["--max-memory", "8", "-o"]).arg(&out));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("stopped at its memory bound (8 MiB)"), "{}", text(&o.stderr));
    assert!(!out.exists(), "nothing written");
    // The same file compiles within the default bounds: the bound, not the input, stopped it.
    let o = run(bin().arg("compile").arg(&big).arg("-o").arg(&out));
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// Where build.rs leaves the artifacts the loader must refuse.
fn artifacts() -> &'static std::path::Path {
    std::path::Path::new(env!("HELM_XMPP_TEST_ARTIFACTS"))
}

fn artifact(name: &str) -> Vec<u8> {
    fs::read(artifacts().join(name)).unwrap()
}

fn digest(bytes: &[u8]) -> String {
    xmpp_compiler::sha256_hex([bytes])
}

/// The loader refuses a tampered or truncated artifact before wasmtime sees it; the intact one loads.
#[test]
fn a_tampered_or_truncated_artifact_is_refused() {
    let good = Sandbox::embedded_artifact();
    let expected = digest(good);
    assert!(Sandbox::from_artifact(good, &expected).is_ok());
    let mut flipped = good.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    for (what, bytes) in [("one flipped bit", flipped), ("truncated", good[..good.len() / 3].to_vec())] {
        let err = Sandbox::from_artifact(&bytes, &expected).unwrap_err().to_string();
        assert!(err.contains("refusing to load it"), "{what}: {err}");
    }
}

/// Stale artifacts pass the digest check but are refused by wasmtime's own compatibility check: made
/// for an engine configured otherwise (fuel off: the bound could not hold), by another wasmtime
/// major version, or for a CPU feature this machine lacks.
#[test]
fn a_stale_artifact_is_refused() {
    let mut cases =
        vec![("other-config.cwasm", "fuel".to_string()), ("other-version.cwasm", "incompatible version".into())];
    match fs::read_to_string(artifacts().join("other-cpu.txt")) {
        Ok(feature) if !cpu_has(&feature) => cases.push(("other-cpu.cwasm", feature)),
        _ => eprintln!("this machine has every CPU feature the test could ask for: the CPU case is not run"),
    }
    for (name, reason) in cases {
        let stale = artifact(name);
        let err = Sandbox::from_artifact(&stale, &digest(&stale)).unwrap_err().to_string();
        assert!(err.contains("cannot be loaded") && err.contains(&reason), "{name}: {err}");
    }
}

/// Whether this machine has a CPU feature build.rs may have compiled `other-cpu.cwasm` for.
fn cpu_has(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match feature {
            "avx512f" => has!("avx512f"),
            "avx512vbmi" => has!("avx512vbmi"),
            "avx512bitalg" => has!("avx512bitalg"),
            "avx2" => has!("avx2"),
            _ => true,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        true
    }
}

/// A component that imports something the compiler's world does not grant loads, but cannot be
/// instantiated: the sandbox's linker is empty, so the import is denied.
#[test]
fn an_import_beyond_the_world_is_denied() {
    let rogue = artifact("rogue.cwasm");
    let sandbox = Sandbox::from_artifact(&rogue, &digest(&rogue)).unwrap();
    assert_eq!(sandbox.imports(), ["host-clock"]);
    let err = sandbox.compile(&[("a.xmpp".into(), String::new())], Limits::default()).unwrap_err().to_string();
    assert!(err.contains("host-clock"), "{err}");
}

/// Twenty `helm-xmpp compile` processes at once, each into its own folder: all succeed with the same
/// files as one process alone, and none writes anything else (the precompiled component runs where it
/// lies in the binary: no cache to share, so none to corrupt).
#[test]
fn twenty_processes_at_once_all_succeed() {
    let tmp = TempDir::new("hx-twenty").unwrap();
    let home = TempDir::new("hx-twenty-home").unwrap();
    let reference = tmp.0.join("reference");
    let o = run(bin().current_dir(root()).args(["compile", "examples/production.xmpp", "-o"]).arg(&reference));
    assert!(o.status.success());
    let children: Vec<_> = (0..20)
        .map(|i| {
            bin()
                .env("HOME", &home.0)
                .env_remove("XDG_CACHE_HOME")
                .current_dir(root())
                .args(["compile", "examples/production.xmpp", "-o"])
                .arg(tmp.0.join(format!("out{i}")))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let outputs = |dir: &std::path::Path| {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    };
    assert_eq!(outputs(&home.0), Vec::<String>::new(), "written to HOME");
    for i in 0..20 {
        let out = tmp.0.join(format!("out{i}"));
        for file in ["ejabberd.yml", "prosody.cfg.lua"] {
            let got = fs::read(out.join(file)).unwrap();
            assert_eq!(got, fs::read(reference.join(file)).unwrap(), "out{i}/{file}");
        }
        assert_eq!(outputs(&out), ["ejabberd.yml", "prosody.cfg.lua"], "out{i}");
    }
}
