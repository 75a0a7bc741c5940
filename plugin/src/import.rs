//! `import`: an existing ejabberd.yml as a DSL file. What the language expresses becomes statements;
//! the rest is kept, as written, in the `ejabberd { }` block, each kept option named in a comment. The
//! result is checked by compiling it: an option the statements render otherwise than the original
//! has it is kept as written too, so the imported file gives the server what the original did. A
//! secret becomes an `env("…")` reference (never a literal in the file), named in the report.

use serde_norway::{Mapping, Value};
use xmpp_compiler::facts::FEATURES;

use crate::{Error, Result};

pub mod prosody;

/// An imported config.
#[derive(Debug, Default)]
pub struct Imported {
    pub dsl: String,
    /// The original's options (top-level keys; each module of `modules` on its own) the statements
    /// render as the original has them.
    pub mapped: Vec<String>,
    /// The options kept as written in the raw block.
    pub kept: Vec<String>,
    /// `(variable, option)`: the environment variables to put in the Secret, and the option each replaces.
    pub secrets: Vec<(String, String)>,
    /// Options whose value looks secret and the language has no reference for: left out of the file.
    pub left_out: Vec<String>,
    /// Options the compiled config has and the original does not (the language's own defaults).
    pub added: Vec<String>,
    /// Lines kept as written that name other files (Prosody's `Include`, `RunScript`), not followed.
    pub unread: Vec<String>,
}

/// The environment variable an imported SQL storage reads its password from.
const DB_PASSWORD: &str = "XMPP_DB_PASSWORD";

/// Imports an ejabberd.yml. `compile` turns a DSL text into the ejabberd.yml it compiles to (`None`
/// when it has errors).
pub fn ejabberd(text: &str, compile: &mut dyn FnMut(&str) -> Result<Option<String>>) -> Result<Imported> {
    let original: Value =
        serde_norway::from_str(text).map_err(|e| Error::new(format!("not YAML that ejabberd reads: {e}")))?;
    let Some(original) = original.as_mapping().cloned() else {
        return Err(Error::new("not an ejabberd.yml: its top level is not a mapping of options"));
    };
    let options = options(&original);
    let mut kept: Vec<String> = Vec::new();
    let mut level = Level::All;
    for _ in 0..5 {
        let (dsl, raw, secrets, left_out) = render(&original, &kept, level);
        let Some(compiled) = compile(&dsl)? else {
            // The statements do not compile (a value out of the language's range): fewer of them.
            level = match level {
                Level::All => Level::NoListeners,
                Level::NoListeners => Level::Domains,
                Level::Domains => {
                    return Err(Error::new(
                        "the imported file does not compile even with every option kept as written",
                    ));
                }
            };
            continue;
        };
        let compiled: Mapping = serde_norway::from_str(&compiled).unwrap_or_default();
        let differ: Vec<String> = options
            .iter()
            .filter(|o| !kept.contains(o) && value(&compiled, o) != value(&original, o))
            .cloned()
            .collect();
        if differ.is_empty() {
            let mapped = options.iter().filter(|o| !raw.contains(o) && !left_out.contains(o)).cloned().collect();
            let added = self::options(&compiled).into_iter().filter(|o| !options.contains(o)).collect();
            return Ok(Imported { dsl, mapped, kept: raw, secrets, left_out, added, unread: vec![] });
        }
        kept.extend(differ);
    }
    Err(Error::new("the import did not settle: the compiled config keeps changing"))
}

/// The options of a config: its top-level keys, and each module of `modules` as `modules.NAME`.
fn options(config: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in config {
        let Some(k) = k.as_str() else { continue };
        match v.as_mapping() {
            Some(modules) if k == "modules" => {
                out.extend(modules.keys().filter_map(Value::as_str).map(|m| format!("modules.{m}")));
            }
            _ => out.push(k.to_string()),
        }
    }
    out
}

fn value<'a>(config: &'a Mapping, option: &str) -> Option<&'a Value> {
    match option.strip_prefix("modules.") {
        Some(m) => config.get("modules")?.as_mapping()?.get(m),
        None => config.get(option),
    }
}

/// How much of the original becomes statements: all the language expresses; all but the listeners;
/// only the domains (which a DSL file needs), the rest kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    All,
    NoListeners,
    Domains,
}

/// Options that hold secrets, by their name (`sql_password`, `external_secret`, …; not
/// `auth_password_format`).
fn secret(option: &str) -> bool {
    let last = option.rsplit('.').next().unwrap_or(option);
    ["password", "secret", "_pass"].iter().any(|w| last.ends_with(w))
}

