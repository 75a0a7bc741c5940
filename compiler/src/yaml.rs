//! YAML out, read back as the same types by YAML 1.1 and YAML 1.2 readers alike.
//!
//! ejabberd reads its config with libyaml under YAML 1.1 rules, where a plain `on`, `yes`, `1_000`,
//! `2024-01-01`, `0o17` or `<<` is a boolean, a number, a date or a merge key; serde's emitters quote
//! by YAML 1.2 rules only. Here a string is written plain only when it starts with a letter or `/`,
//! holds nothing but letters, digits, inner spaces and `_ . @ / -`, and is none of YAML 1.1's boolean and null words:
//! no reader of either version takes such a scalar for anything but a string. Every other string is
//! quoted: single quotes when it is one printable line, a literal block (`|`) when it is printable
//! lines (a config file in a ConfigMap), double quotes with escapes otherwise. Floats always have a
//! dot, as YAML 1.1 needs (`1.0e+30`, not `1e30`). Kubernetes (go-yaml) reads the same way.

use serde_norway::{Mapping, Value};

/// `value` as a YAML document: block style, two-space indents, sequences under a key not indented.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&inline(other, 2));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn mapping(out: &mut String, m: &Mapping, at: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        let key = match k {
            Value::String(text) if is_plain(text) => text.clone(),
            Value::String(_) | Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => flow(k),
            _ => scalar(k, 0),
        };
        // An implicit key is one line of at most 1024 characters; anything else takes the explicit `? ` form.
        if key.len() > 1000 || matches!(k, Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_)) {
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            indent(out, at);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        after_key(out, v, at);
    }
}

/// A value after `key:` (or after `- `, with `at` the indent of its own lines).
fn after_key(out: &mut String, v: &Value, at: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, at + 2);
            mapping(out, m, at + 2);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            indent(out, at);
            sequence(out, s, at);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, at + 2));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, s: &[Value], at: usize) {
    for (i, v) in s.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        out.push_str("- ");
        match v {
            Value::Mapping(m) if !m.is_empty() => mapping(out, m, at + 2),
            Value::Sequence(inner) if !inner.is_empty() => sequence(out, inner, at + 2),
            other => {
                out.push_str(&inline(other, at + 2));
                out.push('\n');
            }
        }
    }
}

/// A value on the rest of a line: a scalar, an empty collection, or a tagged value in flow style.
/// `at` is the indent a literal block's lines take.
fn inline(v: &Value, at: usize) -> String {
    match v {
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => flow(v),
        _ => scalar(v, at),
    }
}

/// Flow style (`{a: 1, b: [x]}`), for keys that are collections and for tagged values.
fn flow(v: &Value) -> String {
    match v {
        Value::Mapping(m) => {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", flow(k), flow(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Sequence(s) => format!("[{}]", s.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Tagged(t) => format!("{} {}", tag(&t.tag.to_string()), flow(&t.value)),
        Value::String(text) if is_plain(text) => text.clone(),
        Value::String(text) => quoted_line(text),
        other => scalar(other, 0),
    }
}

/// A tag as written back: `!name` when the name is plain, the non-specific `!` as itself, any other
/// in the verbatim form `!<…>`.
fn tag(shown: &str) -> String {
    let name = shown.strip_prefix('!').unwrap_or(shown);
    if name == "!" {
        "!".to_string()
    } else if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        format!("!{name}")
    } else {
        format!("!<{}>", name.replace(|c: char| c.is_whitespace() || matches!(c, '<' | '>'), ""))
    }
}

fn scalar(v: &Value, at: usize) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => float(f),
            None => n.to_string(),
        },
        Value::String(text) => string(text, at),
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => flow(v),
    }
}

/// A float as both YAML versions read it: `.inf`, `-.inf`, `.nan`, or digits with a dot and a signed exponent.
fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    let text = format!("{f:?}");
    match text.split_once('e') {
        Some((mantissa, exp)) => {
            let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
            let exp = if exp.starts_with('-') { exp.to_string() } else { format!("+{exp}") };
            format!("{mantissa}e{exp}")
        }
        None if text.contains('.') => text,
        None => format!("{text}.0"),
    }
}

