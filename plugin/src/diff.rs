//! `diff`: what a change of the DSL means, in sentences, read from what it compiles to: each server's
//! config as that server reads it (ejabberd's YAML as data; Prosody's Lua by its sections and
//! assignments), the ports, and the secrets read. Both sides are chart values (`compiled: …`), so a
//! DSL file compares with another or with what a release was given. No value of a secret-looking
//! option is ever shown.

use serde_norway::{Mapping, Value};

/// The sentences that say how `new` differs from `old`, both chart values with a `compiled` mapping;
/// empty when nothing a server reads changes (the generated header line is not compared).
pub fn describe(old: &Value, new: &Value) -> Vec<String> {
    let (old, new) = (&old["compiled"], &new["compiled"]);
    let mut out = Vec::new();
    let file = |c: &Value, server: &str| {
        c["files"].as_sequence().into_iter().flatten().find(|f| f["server"] == server).map(|f| {
            let text = f["text"].as_str().unwrap_or("");
            // The first line names the source file and its hash: not what the server reads.
            text.split_once('\n').map_or("", |(_, rest)| rest).to_string()
        })
    };
    for server in ["ejabberd", "prosody"] {
        match (file(old, server), file(new, server)) {
            (None, Some(_)) => out.push(format!("{server}: now targeted")),
            (Some(_), None) => out.push(format!("{server}: no longer targeted")),
            (Some(a), Some(b)) if a != b => match server {
                "ejabberd" => ejabberd(&a, &b, &mut out),
                _ => prosody(&a, &b, &mut out),
            },
            _ => {}
        }
    }
    ports(&old["ports"], &new["ports"], &mut out);
    let (was, is) = (strings(&old["secretEnv"]), strings(&new["secretEnv"]));
    for name in is.iter().filter(|n| !was.contains(n)) {
        out.push(format!("secrets: now reads {name}"));
    }
    for name in was.iter().filter(|n| !is.contains(n)) {
        out.push(format!("secrets: no longer reads {name}"));
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// The listeners, told apart by port.
fn ports(old: &Value, new: &Value, out: &mut Vec<String>) {
    let list = |v: &Value| -> Vec<(u64, String)> {
        let seq = v.as_sequence().into_iter().flatten();
        seq.filter_map(|p| {
            Some((
                p["port"].as_u64()?,
                format!("{} {}, TLS {}", p["name"].as_str()?, p["kind"].as_str()?, p["tls"].as_str()?),
            ))
        })
        .collect()
    };
    let (was, is) = (list(old), list(new));
    for (port, what) in &is {
        match was.iter().find(|(p, _)| p == port) {
            None => out.push(format!("port {port} opened ({what})")),
            Some((_, before)) if before != what => out.push(format!("port {port}: {before} → {what}")),
            _ => {}
        }
    }
    for (port, what) in was.iter().filter(|(p, _)| !is.iter().any(|(q, _)| q == p)) {
        out.push(format!("port {port} closed ({what})"));
    }
}

// ---------------------------------------------------------------- ejabberd

fn ejabberd(old: &str, new: &str, out: &mut Vec<String>) {
    let parse = |t: &str| serde_norway::from_str::<Value>(t).unwrap_or(Value::Null);
    let (old, new) = (parse(old), parse(new));
    for (key, x, y) in entries(&old, &new) {
        let (x, y) = (x.unwrap_or(&NULL), y.unwrap_or(&NULL));
        match key.as_str() {
            "modules" => modules("ejabberd", x, y, out),
            "listen" => listeners(x, y, out),
            "host_config" => {
                for (host, x, y) in entries(x, y) {
                    let subject = format!("ejabberd on {host}");
                    for (k, x, y) in entries(x.unwrap_or(&NULL), y.unwrap_or(&NULL)) {
                        let (x, y) = (x.unwrap_or(&NULL), y.unwrap_or(&NULL));
                        if k == "modules" {
                            modules(&subject, x, y, out);
                        } else {
                            walk(&subject, &k, x, y, out);
                        }
                    }
                }
            }
            _ => walk("ejabberd", &key, x, y, out),
        }
    }
}

/// A `modules` mapping: a module added is enabled, one removed disabled, the options of the others compared.
fn modules(subject: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    for (m, x, y) in entries(old, new) {
        match (x, y) {
            (None, Some(_)) => out.push(format!("{subject}: {m} enabled")),
            (Some(_), None) => out.push(format!("{subject}: {m} disabled")),
            (Some(x), Some(y)) => walk(subject, &m, x, y, out),
            (None, None) => {}
        }
    }
}

/// ejabberd's `listen` list, told apart by port.
fn listeners(old: &Value, new: &Value, out: &mut Vec<String>) {
    let by_port = |v: &Value| -> Vec<(String, Value)> {
        v.as_sequence().into_iter().flatten().map(|l| (scalar(&l["port"]), l.clone())).collect()
    };
    let (was, is) = (by_port(old), by_port(new));
    for (port, l) in &is {
        match was.iter().find(|(p, _)| p == port) {
            None => out.push(format!("ejabberd: listener on port {port} added ({})", scalar(&l["module"]))),
            Some((_, before)) => walk("ejabberd", &format!("listener on port {port}"), before, l, out),
        }
    }
    for (port, l) in was.iter().filter(|(p, _)| !is.iter().any(|(q, _)| q == p)) {
        out.push(format!("ejabberd: listener on port {port} removed ({})", scalar(&l["module"])));
    }
}

/// What a missing value compares as.
static NULL: Value = Value::Null;

/// The entries of two mappings by key (a value that is no mapping has none): the old one's keys in its
/// order, then those only the new one has; `None` on the side that lacks the key.
fn entries<'a>(old: &'a Value, new: &'a Value) -> Vec<(String, Option<&'a Value>, Option<&'a Value>)> {
    let empty = Mapping::new();
    let (a, b) = (old.as_mapping().unwrap_or(&empty), new.as_mapping().unwrap_or(&empty));
    let mut keys: Vec<String> = a.keys().map(scalar).collect();
    keys.extend(b.keys().map(scalar).filter(|k| !a.contains_key(k.as_str())));
    keys.into_iter()
        .map(|k| {
            let (x, y) = (old.get(k.as_str()), new.get(k.as_str()));
            (k, x, y)
        })
        .collect()
}

/// Compares a value under `path`, descending into mappings; a list of scalars gains and loses members.
fn walk(subject: &str, path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Mapping(_), Value::Mapping(_)) => {
            for (k, x, y) in entries(old, new) {
                walk(subject, &format!("{path}.{k}"), x.unwrap_or(&NULL), y.unwrap_or(&NULL), out);
            }
        }
        (Value::Sequence(a), Value::Sequence(b)) if a.iter().chain(b).all(is_scalar) => {
            let (a, b): (Vec<String>, Vec<String>) = (a.iter().map(scalar).collect(), b.iter().map(scalar).collect());
            members(subject, path, &a, &b, out);
        }
        _ => out.push(change(subject, path, shown(old), shown(new))),
    }
}

