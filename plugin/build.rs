//! Builds the guest for wasm32 in a nested cargo (its own target dir), refuses it if the core module
//! imports anything, wraps it into a component and precompiles it for embedding in the binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

#[path = "src/engine_config.rs"]
mod engine_config;

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let ws = manifest.parent().map(Path::to_path_buf).ok_or_else(|| anyhow::anyhow!("no workspace"))?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    for p in [
        "grammar",
        "compiler/src",
        "compiler/Cargo.toml",
        "guest/src",
        "guest/wit",
        "guest/Cargo.toml",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", ws.join(p).display());
    }
    println!("cargo:rerun-if-changed=src/engine_config.rs");

    let target_dir = out.join("guest-target");
    let status = Command::new(env::var("CARGO")?)
        .current_dir(&ws)
        .args([
            "build",
            "--locked",
            "-p",
            "xmpp-guest",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()?;
    anyhow::ensure!(
        status.success(),
        "the guest build failed (is the wasm32-unknown-unknown target installed? run tests/setup)"
    );
    let core = fs::read(target_dir.join("wasm32-unknown-unknown/wasm-release/xmpp_guest.wasm"))?;

    let mut imports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&core) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            for import in reader.into_imports() {
                let import = import?;
                imports.push(format!("{}::{}", import.module, import.name));
            }
        }
    }
    anyhow::ensure!(imports.is_empty(), "the guest core module must import nothing, but imports {imports:?}");

    let component = wit_component::ComponentEncoder::default().module(&core)?.validate(true).encode()?;
    // Machine code for the CPU the binary is built for, not the machine this script runs on: another one
    // in a cross build (release/build's arm64 archive), and for the same one its baseline, since an
    // archive runs on CPUs older than the one that built it (cranelift infers no features of a target
    // named explicitly).
    let (host, target) = (env::var("HOST")?, env::var("TARGET")?);
    let mut config = engine_config::config();
    config.target(&target)?;
    let engine = wasmtime::Engine::new(&config)?;
    let cwasm = engine.precompile_component(&component)?;
    fs::write(out.join("compiler.wasm"), &component)?;
    fs::write(out.join("compiler.cwasm"), &cwasm)?;
    fs::write(out.join("compiler_len.rs"), format!("const PRECOMPILED_LEN: usize = {};\n", cwasm.len()))?;
    if target == host {
        // The tests run where they are built.
        test_artifacts(&out, &engine, &component, &cwasm)?;
    }
    println!("cargo:rustc-env=HELM_XMPP_TEST_ARTIFACTS={}", out.display());
    Ok(())
}

/// Artifacts the tests feed to the loader, which must refuse them: a component importing a function
/// the compiler's world does not grant (`rogue.cwasm`); and the real component precompiled for an
/// engine configured otherwise, fuel off (`other-config.cwasm`), by another wasmtime major version
/// (`other-version.cwasm`), and for a CPU feature the building machine lacks (`other-cpu.cwasm`, with
/// the feature's name in `other-cpu.txt`; neither is made on a machine with every candidate feature,
/// and the test skips the case where the machine running it has the feature).
fn test_artifacts(out: &Path, engine: &wasmtime::Engine, component: &[u8], cwasm: &[u8]) -> anyhow::Result<()> {
    use wasm_encoder::{CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction};
    use wasm_encoder::{EntityType, ImportSection, Module, TypeSection, ValType};

    let mut resolve = wit_parser::Resolve::default();
    let wit =
        "package test:rogue;\nworld rogue {\n  import host-clock: func() -> u64;\n  export run: func() -> u64;\n}\n";
    let pkg = resolve.push_str("rogue.wit", wit)?;
    let world = resolve.select_world(&[pkg], Some("rogue"))?;

    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I64]);
    module.section(&types);
    let mut imports = ImportSection::new();
    imports.import("$root", "host-clock", EntityType::Function(0));
    module.section(&imports);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 1);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut run = Function::new([]);
    run.instruction(&Instruction::Call(0));
    run.instruction(&Instruction::End);
    code.function(&run);
    module.section(&code);
    let mut core = module.finish();
    wit_component::embed_component_metadata(&mut core, &resolve, world, wit_component::StringEncoding::UTF8)?;
    let rogue = wit_component::ComponentEncoder::default().module(&core)?.validate(true).encode()?;
    fs::write(out.join("rogue.cwasm"), engine.precompile_component(&rogue)?)?;

    let mut other = engine_config::config();
    other.consume_fuel(false);
    fs::write(out.join("other-config.cwasm"), wasmtime::Engine::new(&other)?.precompile_component(component)?)?;

    let mut stale = cwasm.to_vec();
    let version = engine_version_range(&stale)?;
    stale[version].fill(b'0');
    fs::write(out.join("other-version.cwasm"), stale)?;

    for stale in ["other-cpu.cwasm", "other-cpu.txt"] {
        let _ = fs::remove_file(out.join(stale));
    }
    if let Some(feature) = missing_cpu_feature() {
        let mut other = engine_config::config();
        // SAFETY: the flag only shapes the code generated for this artifact, which wasmtime must refuse
        // on this machine (the test's point); it never runs.
        #[allow(unsafe_code)]
        unsafe {
            other.cranelift_flag_enable(&format!("has_{feature}"));
        }
        fs::write(out.join("other-cpu.cwasm"), wasmtime::Engine::new(&other)?.precompile_component(component)?)?;
        fs::write(out.join("other-cpu.txt"), feature)?;
    }
    Ok(())
}

/// Where the wasmtime version lies in an artifact: its engine section starts with a format byte (0)
/// and the version as a length-prefixed string, then the target triple, likewise.
fn engine_version_range(cwasm: &[u8]) -> anyhow::Result<std::ops::Range<usize>> {
    let triple = env::var("HOST")?; // the build script's engine compiles for the machine it runs on
    let at = cwasm
        .windows(triple.len())
        .position(|w| w == triple.as_bytes())
        .ok_or_else(|| anyhow::anyhow!("no target triple in the artifact"))?;
    (1..=16)
        .filter(|&n| at >= n + 3)
        .find(|&n| cwasm[at - 1] as usize == triple.len() && cwasm[at - 2 - n] as usize == n && cwasm[at - 3 - n] == 0)
        .map(|n| at - 1 - n..at - 1)
        .ok_or_else(|| anyhow::anyhow!("no engine version before the target triple"))
}

/// A CPU feature cranelift can target that the building machine lacks (`cpu_has` in tests/sandbox.rs
/// knows the same names).
fn missing_cpu_feature() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        [
            ("avx512f", has!("avx512f")),
            ("avx512vbmi", has!("avx512vbmi")),
            ("avx512bitalg", has!("avx512bitalg")),
            ("avx2", has!("avx2")),
        ]
        .into_iter()
        .find(|(_, present)| !present)
        .map(|(name, _)| name)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}
