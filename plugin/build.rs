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
    Ok(())
}
