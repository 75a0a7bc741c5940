;; A Helm 4 Wasm plugin (runtime extism/v1) in its smallest form, to hold Helm to what its runtime does
;; with a post-renderer's manifests (tests/helm.rs). Helm calls the function named by the plugin's
;; `runtimeConfig.entryFuncName` with its JSON input message, and reads the JSON output message back.
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  ;; The output of `manifest`: a post-renderer's message with one manifest (33 bytes).
  (data (i32.const 0) "{\"manifests\":\"kind: ConfigMap\\n\"}")

  ;; `echo`: the input message, as it came, is the output.
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))

  ;; `manifest`: the message above, copied into the runtime's memory, is the output.
  (func (export "manifest") (result i32) (local $out i64) (local $i i32)
    (local.set $out (call $alloc (i64.const 33)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 33)))
        (call $store_u8 (i64.add (local.get $out) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $output_set (local.get $out) (i64.const 33))
    (i32.const 0)))
