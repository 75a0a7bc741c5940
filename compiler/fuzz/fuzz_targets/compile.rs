//! Any bytes through parse, check and emit (and the formatter): no panic; an accepted file's outputs
//! end in a newline, its ejabberd.yml reads back as a YAML mapping and its prosody.cfg.lua is Lua;
//! formatting is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xmpp_compiler::{Source, compile, format::format, lua_syntax};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let out = compile(&[Source { path: "fuzz.xmpp".into(), text: text.into() }]);
    if !out.has_errors() {
        for f in &out.files {
            assert!(f.text.ends_with('\n'));
            if f.name.ends_with(".yml") {
                let v: serde_norway::Value = serde_norway::from_str(&f.text).expect("ejabberd.yml reads back");
                assert!(v.is_mapping());
            } else {
                lua_syntax::check(&f.text).expect("prosody.cfg.lua is Lua");
            }
        }
    }
    if let Ok(formatted) = format(text) {
        assert_eq!(format(&formatted).ok().as_deref(), Some(formatted.as_str()), "format is not idempotent");
    }
});
