//! The compiler, run in the WebAssembly sandbox (the default) or natively (`--engine native`).
//!
//! The sandbox is a component with no imports at all, instantiated with an empty linker in a fresh
//! store per call, bounded in fuel (execution) and linear memory. It is precompiled by build.rs and
//! embedded in this binary, so no cranelift ships here and no artifact is ever read from disk.

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};

use crate::{Error, Result};

#[path = "engine_config.rs"]
mod engine_config;

mod bindings {
    wasmtime::component::bindgen!({ world: "compiler", path: "../guest/wit" });
}

include!(concat!(env!("OUT_DIR"), "/compiler_len.rs"));

/// Page alignment, which wasmtime needs for the machine code inside the artifact.
#[repr(C, align(4096))]
struct PageAligned<T>(T);

/// The precompiled component, made by build.rs with this very wasmtime version and configuration.
/// On Linux it is placed in this binary's executable segment so that wasmtime runs it where it lies:
/// loading it copies nothing, changes no page protection and reads no file; the kernel maps the pages
/// a compile touches, from the binary itself. Elsewhere wasmtime copies it into fresh pages.
#[allow(unsafe_code)]
#[cfg_attr(target_os = "linux", unsafe(link_section = ".text.helm_xmpp_compiler"))]
static PRECOMPILED: PageAligned<[u8; PRECOMPILED_LEN]> =
    PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/compiler.cwasm")));
/// The component itself (for inspection: its import list is checked by a test).
pub static COMPONENT_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/compiler.wasm"));

/// Where the compiler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Inside the WebAssembly sandbox: no files, clock, environment or network.
    Sandbox,
    /// Linked into this binary.
    Native,
}

/// Bounds of one sandboxed compile.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Units of wasmtime fuel (roughly, WebAssembly instructions).
    pub fuel: u64,
    /// Bytes of linear memory.
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { fuel: 10_000_000_000, memory: 256 << 20 }
    }
}

/// A finding, from either engine.
pub use xmpp_compiler::Diagnostic;
/// What a compile gives, from either engine: the compiler's own result type.
pub use xmpp_compiler::Output as Compiled;

/// A compiler ready to run: the native one, or the sandbox with its component loaded once, for as
/// many compiles and formats as the caller has.
#[derive(Debug)]
pub enum Compiler {
    Native,
    Sandbox(Sandbox),
}

impl Compiler {
    pub fn new(kind: Kind) -> Result<Compiler> {
        Ok(match kind {
            Kind::Native => Compiler::Native,
            Kind::Sandbox => Compiler::Sandbox(Sandbox::new()?),
        })
    }

    /// Compiles `(path, text)` sources, the root first.
    pub fn compile(&self, sources: &[(String, String)], limits: Limits) -> Result<Compiled> {
        let mut budget = limits;
        self.compile_metered(sources, &mut budget)
    }

    /// As [`Compiler::compile`], taking the sandbox's fuel used off `limits` (the native compiler
    /// uses none).
    fn compile_metered(&self, sources: &[(String, String)], limits: &mut Limits) -> Result<Compiled> {
        match self {
            Compiler::Native => Ok(native(sources)),
            Compiler::Sandbox(s) => s.compile_metered(sources, limits),
        }
    }

    /// Formats one file's text; `Err` holds its syntax errors.
    pub fn format(&self, text: &str, limits: Limits) -> Result<std::result::Result<String, Vec<Diagnostic>>> {
        match self {
            Compiler::Native => Ok(xmpp_compiler::format::format(text)),
            Compiler::Sandbox(s) => s.format(text, limits),
        }
    }
}

/// Compiles `(path, text)` sources, the root first, with a compiler made for this one call.
pub fn compile(kind: Kind, sources: &[(String, String)], limits: Limits) -> Result<Compiled> {
    Compiler::new(kind)?.compile(sources, limits)
}

/// Formats one file's text with a compiler made for this one call.
pub fn format(kind: Kind, text: &str, limits: Limits) -> Result<std::result::Result<String, Vec<Diagnostic>>> {
    Compiler::new(kind)?.format(text, limits)
}

/// The most files one compile reads, the root included. Each round of includes compiles everything
/// read so far again, so a deep chain costs its length squared: bounded here, with a clear error.
pub const MAX_SOURCES: usize = 256;

/// Compiles the root file and every file it includes: the compiler names the includes it lacks,
/// the host reads them (never outside the root file's folder) and compiles again. An include that
/// cannot be read, or one past `MAX_SOURCES`, is an error diagnostic (E018) at its `include` line.
/// `limits.fuel` bounds all the rounds together.
pub fn compile_file(kind: Kind, root: &std::path::Path, limits: Limits) -> Result<(Vec<(String, String)>, Compiled)> {
    let (path, text) = crate::files::read_source(root)?;
    compile_text(&Compiler::new(kind)?, root, (path, text), limits)
}

/// `compile_file` for a root file whose text is at hand (an editor's unsaved buffer): `root` is where
/// it lives, for its includes; `source` is its name as reported, and its text.
pub fn compile_source(
    compiler: &Compiler,
    root: &std::path::Path,
    text: String,
    limits: Limits,
) -> Result<(Vec<(String, String)>, Compiled)> {
    compile_text(compiler, root, (root.display().to_string(), text), limits)
}

