// The wasmtime configuration, shared by build.rs (precompiling) and the runtime (loading):
// an artifact only loads into an engine configured the same way.

/// The engine settings for the compiler component.
pub fn config() -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.consume_fuel(true);
    // One compile per process: copying the small initial memory is cheaper than building a
    // copy-on-write image (memfd) for it at every start.
    c.memory_init_cow(false);
    // Loading is most of a short run's cost: no native unwind tables to register and no address
    // maps to read (a trap is reported by its kind, never by a backtrace into the guest).
    c.native_unwind_info(false);
    c.generate_address_map(false);
    c.wasm_backtrace_max_frames(None);
    c
}
