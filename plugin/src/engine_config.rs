// The wasmtime configuration, shared by build.rs (precompiling) and the runtime (loading):
// an artifact only loads into an engine configured the same way.

/// The engine settings for the compiler component.
pub fn config() -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.consume_fuel(true);
    c
}