fn compile_text(
    compiler: &Compiler,
    root: &std::path::Path,
    source: (String, String),
    limits: Limits,
) -> Result<(Vec<(String, String)>, Compiled)> {
    let mut sources = vec![source];
    // Where includes are read from; an editor's buffer may have no folder yet, and then only its
    // includes fail.
    let top = crate::files::folder_of(root);
    let mut budget = limits;
    loop {
        let mut compiled = compiler.compile_metered(&sources, &mut budget)?;
        if compiled.needs.is_empty() {
            return Ok((sources, compiled));
        }
        let mut failed = Vec::new();
        for need in std::mem::take(&mut compiled.needs) {
            if sources.iter().any(|(p, _)| *p == need.path) {
                return Err(Error::new(format!("the compiler asked twice for {}", need.path)));
            }
            if sources.len() >= MAX_SOURCES {
                let hint = Some("try merging some of the included files".to_string());
                failed.push(need.error(format!("more than {MAX_SOURCES} files are included in all"), hint));
                break;
            }
            match top
                .as_ref()
                .map_err(|e| Error::new(e.0.clone()))
                .and_then(|t| crate::files::read_include(t, &need.path))
            {
                Ok(source) => sources.push(source),
                Err(e) => failed.push(need.error(e.0, None)),
            }
        }
        if !failed.is_empty() {
            return Ok((sources, Compiled { diagnostics: failed, ..Compiled::default() }));
        }
    }
}

fn native(sources: &[(String, String)]) -> Compiled {
    let sources: Vec<xmpp_compiler::Source> =
        sources.iter().map(|(p, t)| xmpp_compiler::Source { path: p.clone(), text: t.clone() }).collect();
    xmpp_compiler::compile(&sources)
}

/// The loaded component, ready to instantiate (a clone shares it).
#[derive(Debug, Clone)]
pub struct Sandbox {
    engine: Engine,
    component: Component,
}

struct State {
    memory_limit: usize,
    hit_memory_limit: bool,
}

impl ResourceLimiter for State {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.memory_limit;
        self.hit_memory_limit |= !ok;
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Publishes nothing: the embedded artifact already lies in this binary's executable segment (and
/// refuses any other memory, which must come through `Sandbox::from_artifact`'s own engine).
struct InPlace;

impl wasmtime::CustomCodeMemory for InPlace {
    fn required_alignment(&self) -> usize {
        std::mem::align_of::<PageAligned<()>>()
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        let embedded = PRECOMPILED.0.as_ptr_range();
        let (start, end) = (ptr as usize, ptr as usize + len);
        if embedded.start as usize <= start && end <= embedded.end as usize {
            Ok(())
        } else {
            Err(wasmtime::Error::msg("only the embedded compiler runs in place"))
        }
    }

    fn unpublish_executable(&self, _ptr: *const u8, _len: usize) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl Sandbox {
    /// The embedded compiler component, made by build.rs from source with this very wasmtime and
    /// configuration, used where it lies in the binary (see `PRECOMPILED`). It is loaded once per
    /// process (wasmtime registers a piece of machine code once), and shared.
    pub fn new() -> Result<Sandbox> {
        static EMBEDDED: std::sync::OnceLock<std::result::Result<Sandbox, String>> = std::sync::OnceLock::new();
        EMBEDDED.get_or_init(|| Self::load_embedded().map_err(|e| e.to_string())).clone().map_err(Error::new)
    }

    fn load_embedded() -> Result<Sandbox> {
        let in_place = cfg!(target_os = "linux"); // where `PRECOMPILED` lies in the executable segment
        let mut config = engine_config::config();
        if in_place {
            config.with_custom_code_memory(Some(std::sync::Arc::new(InPlace)));
        }
        let engine = Engine::new(&config).map_err(|e| Error::new(format!("wasmtime: {e}")))?;
        // SAFETY: the artifact is part of this binary, so it is exactly what build.rs produced with
        // `Engine::precompile_component`, the same pinned wasmtime and `engine_config::config()`; it is
        // immutable and lives as long as the process. wasmtime still checks version, target and
        // configuration compatibility before using it.
        #[allow(unsafe_code)]
        let loaded = unsafe {
            if in_place {
                Component::deserialize_raw(&engine, std::ptr::NonNull::from(&PRECOMPILED.0[..]))
            } else {
                Component::deserialize(&engine, &PRECOMPILED.0[..])
            }
        };
        let component = loaded.map_err(|e| {
            Error::new(format!(
                "the compiler component cannot be loaded: {e:#}; rebuild helm-xmpp on this machine, \
                 or use --engine native"
            ))
        })?;
        Ok(Sandbox { engine, component })
    }

    /// A precompiled component from elsewhere, loaded only when its sha256 is `sha256`; wasmtime then
    /// refuses an artifact made by another wasmtime version, for other CPU features or for another
    /// engine configuration. What it imports is refused when it is instantiated: the linker is empty.
    pub fn from_artifact(bytes: &[u8], sha256: &str) -> Result<Sandbox> {
        let actual = xmpp_compiler::sha256_hex([bytes]);
        if actual != sha256 {
            return Err(Error::new(format!(
                "the compiler component's digest is {actual}, not the expected {sha256}: refusing to load it"
            )));
        }
        Self::deserialize(bytes)
    }

    fn deserialize(bytes: &[u8]) -> Result<Sandbox> {
        let engine = Engine::new(&engine_config::config()).map_err(|e| Error::new(format!("wasmtime: {e}")))?;
        // SAFETY: wasmtime trusts a precompiled artifact's machine code. The embedded one was produced by
        // `Engine::precompile_component` in build.rs with the same pinned wasmtime version and the same
        // `engine_config::config()`; any other passed the digest check in `from_artifact`. wasmtime still
        // checks version, target and configuration compatibility before loading.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&engine, bytes) }
            .map_err(|e| Error::new(format!("the compiler component cannot be loaded: {e:#}")))?;
        Ok(Sandbox { engine, component })
    }

    /// The embedded precompiled component (for the tests that tamper with a copy).
    pub fn embedded_artifact() -> &'static [u8] {
        &PRECOMPILED.0
    }

