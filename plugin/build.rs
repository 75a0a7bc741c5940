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
    let engine = wasmtime::Engine::new(&engine_config::config())?;
    let cwasm = engine.precompile_component(&component)?;
    fs::write(out.join("compiler.wasm"), &component)?;
    fs::write(out.join("compiler.cwasm"), &cwasm)?;
    let digest: String = sha2_hex(&cwasm);
    fs::write(out.join("compiler.cwasm.sha256"), digest)?;
    test_artifacts(&out, &engine, &component)?;
    println!("cargo:rustc-env=HELM_XMPP_TEST_ARTIFACTS={}", out.display());
    Ok(())
}

/// The artifact's digest names its cached copy: another wasmtime or configuration, another name.
fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Artifacts the tests feed to the loader, which must refuse them: a component importing a function
/// the compiler's world does not grant (`rogue.cwasm`), and the real component precompiled for an
/// engine configured otherwise, fuel off (`other-config.cwasm`).
fn test_artifacts(out: &Path, engine: &wasmtime::Engine, component: &[u8]) -> anyhow::Result<()> {
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
    Ok(())
}
