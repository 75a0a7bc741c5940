//! The compiler exported through `wit/compiler.wit`: sources in, the compiler's own result type out
//! (as JSON), nothing more.
#![allow(unsafe_code, missing_debug_implementations)] // generated export glue

wit_bindgen::generate!({ world: "compiler", path: "wit" });

use xmpp_compiler as c;

struct Component;

impl Guest for Component {
    fn compile(sources: Vec<Source>) -> String {
        let sources: Vec<c::Source> = sources.into_iter().map(|s| c::Source { path: s.path, text: s.text }).collect();
        json(&c::compile(&sources))
    }

    fn format(text: String) -> Result<String, String> {
        c::format::format(&text).map_err(|ds| json(&ds))
    }
}

/// The compiler's types hold only strings, numbers and lists, which always serialize.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

export!(Component);