    /// Whether wasmtime runs this component from the bytes embedded in the binary, not a copy.
    pub fn runs_in_place(&self) -> bool {
        let image = self.component.image_range();
        let embedded = PRECOMPILED.0.as_ptr_range();
        embedded.start <= image.start && image.end <= embedded.end
    }

    /// The names the component imports; the sandbox's promise is that there are none.
    pub fn imports(&self) -> Vec<String> {
        self.component.component_type().imports(&self.engine).map(|(name, _)| name.to_string()).collect()
    }

    /// A fresh store and instance (a trapped instance cannot be entered again), bounded by `limits`.
    fn instantiate(&self, limits: Limits) -> Result<(Store<State>, bindings::Compiler)> {
        let mut store = Store::new(&self.engine, State { memory_limit: limits.memory, hit_memory_limit: false });
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        store.set_fuel(limits.fuel).map_err(|e| Error::new(format!("wasmtime: {e}")))?;
        let linker: Linker<State> = Linker::new(&self.engine); // empty: the guest gets nothing
        let instance = bindings::Compiler::instantiate(&mut store, &self.component, &linker)
            .map_err(|e| sandbox_error(&store, e, limits))?;
        Ok((store, instance))
    }

    /// Formats one file's text in the sandbox.
    pub fn format(&self, text: &str, limits: Limits) -> Result<std::result::Result<String, Vec<Diagnostic>>> {
        let (mut store, instance) = self.instantiate(limits)?;
        match instance.call_format(&mut store, text).map_err(|e| sandbox_error(&store, e, limits))? {
            Ok(formatted) => Ok(Ok(formatted)),
            Err(diagnostics) => Ok(Err(from_json(&diagnostics)?)),
        }
    }

    /// One compile in a fresh store.
    pub fn compile(&self, sources: &[(String, String)], limits: Limits) -> Result<Compiled> {
        let mut budget = limits;
        self.compile_metered(sources, &mut budget)
    }

    /// One compile in a fresh store, taking the fuel it used off `limits`: the rounds of one compile
    /// with includes share one execution bound.
    fn compile_metered(&self, sources: &[(String, String)], limits: &mut Limits) -> Result<Compiled> {
        let (mut store, instance) = self.instantiate(*limits)?;
        let input: Vec<bindings::Source> =
            sources.iter().map(|(p, t)| bindings::Source { path: p.clone(), text: t.clone() }).collect();
        let out = instance.call_compile(&mut store, &input).map_err(|e| sandbox_error(&store, e, *limits))?;
        limits.fuel = store.get_fuel().unwrap_or(0);
        from_json(&out)
    }
}

/// Reads back what the guest serialized (the compiler's own types, see `guest/wit/compiler.wit`).
fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::new(format!("the sandboxed compiler gave a malformed result: {e}")))
}

fn sandbox_error(store: &Store<State>, e: wasmtime::Error, limits: Limits) -> Error {
    if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        return Error::new(
            "the compiler stopped at its execution bound (--fuel, shared by the rounds that read includes) \
             before finishing; try a smaller input, or raise the bound with --fuel",
        );
    }
    if store.data().hit_memory_limit {
        return Error::new(format!(
            "the compiler stopped at its memory bound ({} MiB) before finishing; \
             try a smaller input, or raise the bound with --max-memory",
            limits.memory >> 20
        ));
    }
    Error::new(format!("the sandboxed compiler failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::CustomCodeMemory;

    #[test]
    fn only_the_embedded_artifact_is_published_in_place() {
        let embedded = PRECOMPILED.0.as_ptr_range();
        let len = PRECOMPILED_LEN;
        assert!(InPlace.publish_executable(embedded.start, len).is_ok());
        assert!(InPlace.publish_executable(embedded.start, len + 1).is_err(), "runs past the end");
        let elsewhere = vec![0u8; 4096];
        assert!(InPlace.publish_executable(elsewhere.as_ptr(), elsewhere.len()).is_err());
    }
}
