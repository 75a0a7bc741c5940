//! Typed settings: the `key value` items of a block, checked against the keys it allows and read as
//! the types their settings take (numbers, sizes, durations, rates, switches, words, secrets).

use std::collections::BTreeMap;

use crate::ast::{self, Secret, Settings, Span, Spanned, Value};
use crate::diagnostic::{Code, Sink, nearest};
use crate::facts::Construct;
use crate::ir;

pub(crate) fn integer(v: &Spanned<Value>, key: &str, min: u64, max: u64, sink: &mut Sink) -> Option<u64> {
    match v.value {
        Value::TooLarge(ref text) => {
            too_large(v.span, key, text, sink);
            None
        }
        Value::Integer(n) if (min..=max).contains(&n) => Some(n),
        Value::Integer(n) => {
            sink.error(Code::BadValue, v.span, format!("`{key}` must be from {min} to {max}, not {n}"));
            None
        }
        _ => {
            sink.error(Code::BadValue, v.span, format!("`{key}` takes a number"));
            None
        }
    }
}

/// Whether a setting's string is one line of printable text; a newline or another control character
/// (written as an escape) would reach a config as a new line, so it is refused.
fn one_line(s: &str, span: Span, key: &str, sink: &mut Sink) -> bool {
    let ok = !s.chars().any(ast::breaks_a_line);
    if !ok {
        sink.error(Code::BadValue, span, format!("`{key}` holds a line break or another control character"))
            .hint("try one line of text");
    }
    ok
}

/// A number past 64 bits: refused, never clamped (the two outputs would clamp it differently).
fn too_large(span: Span, key: &str, text: &str, sink: &mut Sink) {
    sink.error(Code::BadValue, span, format!("`{text}` is too large for `{key}`")).hint("try a smaller value");
}