fn string(text: &str, at: usize) -> String {
    if is_plain(text) {
        text.to_string()
    } else if text.contains('\n') && text.chars().all(|c| c == '\n' || printable_in_line(c)) && !has_hostile_lines(text)
    {
        literal(text, at)
    } else {
        quoted_line(text)
    }
}

/// Whether `text` may stand unquoted: no YAML reader, 1.1 or 1.2, takes it for anything but this string.
pub fn is_plain(text: &str) -> bool {
    const WORDS: [&str; 12] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "yaml"];
    let mut chars = text.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
    first_ok
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '/' | '-' | ' '))
        && !text.ends_with(' ')
        && !WORDS.contains(&text.to_ascii_lowercase().as_str())
}

/// A character that may appear as itself in a quoted or block scalar: printable, and no line break
/// under either version (YAML 1.1 also breaks lines at U+0085, U+2028 and U+2029) and no byte-order mark.
fn printable_in_line(c: char) -> bool {
    match c {
        '\t' | ' '..='~' => true,
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => false,
        _ => !c.is_control() && c != '\u{fffe}' && c != '\u{ffff}',
    }
}

/// Text a literal block would not carry exactly without an indentation indicator: its first line
/// with content starts with a space or a tab (or it has none; libyaml also refuses a leading tab). Such text is double-quoted instead.
fn has_hostile_lines(text: &str) -> bool {
    text.split('\n').find(|l| !l.is_empty()).is_none_or(|l| l.starts_with([' ', '\t']))
}

/// A literal block scalar: `|` keeps one final line break, `|-` none, `|+` them all.
fn literal(text: &str, at: usize) -> String {
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, at);
            out.push_str(line);
        }
    }
    out
}

/// One line, quoted: single quotes when every character is printable, double quotes with escapes otherwise.
fn quoted_line(text: &str) -> String {
    if text.chars().all(printable_in_line) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable_in_line(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) {
        let text = to_string(v);
        let back: Value = serde_norway::from_str(&text).unwrap_or(Value::String(format!("unreadable: {text}")));
        assert_eq!(&back, v, "YAML 1.2 read back differs:\n{text}");
    }

    #[test]
    fn strings_that_yaml_1_1_would_retype_are_quoted() {
        for word in
            ["on", "Yes", "OFF", "y", "N", "~", "null", "1_000", "0o17", "0x1F", "190:20:30", "2001-12-14", "<<", "="]
        {
            assert!(!is_plain(word), "{word}");
            assert!(to_string(&Value::String(word.into())).starts_with('\''), "{word}");
        }
        for word in ["mnesia", "console commands", "ejabberd_c2s", "/etc/xmpp/tls.crt", "alice@example.org", "mod_mam"]
        {
            assert!(is_plain(word), "{word}");
        }
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let texts = [
            "",
            " ",
            "a b",
            "it's",
            "line\n",
            "two\nlines",
            "keep\n\n",
            "\n lead",
            " lead\nx",
            "tab\tin",
            "\ttab\nx",
            "x\n\ttab\n",
            "x\n \n  y",
            "cr\r\nlf",
            "nul\0",
            "nel\u{85}x",
            "ls\u{2028}",
            "bom\u{feff}",
            "é ü ☃ 😀",
            "#c",
            "- x",
            "a: b",
            "[x]",
            "{x}",
            "*ref",
            "&a",
            "!tag",
            "%x",
            "@x",
            "`x",
            "\"q\"",
            "trail \nx",
            "--- x\n---\n",
            "...\n",
        ];
        for t in texts {
            round_trip(&Value::String(t.into()));
        }
        let floats = [0.5, 1.0, -2.0, 1e30, 1.5e-7, f64::INFINITY, f64::NEG_INFINITY];
        for f in floats {
            round_trip(&serde_norway::from_str(&format!("x: {}", float(f))).unwrap_or(Value::Null));
            assert!(float(f).contains('.'), "{f}");
        }
        let doc = "a:\n  b: [1, 2.5, true, null, 'on', {}]\n  c: {}\n  d: []\n? [k, 1]\n: v\nl:\n- - x\n  - y\n- {m: n}\n- t: !x 1\n- ! {a: b}\n- !<tag:x.org,2000:a> 1\n";
        let v: Value = serde_norway::from_str(doc).unwrap_or(Value::Null);
        assert_ne!(v, Value::Null);
        round_trip(&v);
    }
}