/// A list's members gained and lost (a reordered list says so), unless it looks secret.
fn members(subject: &str, path: &str, old: &[String], new: &[String], out: &mut Vec<String>) {
    if hidden(path) || old.iter().chain(new).any(|v| hidden(v)) {
        out.push(format!("{subject}: {path} changed (value hidden)"));
        return;
    }
    let gained: Vec<&str> = new.iter().filter(|v| !old.contains(v)).map(String::as_str).collect();
    let lost: Vec<&str> = old.iter().filter(|v| !new.contains(v)).map(String::as_str).collect();
    if !gained.is_empty() {
        out.push(format!("{subject}: {path} gains {}", gained.join(", ")));
    }
    if !lost.is_empty() {
        out.push(format!("{subject}: {path} loses {}", lost.join(", ")));
    }
    if gained.is_empty() && lost.is_empty() {
        out.push(format!("{subject}: {path} reordered"));
    }
}

/// "subject: path: old → new", or set / removed when one side has nothing; a secret-looking option
/// only says that it changed.
fn change(subject: &str, path: &str, old: Option<String>, new: Option<String>) -> String {
    let last = path.rsplit(['.', ' ']).next().unwrap_or(path);
    let secret = hidden(last) || old.iter().chain(&new).any(|v| hidden(v));
    match (old, new) {
        _ if secret => format!("{subject}: {path} changed (value hidden)"),
        (None, Some(n)) => format!("{subject}: {path} set to {}", short(&n)),
        (Some(o), None) => format!("{subject}: {path} removed (was {})", short(&o)),
        (Some(o), Some(n)) => format!("{subject}: {path}: {} → {}", short(&o), short(&n)),
        (None, None) => format!("{subject}: {path} changed"),
    }
}

/// Options whose values may be secret, by their name or by a name inside the value: never printed.
fn hidden(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "cookie", "key"].iter().any(|w| name.contains(w))
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A value as one line; nothing for a missing one.
fn shown(v: &Value) -> Option<String> {
    if v.is_null() {
        return None;
    }
    Some(if is_scalar(v) { scalar(v) } else { serde_json::to_string(v).unwrap_or_default() })
}