/// The settings of one block by key, after reporting unknown and repeated keys.
pub(crate) struct Fields<'a> {
    block: &'static str,
    map: BTreeMap<&'a str, &'a ast::Setting>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(settings: &'a Settings, block: &'static str, allowed: &[&str], sink: &mut Sink) -> Fields<'a> {
        let mut map = BTreeMap::new();
        for s in &settings.items {
            let key = s.key.value.as_str();
            if !allowed.contains(&key) {
                let e = sink.error(Code::UnknownWord, s.key.span, format!("unknown setting `{key}` in `{block}`"));
                match nearest(key, allowed.iter().copied()) {
                    Some(n) => e.hint(format!("try `{n}`")),
                    None if allowed.is_empty() => e.hint(format!("`{block}` takes no settings here")),
                    None => e.hint(format!("try one of {}", allowed.join(", "))),
                }
            } else if map.insert(key, s).is_some() {
                sink.error(Code::Duplicate, s.key.span, format!("`{key}` is given twice"));
            }
        }
        Fields { block, map }
    }

    pub(crate) fn get_all(&self, key: &str) -> Option<&'a [Spanned<Value>]> {
        self.map.get(key).map(|s| s.values.as_slice())
    }

    /// The first value of a key, without reporting anything.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Spanned<Value>> {
        let values = self.get_all(key)?;
        values.first()
    }

    /// The single value of a key; reports a list where one value belongs.
    pub(crate) fn one(&self, key: &str, sink: &mut Sink) -> Option<&'a Spanned<Value>> {
        let values = self.get_all(key)?;
        if let Some(extra) = values.get(1) {
            sink.error(Code::BadValue, extra.span, format!("`{key}` takes one value"));
        }
        let first = values.first()?;
        if let Value::TooLarge(text) = &first.value {
            too_large(first.span, key, text, sink);
            return None;
        }
        Some(first)
    }

    pub(crate) fn mistyped(&self, v: &Spanned<Value>, key: &str, wanted: &str, example: &str, sink: &mut Sink) {
        sink.error(Code::BadValue, v.span, format!("`{key}` in `{}` takes {wanted}", self.block))
            .hint(format!("try `{key} {example}`"));
    }

    /// The single value of `key` as a `T`, or a type error naming what it takes.
    pub(crate) fn typed<T>(
        &self,
        key: &str,
        wanted: &str,
        example: &str,
        sink: &mut Sink,
        extract: impl Fn(&Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.one(key, sink)?;
        let got = extract(&v.value);
        if got.is_none() {
            self.mistyped(v, key, wanted, example, sink);
        }
        got
    }

    pub(crate) fn string(&self, key: &str, sink: &mut Sink) -> Option<String> {
        let v = self.one(key, sink)?;
        match &v.value {
            Value::Str(s) if !one_line(s, v.span, key, sink) => None,
            Value::Str(s) if !s.is_empty() => Some(s.clone()),
            Value::Word(w) => {
                sink.error(Code::BadValue, v.span, format!("`{key}` takes a string"))
                    .hint(format!("try quoting it: \"{w}\""));
                None
            }
            _ => {
                self.mistyped(v, key, "a non-empty string", "\"…\"", sink);
                None
            }
        }
    }

    pub(crate) fn strings(&self, key: &str, sink: &mut Sink) -> Option<Vec<String>> {
        let values = self.get_all(key)?;
        let mut out = Vec::new();
        for v in values {
            match &v.value {
                Value::Str(s) if !one_line(s, v.span, key, sink) => {}
                Value::Str(s) if !s.is_empty() => out.push(s.clone()),
                _ => self.mistyped(v, key, "strings", "\"…\", \"…\"", sink),
            }
        }
        Some(out)
    }

    pub(crate) fn integer(&self, key: &str, min: u64, max: u64, sink: &mut Sink) -> Option<u64> {
        integer(self.one(key, sink)?, key, min, max, sink)
    }

    pub(crate) fn port(&self, key: &str, sink: &mut Sink) -> Option<u16> {
        self.integer(key, 1, 65_535, sink).and_then(|p| u16::try_from(p).ok())
    }

    pub(crate) fn switch(&self, key: &str, sink: &mut Sink) -> Option<bool> {
        self.typed(key, "`on` or `off`", "on", sink, |v| match *v {
            Value::Switch(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn size(&self, key: &str, sink: &mut Sink) -> Option<u64> {
        self.typed(key, "a size", "50MB", sink, |v| match *v {
            Value::Size(n) if n > 0 => Some(n),
            _ => None,
        })
    }

    pub(crate) fn rate(&self, key: &str, sink: &mut Sink) -> Option<u64> {
        self.typed(key, "a rate", "50KB/s", sink, |v| match *v {
            Value::Rate(n) if n > 0 => Some(n),
            _ => None,
        })
    }

    pub(crate) fn duration(&self, key: &str, sink: &mut Sink) -> Option<ir::Duration> {
        self.typed(key, "a duration", "30d", sink, |v| match *v {
            Value::Duration(d) if d.amount > 0 => Some(d),
            _ => None,
        })
    }

    pub(crate) fn word(&self, key: &str, allowed: &[&str], sink: &mut Sink) -> Option<String> {
        let v = self.one(key, sink)?;
        if let Value::Word(w) = &v.value
            && allowed.contains(&w.as_str())
        {
            return Some(w.clone());
        }
        let e = sink.error(Code::BadValue, v.span, format!("`{key}` takes one of {}", allowed.join(", ")));
        if let Value::Word(w) | Value::Str(w) = &v.value
            && let Some(n) = nearest(w, allowed.iter().copied())
        {
            e.hint(format!("try `{n}`"));
        }
        None
    }

    /// A secret reference: a literal here would land in a ConfigMap, so it is an error.
    pub(crate) fn secret(&self, key: &str, sink: &mut Sink) -> Option<Secret> {
        let v = self.one(key, sink)?;
        match &v.value {
            Value::Secret(s) => check_secret(s, v.span, sink).then(|| s.clone()),
            Value::Str(_) => {
                sink.error(
                    Code::LiteralSecret,
                    v.span,
                    format!("`{key}` is a secret: written here it would land in a ConfigMap"),
                )
                .hint(format!(
                    "try `{key} env(\"{}\")` and put the value in a Kubernetes Secret",
                    env_name(self.block, key)
                ));
                None
            }
            _ => {
                self.mistyped(v, key, "`env(\"NAME\")` or `file(\"/path\")`", "env(\"NAME\")", sink);
                None
            }
        }
    }
}

/// A suggested environment variable name, e.g. `XMPP_STORAGE_PASSWORD`.
fn env_name(block: &str, key: &str) -> String {
    format!("XMPP_{}_{}", block, key).to_uppercase().replace('-', "_")
}

fn check_secret(s: &Secret, span: Span, sink: &mut Sink) -> bool {
    match s {
        Secret::Env(name) => {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                sink.error(Code::BadValue, span, format!("`{name}` is not an environment variable name")).hint(
                    format!("try \"{}\"", name.to_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
                );
            }
            ok
        }
        Secret::File(path) => {
            sink.used(Construct::FileSecret, span, "");
            let ok = path.starts_with('/') && !path.chars().any(|c| c == '"' || ast::breaks_a_line(c));
            if !ok {
                sink.error(Code::BadPath, span, format!("`{path}` is not an absolute path"));
            }
            ok
        }
    }
}
