//! `import` of a prosody.cfg.lua: the config is read as data (`xmpp_compiler::lua_config`: options
//! per section, as Prosody's loader sets them; code is refused at its place). Its virtual hosts become
//! `domain` statements, with their certificate and admins; the listeners, SQL storage, and the
//! groupchat and upload components become statements too. The result is compiled and read back the
//! same way, and compared option by option, section by section: an option the compiled file sets
//! otherwise is kept as written in the `prosody { }` block (which Prosody reads after the global
//! options the statements render, and which re-enters a host or component to set its options there);
//! an option the compiled file sets and the original did not is unset there (`name = nil`: Prosody's
//! own default, as in the original); a host or component whose statements render it otherwise loses
//! them and is kept whole. Literal secrets become `ENV_` references named in the report.

use std::collections::BTreeSet;

use xmpp_compiler::facts;
use xmpp_compiler::lua_config::{self, Config, IMPLIED, Key, Kind, Section, Setting, Value, render as lua};

use super::{Imported, quote, secret};
use crate::{Error, Result};

/// The header of an imported file.
const HEADER: &str = "# Imported from prosody.cfg.lua by `helm xmpp import`: what the language expresses as statements;\n\
                      # the `prosody { }` block at the end keeps the rest as written.\n\
                      targets prosody >= 0.12\n";

/// What the statements cover: all of them or only the domains; the sections kept whole; and the
/// options, by section, the raw block writes.
#[derive(Default)]
struct Plan {
    domains_only: bool,
    whole: BTreeSet<String>,
    kept: BTreeSet<(String, String)>,
}

/// Imports a prosody.cfg.lua. `compile` turns a DSL text into the prosody.cfg.lua it compiles to
/// (`None` when it has errors).
pub fn import(text: &str, compile: &mut dyn FnMut(&str) -> Result<Option<String>>) -> Result<Imported> {
    let original = lua_config::read(text).map_err(|e| {
        let (line, col) = crate::report::line_col(text, e.offset);
        Error::new(format!("{line}:{col}: {}", e.message))
    })?;
    if !original.sections.iter().any(|s| s.kind == Kind::Host) {
        return Err(Error::new(
            "declares no VirtualHost, and a DSL file needs a domain: import the file that declares the hosts (an `Include` is not followed)",
        ));
    }
    let mut secrets = Vec::new();
    let want = with_references(&original, &mut secrets);
    let mut plan = Plan::default();
    for _ in 0..16 {
        let dsl = render(&want, &plan);
        let Some(compiled) = compile(&dsl)? else {
            // The statements do not compile (a value out of the language's range): fewer of them,
            // the components' first, then all but the domains.
            let rendered: Vec<String> =
                want.sections.iter().filter(|c| renders(&want, &plan, &c.name)).map(|c| c.name.clone()).collect();
            if plan.domains_only {
                return Err(Error::new("the imported file does not compile even with every option kept as written"));
            } else if !rendered.is_empty() {
                plan.whole.extend(rendered);
            } else {
                plan = Plan { domains_only: true, ..Plan::default() };
            }
            continue;
        };
        let compiled = lua_config::read(&compiled)
            .map_err(|e| Error::new(format!("the compiled prosody.cfg.lua does not read back: {}", e.message)))?;
        let differ = differences(&want, &compiled);
        if differ.is_empty() {
            return Ok(report(&want, &plan, dsl, secrets));
        }
        let mut changed = false;
        let rendered: BTreeSet<String> =
            want.sections.iter().filter(|c| renders(&want, &plan, &c.name)).map(|c| c.name.clone()).collect();
        for (section, option) in differ {
            // A host or component the statements render keeps its options there only if the compiled
            // file does not set them (its sections come after the raw block): else it is kept whole.
            let set = compiled.section(&section).is_some_and(|s| s.get(&option).is_some());
            if section != "*" && set && !plan.domains_only && rendered.contains(&section) {
                changed |= plan.whole.insert(section);
            } else {
                changed |= plan.kept.insert((section, option));
            }
        }
        if !changed {
            if plan.domains_only {
                return Err(Error::new("the imported file does not give Prosody what the original did"));
            }
            plan = Plan { domains_only: true, ..Plan::default() };
        }
    }
    Err(Error::new("the import did not settle: the compiled config keeps changing"))
}

