//! A small Lua writer for Prosody's config: strings are always quoted and escaped
//! (an unquoted word silently becomes `nil` in Prosody 0.12).

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lua {
    Str(String),
    Int(i64),
    Bool(bool),
    /// An expression written as is: `ENV_DB_PASSWORD`, `FileLine("/run/secrets/x")`.
    Expr(String),
    List(Vec<Lua>),
    Table(Vec<(String, Lua)>),
}

impl Lua {
    pub(crate) fn str(s: impl Into<String>) -> Lua {
        Lua::Str(s.into())
    }

    pub(crate) fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Lua {
        Lua::List(items.into_iter().map(Lua::str).collect())
    }
}

/// Lines of `name = value` statements, with an indent for VirtualHost and Component sections.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: String,
    /// Global options a raw `prosody { }` block sets again: not written here, so that Prosody, which
    /// keeps the last value, does not warn of a duplicate option.
    pub(crate) overridden: Vec<String>,
}

impl Writer {
    pub(crate) fn comment(&mut self, indent: &str, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.out, "{indent}-- {line}");
        }
    }

    pub(crate) fn set(&mut self, indent: &str, name: &str, value: &Lua) {
        if indent.is_empty() && self.overridden.iter().any(|o| o == name) {
            let _ = writeln!(self.out, "-- {name}: set by the raw block below");
            return;
        }
        let _ = writeln!(self.out, "{indent}{name} = {}", render(value, indent));
    }

    pub(crate) fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }
}

fn render(value: &Lua, indent: &str) -> String {
    match value {
        Lua::Str(s) => quote(s),
        Lua::Int(i) => i.to_string(),
        Lua::Bool(b) => b.to_string(),
        Lua::Expr(e) => e.clone(),
        Lua::List(items) if items.is_empty() => "{ }".to_string(),
        Lua::List(items) if items.len() <= 3 => {
            let parts: Vec<String> = items.iter().map(|i| render(i, indent)).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Lua::List(items) => {
            let inner = format!("{indent}\t");
            let mut s = String::from("{\n");
            for item in items {
                let _ = writeln!(s, "{inner}{};", render(item, &inner));
            }
            s.push_str(indent);
            s.push('}');
            s
        }
        Lua::Table(fields) => {
            let parts: Vec<String> =
                fields.iter().map(|(k, v)| format!("{} = {}", key(k), render(v, indent))).collect();
            format!("{{ {} }}", parts.join("; "))
        }
    }
}

/// A table key as Lua source: the name as it is, or `["…"]` for what is no identifier.
pub(crate) fn key(k: &str) -> String {
    let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&k);
    if ident { k.to_string() } else { format!("[{}]", quote(k)) }
}

const RESERVED: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local", "nil",
    "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// A double-quoted Lua string literal; control and non-ASCII bytes are written as `\ddd`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(quote("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(quote("é"), r#""\195\169""#);
    }

    #[test]
    fn tables_quote_keys_that_are_not_identifiers() {
        let t = Lua::Table(vec![("info".into(), Lua::str("*console")), ("end".into(), Lua::Int(1))]);
        assert_eq!(render(&t, ""), r#"{ info = "*console"; ["end"] = 1 }"#);
    }
}