/// `value` without the entries whose names say they hold secrets, at any depth; each one left out is
/// added to `left_out` by its path under `path`.
fn without_secrets(value: &Value, path: &str, left_out: &mut Vec<String>) -> Value {
    match value {
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .filter_map(|(k, v)| {
                    let name = format!("{path}.{}", k.as_str().unwrap_or_default());
                    if secret(&name) {
                        left_out.push(name);
                        return None;
                    }
                    Some((k.clone(), without_secrets(v, &name, left_out)))
                })
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.iter().map(|v| without_secrets(v, path, left_out)).collect()),
        other => other.clone(),
    }
}

/// The DSL text: statements for what the language expresses (unless `statements` is false), and the
/// raw block with the options kept as written (those in `kept`, and those no statement renders); with
/// the options in the raw block, the secrets referenced, and the secrets left out.
type Rendered = (String, Vec<String>, Vec<(String, String)>, Vec<String>);
fn render(original: &Mapping, kept: &[String], level: Level) -> Rendered {
    let statements = level != Level::Domains;
    let get = |k: &str| original.get(k);
    let str_of = |k: &str| get(k).and_then(Value::as_str);
    let mut out = String::from(
        "# Imported from ejabberd.yml by `helm xmpp import`: what the language expresses as statements; the\n\
         # `ejabberd { }` block at the end keeps the rest as written.\n\
         targets ejabberd >= 23.01\n",
    );
    let mut secrets = Vec::new();
    let mut rendered: Vec<String> = Vec::new();
    let hosts: Vec<&str> =
        get("hosts").and_then(Value::as_sequence).into_iter().flatten().filter_map(Value::as_str).collect();
    if statements {
        if let Some(log) = str_of("loglevel").filter(|l| ["debug", "info", "warning", "error"].contains(l)) {
            out.push_str(&format!("log {log}\n"));
            rendered.push("loglevel".into());
        }
        if let Some([crt, key]) = get("certfiles").and_then(Value::as_sequence).map(Vec::as_slice)
            && let (Some(crt), Some(key)) = (crt.as_str(), key.as_str())
        {
            out.push_str(&format!("certificate {} key {}\n", quote(crt), quote(key)));
            rendered.push("certfiles".into());
        }
        if str_of("default_db") == Some("sql") {
            let driver = match str_of("sql_type") {
                Some("pgsql") => Some("postgres"),
                Some("mysql") => Some("mysql"),
                _ => None,
            };
            if let Some(driver) = driver {
                let mut settings = Vec::new();
                for (option, key) in [("sql_server", "host"), ("sql_database", "database"), ("sql_username", "user")] {
                    if let Some(v) = str_of(option) {
                        settings.push(format!("{key} {}", quote(v)));
                    }
                }
                if let Some(port) = get("sql_port").and_then(Value::as_u64) {
                    settings.push(format!("port {port}"));
                }
                if get("sql_password").is_some() {
                    settings.push(format!("password env({})", quote(DB_PASSWORD)));
                    secrets.push((DB_PASSWORD.to_string(), "sql_password".to_string()));
                }
                out.push_str(&format!("storage {driver} {{ {} }}\n", settings.join("; ")));
            }
        }
        let scram = match str_of("auth_scram_hash") {
            Some("sha256") => " { scram sha-256 }",
            Some("sha512") => " { scram sha-512 }",
            _ => "",
        };
        match get("auth_method").and_then(Value::as_sequence).map(Vec::as_slice) {
            Some([m]) if m.as_str() == Some("mnesia") || m.as_str() == Some("internal") => {
                out.push_str(&format!("auth internal{scram}\n"));
            }
            Some([m]) if m.as_str() == Some("sql") => out.push_str(&format!("auth sql{scram}\n")),
            _ => {}
        }
    }
    let modules = get("modules").and_then(Value::as_mapping);
    let has = |m: &str| modules.is_some_and(|ms| ms.contains_key(m));
    for host in &hosts {
        let mut items = Vec::new();
        if statements {
            let features: Vec<&str> = FEATURES
                .iter()
                .filter(|f| !f.ejabberd.is_empty() && f.ejabberd.iter().all(|m| has(m)))
                .map(|f| f.name)
                .collect();
            if !features.is_empty() {
                items.push(format!("features {}", features.join(", ")));
            }
            if let Some(mam) = modules.and_then(|ms| ms.get("mod_mam")) {
                match mam.get("default").and_then(Value::as_str) {
                    Some(policy @ ("always" | "roster" | "never")) => {
                        items.push(format!("archive {{ default {policy} }}"))
                    }
                    _ => items.push("archive on".to_string()),
                }
            }
            for (module, statement) in [
                ("mod_muc", "groupchat \"conference\""),
                ("mod_http_upload", "upload \"upload\""),
                ("mod_pubsub", "pubsub \"pubsub\""),
                ("mod_proxy65", "proxy \"proxy\""),
            ] {
                if has(module) {
                    items.push(statement.to_string());
                }
            }
        }
        out.push_str(&format!("\ndomain {} {{\n", quote(host)));
        for i in items {
            out.push_str(&format!("  {i}\n"));
        }
        out.push_str("}\n");
    }
    if level == Level::All {
        out.push_str(&listeners(get("listen")));
    }
    // The raw block: every option no statement rendered, and those kept.
    let mut raw = Mapping::new();
    let mut raw_modules = Mapping::new();
    let mut left_out = Vec::new();
    let mut names = Vec::new();
    for option in options(original) {
        let by_statement = option == "hosts" || (statements && statement_renders(&option, &rendered, level));
        if by_statement && !kept.contains(&option) {
            continue;
        }
        if secret(&option) {
            if !secrets.iter().any(|(_, o)| *o == option) {
                left_out.push(option);
            }
            continue;
        }
        let Some(v) = value(original, &option) else { continue };
        let v = &without_secrets(v, &option, &mut left_out);
        match option.strip_prefix("modules.") {
            Some(m) => _ = raw_modules.insert(m.into(), v.clone()),
            None => _ = raw.insert(option.clone().into(), v.clone()),
        }
        names.push(option);
    }
    if !raw_modules.is_empty() {
        raw.insert("modules".into(), Value::Mapping(raw_modules));
    }
    if !raw.is_empty() {
        out.push_str("\n# Kept as written (the language does not express them, or renders them otherwise):\n");
        for chunk in names.chunks(6) {
            out.push_str(&format!("#   {}\n", chunk.join(", ")));
        }
        let yaml = serde_norway::to_string(&Value::Mapping(raw)).unwrap_or_default();
        out.push_str("ejabberd {\n");
        for line in yaml.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("}\n");
    }
    for option in &left_out {
        out.push_str(&format!(
            "# {option}: a secret, left out; set it through the chart's Secret and a raw block of your own\n"
        ));
    }
    (out, names, secrets, left_out)
}