/// `config` with each literal secret (an option or table entry named `…password`, `…secret`, `…_pass`)
/// replaced by an environment reference; the references, new and already there, in `secrets`.
fn with_references(config: &Config, secrets: &mut Vec<(String, String)>) -> Config {
    let mut out = config.clone();
    for section in &mut out.sections {
        let scope = if section.name == "*" { String::new() } else { format!("{}_", section.name) };
        for s in &mut section.settings {
            let before = s.value.clone();
            let label = if scope.is_empty() { s.name.clone() } else { format!("{}: {}", section.name, s.name) };
            // The global `sql` table's password is the one the storage statement references.
            let var = if scope.is_empty() && s.name == "sql" {
                super::DB_PASSWORD.trim_end_matches("_PASSWORD").to_string()
            } else {
                variable(&format!("XMPP_{scope}{}", s.name))
            };
            s.value = reference(&s.value, secret(&s.name), &var, &label, secrets);
            if s.value != before {
                s.text = None;
            }
        }
    }
    out
}

fn reference(v: &Value, is_secret: bool, var: &str, label: &str, secrets: &mut Vec<(String, String)>) -> Value {
    match v {
        Value::Str(_) if is_secret => {
            let name = if !secrets.iter().any(|(n, _)| n == var) {
                var.to_string()
            } else {
                format!("{var}_{}", secrets.len() + 1)
            };
            secrets.push((name.clone(), label.to_string()));
            Value::Env(name)
        }
        Value::Env(name) => {
            secrets.push((name.clone(), label.to_string()));
            v.clone()
        }
        Value::Table(entries) => Value::Table(
            entries
                .iter()
                .map(|(k, x)| match k {
                    Key::Name(n) => {
                        let inner = variable(&format!("{var}_{n}"));
                        (k.clone(), reference(x, secret(n), &inner, &format!("{label}.{n}"), secrets))
                    }
                    Key::Index(_) => (k.clone(), reference(x, false, var, label, secrets)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An environment variable's name: upper case, `_` for anything but letters and digits.
fn variable(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// The global option `name` as Prosody (0.12 and 13.0) has it when `global` leaves it unset, for the
/// options the statements render (`tests/import.rs` finds each in both releases' sources);
/// `c2s_require_encryption` follows the older `require_encryption`, as mod_saslauth reads it.
fn default(name: &str, global: &Section) -> Option<Value> {
    let ports =
        |list: &[i64]| Value::Table(list.iter().zip(1..).map(|(p, i)| (Key::Index(i), Value::Int(*p))).collect());
    Some(match name {
        "authentication" => Value::Str("internal_hashed".into()),
        "c2s_ports" => ports(&[5222]),
        "s2s_ports" => ports(&[5269]),
        "c2s_direct_tls_ports" | "s2s_direct_tls_ports" => ports(&[]),
        "c2s_require_encryption" => match global.get("require_encryption").map(|s| &s.value) {
            Some(Value::Bool(b)) => Value::Bool(*b),
            _ => Value::Bool(true),
        },
        "s2s_require_encryption" => Value::Bool(true),
        _ => return None,
    })
}

/// The `(section, option)` pairs set otherwise in `got` than in `want` (or in one only; a global
/// option `want` leaves unset counts with Prosody's default). A component's module counts as its
/// option `component_module`.
fn differences(want: &Config, got: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let empty = |name: &str| Section { name: name.to_string(), kind: Kind::Host, settings: vec![], kept: vec![] };
    let mut names: Vec<&str> = want.sections.iter().map(|s| s.name.as_str()).collect();
    names.extend(got.sections.iter().map(|s| s.name.as_str()).filter(|n| want.section(n).is_none()));
    for name in names {
        let (w, g) = (want.section(name).cloned().unwrap_or_else(|| empty(name)), got.section(name).cloned());
        let g = g.unwrap_or_else(|| empty(name));
        let mut options: Vec<&str> = w.settings.iter().map(|s| s.name.as_str()).collect();
        options.extend(g.settings.iter().map(|s| s.name.as_str()).filter(|o| w.get(o).is_none()));
        for option in options {
            let unset = || if name == "*" { default(option, &w) } else { None };
            let wanted = w.get(option).map(|s| s.value.clone()).or_else(unset);
            if wanted.as_ref() != g.get(option).map(|s| &s.value) {
                out.push((name.to_string(), option.to_string()));
            }
        }
    }
    out
}

/// Whether statements (other than the bare `domain`) render section `name` under `plan`.
fn renders(want: &Config, plan: &Plan, name: &str) -> bool {
    !plan.whole.contains(name) && (!domain_items(want, name).is_empty() || component(want, name).is_some())
}

/// The statements inside `domain "host" { }` for what the host section sets: certificate, admins.
fn domain_items(want: &Config, host: &str) -> Vec<String> {
    let Some(s) = want.section(host).filter(|s| s.kind == Kind::Host) else { return vec![] };
    let mut items = Vec::new();
    if let Some((crt, key)) = certificate(s) {
        items.push(format!("certificate {} key {}", quote(&crt), quote(&key)));
    }
    if let Some(Value::Table(admins)) = s.get("admins").map(|a| &a.value)
        && !admins.is_empty()
        && admins.iter().all(|(k, v)| matches!((k, v), (Key::Index(_), Value::Str(_))))
    {
        let jids: Vec<String> =
            admins.iter().filter_map(|(_, v)| if let Value::Str(j) = v { Some(quote(j)) } else { None }).collect();
        items.push(format!("admins {}", jids.join(", ")));
    }
    items
}

/// `ssl = { certificate = "…"; key = "…" }` and nothing else in it.
fn certificate(s: &Section) -> Option<(String, String)> {
    let Some(Value::Table(entries)) = s.get("ssl").map(|x| &x.value) else { return None };
    let field = |name: &str| {
        entries.iter().find_map(|(k, v)| match (k, v) {
            (Key::Name(n), Value::Str(x)) if n == name => Some(x.clone()),
            _ => None,
        })
    };
    (entries.len() == 2).then(|| Some((field("certificate")?, field("key")?))).flatten()
}

/// The statement a component section becomes inside its parent's `domain` block, with that parent:
/// `groupchat "sub"` (muc) or `upload "sub"` (http_file_share) for `sub.host` where `host` is a
/// virtual host of the config.
fn component(want: &Config, name: &str) -> Option<(String, String)> {
    let s = want.section(name).filter(|s| s.kind == Kind::Component)?;
    let statement = match s.get("component_module").map(|m| &m.value) {
        Some(Value::Str(m)) if m == facts::GROUPCHAT.prosody => "groupchat",
        Some(Value::Str(m)) if m == facts::UPLOAD.prosody => "upload",
        _ => return None,
    };
    let (sub, host) = name.split_once('.')?;
    want.section(host).filter(|h| h.kind == Kind::Host)?;
    Some((host.to_string(), format!("{statement} {}", quote(sub))))
}

/// The DSL text for `want` under `plan`.
fn render(want: &Config, plan: &Plan) -> String {
    let mut out = String::from(HEADER);
    let global = &want.sections[0];
    if !plan.domains_only {
        out.push_str(&storage(global));
        let uploads = want.sections.iter().any(|c| {
            !plan.whole.contains(&c.name) && component(want, &c.name).is_some_and(|(_, s)| s.starts_with("upload"))
        });
        out.push_str(&listeners(global, uploads));
    }
    for host in want.sections.iter().filter(|s| s.kind == Kind::Host) {
        let mut items = Vec::new();
        if !plan.domains_only && !plan.whole.contains(&host.name) {
            items = domain_items(want, &host.name);
        }
        if !plan.domains_only {
            for c in want.sections.iter().filter(|c| !plan.whole.contains(&c.name)) {
                if let Some((parent, statement)) = component(want, &c.name)
                    && parent == host.name
                {
                    items.push(statement);
                }
            }
        }
        out.push_str(&format!("\ndomain {} {{", quote(&host.name)));
        for i in &items {
            out.push_str(&format!("\n  {i}"));
        }
        out.push_str(if items.is_empty() { "}\n" } else { "\n}\n" });
    }
    out.push_str(&raw(want, plan));
    out
}

/// `storage postgres { … }` (or mysql) for `storage = "sql"` with a PostgreSQL or MySQL `sql` table.
fn storage(global: &Section) -> String {
    let (Some(Value::Str(kind)), Some(Value::Table(sql))) =
        (global.get("storage").map(|s| &s.value), global.get("sql").map(|s| &s.value))
    else {
        return String::new();
    };
    let field = |name: &str| sql.iter().find(|(k, _)| *k == Key::Name(name.into())).map(|(_, v)| v);
    let driver = match field("driver") {
        Some(Value::Str(d)) if d == "PostgreSQL" => "postgres",
        Some(Value::Str(d)) if d == "MySQL" => "mysql",
        _ => return String::new(),
    };
    if kind != "sql" {
        return String::new();
    }
    let mut settings = Vec::new();
    for (option, key) in [("host", "host"), ("database", "database"), ("username", "user")] {
        if let Some(Value::Str(v)) = field(option) {
            settings.push(format!("{key} {}", quote(v)));
        }
    }
    if let Some(Value::Int(port)) = field("port") {
        settings.push(format!("port {port}"));
    }
    if let Some(Value::Env(var)) = field("password") {
        settings.push(format!("password env({})", quote(var)));
    }
    format!("storage {driver} {{ {} }}\n", settings.join("; "))
}

/// `listen` statements for the ports Prosody listens on: client (`c2s_ports`, 5222 when unset; direct
/// TLS on `c2s_direct_tls_ports`), federation (`s2s_ports`, 5269 when unset), and `http_ports` when set.
fn listeners(global: &Section, uploads: bool) -> String {
    // What the config sets, or Prosody's default.
    let effective = |option: &str| global.get(option).map(|s| s.value.clone()).or_else(|| default(option, global));
    let ports = |option: &str| -> Vec<i64> {
        match effective(option) {
            Some(Value::Table(entries)) => {
                entries.iter().filter_map(|(_, v)| if let Value::Int(p) = v { Some(*p) } else { None }).collect()
            }
            Some(Value::Int(p)) => vec![p],
            _ => vec![],
        }
    };
    let required = effective("c2s_require_encryption") != Some(Value::Bool(false));
    let mut out = String::new();
    for p in ports("c2s_ports") {
        out.push_str(&format!("listen client {p} {{ tls {} }}\n", if required { "required" } else { "optional" }));
    }
    for p in ports("c2s_direct_tls_ports") {
        out.push_str(&format!("listen client {p} {{ tls direct }}\n"));
    }
    for p in ports("s2s_ports") {
        out.push_str(&format!("listen federation {p}\n"));
    }
    // The paths of `http_paths` the language has (websocket, bosh, uploads); an upload component needs
    // an http listener, on Prosody's default port and path when the config sets neither.
    let paths = match global.get("http_paths").map(|s| &s.value) {
        Some(Value::Table(entries)) => entries.clone(),
        _ => vec![],
    };
    let mut items = Vec::new();
    for (module, statement) in
        [(facts::WEBSOCKET.prosody, "websocket"), (facts::BOSH.prosody, "bosh"), ("file_share", "upload")]
    {
        let path = paths.iter().find_map(|(k, v)| match (k, v) {
            (Key::Name(n), Value::Str(p)) if n == module => Some(p.clone()),
            _ => None,
        });
        match path {
            Some(p) => items.push(format!("{statement} {}", quote(&p))),
            None if module == "file_share" && uploads => items.push("upload \"/file_share\"".to_string()),
            None => {}
        }
    }
    // Prosody's own default http port, which it opens only for http modules: here only for uploads.
    let http = match ports("http_ports") {
        set if !set.is_empty() || !uploads => set,
        _ => vec![5280],
    };
    for p in http {
        let block = if items.is_empty() { String::new() } else { format!(" {{ {} }}", items.join("; ")) };
        out.push_str(&format!("listen http {p}{block}\n"));
    }
    if out.is_empty() { out } else { format!("\n{out}") }
}

/// The `prosody { }` block: the global options kept, then each host or component with options kept
/// (re-entered), or kept whole.
fn raw(want: &Config, plan: &Plan) -> String {
    let mut body = String::new();
    for section in &want.sections {
        let whole = whole(want, plan, section);
        let mut lines: Vec<String> = Vec::new();
        for s in &section.settings {
            // Implied by the section line, but for `Host "*"`'s mark on the global section.
            if IMPLIED.contains(&s.name.as_str()) && section.kind != Kind::Global {
                continue;
            }
            if whole || plan.kept.contains(&(section.name.clone(), s.name.clone())) {
                lines.push(setting(s));
            }
        }
        for (sec, option) in &plan.kept {
            if *sec == section.name && section.get(option).is_none() {
                lines.push(format!("{option} = nil -- unset: the original leaves it to Prosody's default"));
            }
        }
        lines.extend(section.kept.iter().cloned());
        if lines.is_empty() && !whole {
            continue;
        }
        let indent = if section.kind == Kind::Global { "  " } else { "    " };
        match section.kind {
            Kind::Global => {}
            Kind::Host => body.push_str(&format!("  VirtualHost {}\n", lua(&Value::Str(section.name.clone())))),
            Kind::Component => {
                let module = section.get("component_module").map(|m| m.value.clone());
                let line = match module {
                    Some(Value::Str(m)) if m != "component" => {
                        format!("Component {} {}", lua(&Value::Str(section.name.clone())), lua(&Value::Str(m)))
                    }
                    _ => format!("Component {}", lua(&Value::Str(section.name.clone()))),
                };
                body.push_str(&format!("  {line}\n"));
            }
        }
        for l in lines {
            for (i, text) in l.lines().enumerate() {
                body.push_str(if i == 0 { indent } else { "" });
                body.push_str(text);
                body.push('\n');
            }
        }
    }
    // Options the compiled file sets in sections the original lacks are unset there too.
    for (sec, option) in &plan.kept {
        if want.section(sec).is_none() {
            body.push_str(&format!("  VirtualHost {}\n    {option} = nil\n", lua(&Value::Str(sec.clone()))));
        }
    }
    if body.is_empty() {
        return body;
    }
    let (_, mut names, unread) = sorted(want, plan);
    names.extend(unread);
    let mut out =
        String::from("\n# Kept as written (the language does not express them, or renders them otherwise):\n");
    for chunk in names.chunks(6) {
        out.push_str(&format!("#   {}\n", chunk.join(", ")));
    }
    out.push_str(&format!("prosody {{\n{body}}}\n"));
    out
}

/// Whether a section goes into the raw block whole: kept whole, or a component no statement renders
/// (so the raw block declares it).
fn whole(want: &Config, plan: &Plan, section: &Section) -> bool {
    plan.whole.contains(&section.name)
        || (section.kind == Kind::Component && (plan.domains_only || component(want, &section.name).is_none()))
}

/// An option's name in what `import` says: as it is globally, `section: name` elsewhere.
fn label(section: &Section, name: &str) -> String {
    if section.kind == Kind::Global { name.to_string() } else { format!("{}: {name}", section.name) }
}

/// The options (by label) the statements render, those the raw block keeps, and the `Include` and
/// `RunScript` lines it keeps without following them.
fn sorted(want: &Config, plan: &Plan) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut mapped, mut kept, mut unread) = (Vec::new(), Vec::new(), Vec::new());
    for section in &want.sections {
        let whole = whole(want, plan, section);
        for s in section.settings.iter().filter(|s| !IMPLIED.contains(&s.name.as_str())) {
            let in_raw = whole || plan.kept.contains(&(section.name.clone(), s.name.clone()));
            (if in_raw { &mut kept } else { &mut mapped }).push(label(section, &s.name));
        }
        unread.extend(section.kept.iter().map(|k| label(section, k)));
    }
    (mapped, kept, unread)
}

/// One option as Lua: as written when it can be (its value reads no other option, no secret was
/// replaced in it, and its braces balance, as a raw block needs), else its value rendered.
fn setting(s: &Setting) -> String {
    match &s.text {
        Some(t) if balanced(t) => t.clone(),
        _ => format!("{} = {}", s.name, lua(&s.value)),
    }
}

/// Whether every `}` of `text` closes a `{` before it, and all are closed (what a raw block needs).
fn balanced(text: &str) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return false,
            '}' => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

/// The report: the options (section-qualified) the statements render, those kept, the secrets.
fn report(want: &Config, plan: &Plan, dsl: String, secrets: Vec<(String, String)>) -> Imported {
    let (mapped, mut kept, unread) = sorted(want, plan);
    kept.extend(unread.iter().cloned());
    let added = plan
        .kept
        .iter()
        .filter(|(sec, o)| want.section(sec).and_then(|s| s.get(o)).is_none())
        .map(|(sec, o)| if sec == "*" { o.clone() } else { format!("{sec}: {o}") })
        .collect();
    let mut seen = BTreeSet::new();
    let secrets = secrets.into_iter().filter(|s| seen.insert(s.clone())).collect();
    Imported { dsl, mapped, kept, secrets, left_out: vec![], added, unread }
}