fn short(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

// ---------------------------------------------------------------- Prosody

/// One section of a Prosody config: the global one, a `VirtualHost` or a `Component`.
struct Section {
    /// How sentences name it: `prosody`, `prosody on HOST`, `prosody component HOST (KIND)`.
    subject: String,
    /// `name = value` in order, the value with its blanks collapsed.
    options: Vec<(String, String)>,
    /// Any other line (a raw block's statements), blanks collapsed.
    lines: Vec<String>,
}

fn prosody(old: &str, new: &str, out: &mut Vec<String>) {
    let (was, is) = (sections(old), sections(new));
    for s in &is {
        match was.iter().find(|w| w.subject == s.subject) {
            None => out.push(format!("{}: added", s.subject)),
            Some(w) => prosody_section(w, s, out),
        }
    }
    for w in was.iter().filter(|w| !is.iter().any(|s| s.subject == w.subject)) {
        out.push(format!("{}: removed", w.subject));
    }
}

fn prosody_section(old: &Section, new: &Section, out: &mut Vec<String>) {
    let get = |s: &Section, k: &str| s.options.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut names: Vec<&String> = old.options.iter().map(|(n, _)| n).collect();
    names.extend(new.options.iter().map(|(n, _)| n).filter(|n| !old.options.iter().any(|(m, _)| m == *n)));
    for name in names {
        let (a, b) = (get(old, name), get(new, name));
        if a == b {
            continue;
        }
        match (a.as_deref().and_then(string_list), b.as_deref().and_then(string_list)) {
            (Some(x), Some(y)) if name.starts_with("modules_") => {
                let verb = if name == "modules_disabled" { ("disabled", "enabled") } else { ("enabled", "disabled") };
                for m in y.iter().filter(|m| !x.contains(m)) {
                    out.push(format!("{}: module {m} {}", new.subject, verb.0));
                }
                for m in x.iter().filter(|m| !y.contains(m)) {
                    out.push(format!("{}: module {m} {}", new.subject, verb.1));
                }
            }
            (Some(x), Some(y)) => members(&new.subject, name, &x, &y, out),
            _ => out.push(change(&new.subject, name, a, b)),
        }
    }
    let line = |l: &String| if hidden(l) { "(hidden)".to_string() } else { short(l) };
    for l in new.lines.iter().filter(|l| !old.lines.contains(l)) {
        out.push(format!("{}: line added: {}", new.subject, line(l)));
    }
    for l in old.lines.iter().filter(|l| !new.lines.contains(l)) {
        out.push(format!("{}: line removed: {}", new.subject, line(l)));
    }
}

/// The strings of a Lua table that holds nothing else (`{ "a"; "b" }`, `{ "a", "b" }`).
fn string_list(value: &str) -> Option<Vec<String>> {
    let inner = value.trim().strip_prefix('{')?.strip_suffix('}')?;
    inner
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.strip_prefix('"')?.strip_suffix('"').map(str::to_string))
        .collect()
}

/// The sections of a Prosody config as the compiler writes it: a `VirtualHost "h"` or
/// `Component "h" "kind"` line opens one; `name = value` assignments, a value running on while its
/// braces are open; `--` comments skipped.
fn sections(text: &str) -> Vec<Section> {
    let mut all = vec![Section { subject: "prosody".to_string(), options: Vec::new(), lines: Vec::new() }];
    let mut pending: Option<(String, String, i64)> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some((name, mut value, depth)) = pending.take() {
            value.push(' ');
            value.push_str(t);
            let depth = depth + braces(t);
            if depth > 0 {
                pending = Some((name, value, depth));
            } else if let Some(s) = all.last_mut() {
                s.options.push((name, collapse(&value)));
            }
            continue;
        }
        if t.is_empty() || t.starts_with("--") {
            continue;
        }
        let quoted: Vec<&str> = t.split('"').skip(1).step_by(2).collect();
        if let Some(rest) = t.strip_prefix("VirtualHost ") {
            let host = quoted.first().copied().unwrap_or(rest);
            all.push(Section { subject: format!("prosody on {host}"), options: Vec::new(), lines: Vec::new() });
        } else if t.starts_with("Component ") {
            let subject = match quoted.as_slice() {
                [host, kind, ..] => format!("prosody component {host} ({kind})"),
                [host] => format!("prosody component {host}"),
                [] => format!("prosody {t}"),
            };
            all.push(Section { subject, options: Vec::new(), lines: Vec::new() });
        } else if let Some((name, value)) = assignment(t) {
            let depth = braces(value);
            if depth > 0 {
                pending = Some((name.to_string(), value.to_string(), depth));
            } else if let Some(s) = all.last_mut() {
                s.options.push((name.to_string(), collapse(value)));
            }
        } else if let Some(s) = all.last_mut() {
            s.lines.push(collapse(t));
        }
    }
    all
}

/// `name = value` with a Lua name on the left.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let lua_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    (lua_name && !value.starts_with('=')).then_some((name, value.trim()))
}