/// Whether the statements write `option` at all (then it is compared; else it goes to the raw block).
fn statement_renders(option: &str, rendered: &[String], level: Level) -> bool {
    rendered.iter().any(|r| r == option)
        || option.starts_with("modules.")
        || (option == "listen" && level == Level::All)
        || [
            "hosts",
            "auth_method",
            "auth_scram_hash",
            "auth_password_format",
            "default_db",
            "sql_type",
            "sql_server",
            "sql_port",
            "sql_database",
            "sql_username",
            "sql_password",
        ]
        .contains(&option)
}

/// `listen` statements for the listeners the language has: client (c2s), federation (s2s) and http.
fn listeners(listen: Option<&Value>) -> String {
    let mut out = String::new();
    for l in listen.and_then(Value::as_sequence).into_iter().flatten() {
        let Some(port) = l.get("port").and_then(Value::as_u64) else { continue };
        let on = match l.get("ip").and_then(Value::as_str) {
            Some(ip) if ip != "0.0.0.0" && ip != "::" => format!(" on {ip}"),
            _ => String::new(),
        };
        let tls = |l: &Value| {
            if l.get("tls").and_then(Value::as_bool) == Some(true) {
                "direct"
            } else if l.get("starttls_required").and_then(Value::as_bool) == Some(true) {
                "required"
            } else {
                "optional"
            }
        };
        match l.get("module").and_then(Value::as_str) {
            Some("ejabberd_c2s") => out.push_str(&format!("listen client {port}{on} {{ tls {} }}\n", tls(l))),
            Some("ejabberd_s2s_in") => out.push_str(&format!("listen federation {port}{on}\n")),
            Some("ejabberd_http") => {
                let mut items = Vec::new();
                if l.get("tls").and_then(Value::as_bool) == Some(true) {
                    items.push("tls direct".to_string());
                }
                for (path, handler) in l.get("request_handlers").and_then(Value::as_mapping).into_iter().flatten() {
                    let (Some(path), Some(handler)) = (path.as_str(), handler.as_str()) else { continue };
                    match handler {
                        "ejabberd_http_ws" => items.push(format!("websocket {}", quote(path))),
                        "mod_bosh" => items.push(format!("bosh {}", quote(path))),
                        "mod_http_upload" => items.push(format!("upload {}", quote(path))),
                        _ => {}
                    }
                }
                out.push_str(&format!("listen http {port}{on} {{ {} }}\n", items.join("; ")));
            }
            _ => {}
        }
    }
    if out.is_empty() { out } else { format!("\n{out}") }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\t', "\\t"))
}
