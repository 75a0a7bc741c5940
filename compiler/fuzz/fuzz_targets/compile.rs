//! Any bytes through parse, check and emit (and the formatter): no panic, and an accepted file's
//! outputs are well-formed enough to end in a newline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xmpp_compiler::{Source, compile, format::format};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let out = compile(&[Source { path: "fuzz.xmpp".into(), text: text.into() }]);
    if !out.has_errors() {
        assert!(out.files.iter().all(|f| f.text.ends_with('\n')));
    }
    if let Ok(formatted) = format(text) {
        assert_eq!(format(&formatted).ok().as_deref(), Some(formatted.as_str()), "format is not idempotent");
    }
});