/// How many more braces a line opens than it closes, outside strings.
fn braces(line: &str) -> i64 {
    let (mut depth, mut quoted) = (0, false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            _ => {}
        }
    }
    depth
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(files: &[(&str, &str)], ports: &str, secrets: &[&str]) -> Value {
        let files: Vec<Value> = files
            .iter()
            .map(|(server, text)| {
                serde_norway::from_str(&format!(
                    "{{server: {server}, name: x, text: {}}}",
                    serde_json::to_string(&format!("# header\n{text}")).unwrap_or_default()
                ))
                .unwrap_or(Value::Null)
            })
            .collect();
        let mut compiled = Mapping::new();
        compiled.insert("files".into(), Value::Sequence(files));
        compiled.insert("ports".into(), serde_norway::from_str(ports).unwrap_or(Value::Null));
        compiled.insert("secretEnv".into(), Value::Sequence(secrets.iter().map(|s| Value::from(*s)).collect()));
        let mut root = Mapping::new();
        root.insert("compiled".into(), Value::Mapping(compiled));
        Value::Mapping(root)
    }

    #[test]
    fn ejabberd_changes_read_as_sentences() {
        let old = values(
            &[(
                "ejabberd",
                "hosts: [a.example]\nloglevel: info\nsql_password: S1\nlisten:\n- {port: 5222, module: ejabberd_c2s, starttls_required: true}\nmodules:\n  mod_mam: {default: roster}\n  mod_ping: {}\n",
            )],
            "[{name: c2s, kind: client, tls: required, port: 5222}]",
            &["A"],
        );
        let new = values(
            &[(
                "ejabberd",
                "hosts: [a.example, b.example]\nloglevel: debug\nsql_password: S2\nlisten:\n- {port: 5222, module: ejabberd_c2s, starttls_required: false}\n- {port: 5223, module: ejabberd_c2s}\nmodules:\n  mod_mam: {default: always}\n  mod_carbons: {}\nhost_config:\n  b.example:\n    modules: {mod_muc: {}}\n",
            )],
            "[{name: c2s, kind: client, tls: optional, port: 5222}, {name: tls, kind: client, tls: direct, port: 5223}]",
            &["B"],
        );
        let said = describe(&old, &new);
        let want = [
            "ejabberd: hosts gains b.example",
            "ejabberd: loglevel: info → debug",
            "ejabberd: sql_password changed (value hidden)",
            "ejabberd: listener on port 5222.starttls_required: true → false",
            "ejabberd: listener on port 5223 added (ejabberd_c2s)",
            "ejabberd: mod_mam.default: roster → always",
            "ejabberd: mod_ping disabled",
            "ejabberd: mod_carbons enabled",
            "ejabberd on b.example: mod_muc enabled",
            "port 5222: c2s client, TLS required → c2s client, TLS optional",
            "port 5223 opened (tls client, TLS direct)",
            "secrets: now reads B",
            "secrets: no longer reads A",
        ];
        assert_eq!(said, want);
        assert!(!said.iter().any(|s| s.contains("S1") || s.contains("S2")));
        assert!(describe(&old, &old).is_empty());
    }

    #[test]
    fn prosody_changes_read_as_sentences() {
        let old = values(
            &[(
                "prosody",
                "modules_enabled = {\n\t\"roster\";\n\t\"mam\";\n}\nsql = { password = \"p1\" }\n\nVirtualHost \"a.example\"\n\tarchive_expires_after = \"1y\"\n\tadmins = { \"x@a.example\" }\n\nComponent \"muc.a.example\" \"muc\"\n",
            )],
            "[]",
            &[],
        );
        let new = values(
            &[(
                "prosody",
                "modules_enabled = {\n\t\"roster\";\n\t\"carbons\";\n}\nsql = { password = \"p2\" }\n\nVirtualHost \"a.example\"\n\tarchive_expires_after = \"30d\"\n\tadmins = { \"x@a.example\", \"y@a.example\" }\n\nVirtualHost \"b.example\"\n",
            )],
            "[]",
            &[],
        );
        let said = describe(&old, &new);
        let want = [
            "prosody: module carbons enabled",
            "prosody: module mam disabled",
            "prosody: sql changed (value hidden)",
            "prosody on a.example: archive_expires_after: \"1y\" → \"30d\"",
            "prosody on a.example: admins gains y@a.example",
            "prosody on b.example: added",
            "prosody component muc.a.example (muc): removed",
        ];
        assert_eq!(said, want);
        assert!(!said.iter().any(|s| s.contains("p1") || s.contains("p2")));
    }

    #[test]
    fn a_server_coming_or_going_is_said_once() {
        let old = values(&[("ejabberd", "hosts: [a]\n")], "[]", &[]);
        let new = values(&[("prosody", "log = {}\n")], "[]", &[]);
        assert_eq!(describe(&old, &new), ["ejabberd: no longer targeted", "prosody: now targeted"]);
    }
}
