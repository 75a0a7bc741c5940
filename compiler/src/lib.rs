//! The helm-xmpp compiler: one typed configuration language, two XMPP servers.
//!
//! The pipeline, one module per phase:
//! 1. [`syntax`]: each source text to a typed [`ast`] with spans (the pest grammar in `grammar/xmpp.pest`);
//! 2. [`lower`]: all files to one server-neutral [`ir::Deployment`], gathering every error with its span
//!    and noting the constructs used;
//! 3. [`compat`]: those constructs held against the targeted releases, per the capability table in [`facts`];
//! 4. [`emit`]: the deployment rendered as `ejabberd.yml` and `prosody.cfg.lua`, per the [`facts`] tables.
//!
//! The crate is pure: no I/O, no clock, no randomness. The same sources give byte-identical output,
//! natively and inside the WebAssembly sandbox.
#![forbid(unsafe_code)]

pub mod ast;
mod compat;
pub mod diagnostic;
pub mod emit;
pub mod facts;
pub mod format;
pub mod ir;
mod lower;
pub mod lua_config;
pub mod lua_syntax;
pub mod manifests;
mod settings;
mod syntax;
pub mod yaml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use diagnostic::{Code, Diagnostic, Severity};
pub use syntax::{Expected, MAX_NESTING, MAX_SYNTAX_ERRORS, expected_at, keyword_doc};

/// One input file: its path as the author named it, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// A generated file: the config of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutFile {
    /// `ejabberd` or `prosody`.
    pub server: String,
    /// The file name the server reads, e.g. `ejabberd.yml`.
    pub name: String,
    pub text: String,
}

/// A listener the chart must expose: its Kubernetes port name (`client`, `client-tls`, `client-5422`,
/// unique), what it serves, and its port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    /// `client`, `federation`, `http` or `proxy` (XEP-0065 file transfer).
    pub kind: String,
    /// `required` or `optional` (STARTTLS), `direct`, `terminated` or `none`.
    pub tls: String,
    pub port: u16,
    /// What an HTTP listener serves where: `websocket`, `bosh`, `upload`, `api`, `metrics`.
    pub routes: Vec<Route>,
}

/// A path an HTTP listener serves, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub kind: String,
    pub path: String,
}

/// What a compile gives: files only when there is no error, and every diagnostic sorted by place.
///
/// This one type is the compile result everywhere: the sandboxed guest returns it serialized (see
/// `guest/wit/compiler.wit`), the host reads it back, and the plugin hands it to the chart as
/// `.Values.compiled` (camel-case keys; `needs` and `diagnostics` are left out there, being empty or
/// for people). A field added here reaches the chart with no other change to the plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// One file per targeted server.
    pub files: Vec<OutFile>,
    pub ports: Vec<Port>,
    /// Environment variables the configs read secrets from (the chart sets them from Secrets).
    pub secret_env: Vec<String>,
    /// The keys signed uploads are signed with, as the chart's upload receiver reads them:
    /// `env:NAME` or `file:/path`, each once.
    pub upload_keys: Vec<String>,
    /// The folder a targeted Prosody loads the chart's modules from (`mod_helm_xmpp_accounts.lua`, for
    /// `metrics`), which the host provides; empty when none is loaded.
    pub prosody_plugins: String,
    /// The file ejabberd < 24.12 reads secret macros from, which the host writes (`define_macro`);
    /// empty when no targeted ejabberd needs one.
    pub macros_file: String,
    /// The XMPP domains served.
    pub domains: Vec<String>,
    /// The host names HTTP clients reach: the domains and their upload services' hosts.
    pub http_hosts: Vec<String>,
    /// The oldest release of each targeted server, e.g. `ejabberd` → `23.01`.
    pub targets: BTreeMap<String, String>,
    /// Included files that were not among the sources: the host reads them and compiles again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics found past [`diagnostic::MAX_DIAGNOSTICS`], counted but not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A file an `include` names that the host must read: its resolved path, and the place of the
/// (first) `include` naming it, for an error when it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub path: String,
    pub span: ast::Span,
    pub line: u32,
    pub col: u32,
}

impl Need {
    /// An error at the `include` that named this file.
    pub fn error(&self, message: impl Into<String>, hint: Option<String>) -> Diagnostic {
        Diagnostic {
            code: Code::BadInclude,
            severity: Severity::Error,
            message: message.into(),
            hint,
            span: self.span,
            line: self.line,
            col: self.col,
        }
    }
}

impl Output {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the sources; the first one is the root file, the others are files it includes.
pub fn compile(sources: &[Source]) -> Output {
    let mut sink = diagnostic::Sink::new(sources);
    let files: Vec<ast::File> =
        sources.iter().enumerate().map(|(i, s)| syntax::parse(i, &s.text, &mut sink).unwrap_or_default()).collect();
    let paths: Vec<String> = sources.iter().map(|s| s.path.clone()).collect();
    let mut output = Output { needs: missing_includes(&files, &paths, &sink), ..Output::default() };
    if !output.needs.is_empty() {
        // The host supplies them and compiles again; errors now would be about files not yet read.
        output.diagnostics = sink.found;
        output.omitted = sink.omitted;
        return output;
    }
    let deployment = if sink.has_errors() {
        None
    } else {
        let d = lower::lower(&files, &paths, &mut sink);
        compat::check(&d, &mut sink);
        Some(d)
    };
    if let (false, Some(d)) = (sink.has_errors(), deployment) {
        let header = emit::header(sources.first().map_or("", |s| s.path.as_str()), &digest(sources));
        for server in facts::Server::ALL {
            let Some(version) = d.target(server) else { continue };
            let text = match server {
                facts::Server::Ejabberd => emit::ejabberd::emit(&d, &header),
                facts::Server::Prosody => emit::prosody::emit(&d, &header),
            };
            // Each raw prosody block was checked alone; spliced into the file, it must still be Lua
            // (a `<const>` local the file later assigns, a label defined twice across blocks).
            let mut raw_prosody = d.raw.iter().filter(|r| r.server == ast::Server::Prosody);
            if server == facts::Server::Prosody
                && let Some(first) = raw_prosody.next()
                && let Err(e) = lua_syntax::check(&text)
            {
                let line = text[..e.offset.min(text.len())].matches('\n').count() + 1;
                sink.error(
                    Code::BadRaw,
                    first.span,
                    format!("with the raw prosody blocks, prosody.cfg.lua is not Lua: {} (its line {line})", e.message),
                )
                .hint("try names of your own in the raw block, not ones the compiler writes");
                continue;
            }
            output.files.push(OutFile { server: server.name().into(), name: emit::file_name(server).into(), text });
            output.targets.insert(server.name().into(), version.to_string());
        }
        let mut kinds_named = std::collections::BTreeSet::new();
        for l in &d.listeners {
            let routes = d.routes(l).into_iter().map(|(kind, path)| Route { kind: kind.into(), path }).collect();
            // Kubernetes wants one name per port, of at most 15 characters: the first listener of a kind
            // is named by it, the others by kind and port (`client-5422`), which are unique as ports are.
            let kind = l.service.name();
            let name = if !kinds_named.insert(kind) {
                let port = l.port.to_string();
                let prefix = kind[..kind.len().min(14 - port.len())].trim_end_matches('-');
                format!("{prefix}-{port}")
            } else {
                kind.to_string()
            };
            output.ports.push(Port {
                name,
                kind: l.service.kind().into(),
                tls: l.service.tls().into(),
                port: l.port,
                routes,
            });
        }
        if let Some(p) = d.proxy() {
            let (name, kind, tls) = ("proxy65".into(), "proxy".into(), "none".into());
            output.ports.push(Port { name, kind, tls, port: p.port, routes: Vec::new() });
        }
        output.macros_file = d.macros_file().unwrap_or_default();
        output.domains = d.domains.iter().map(|dom| dom.name.clone()).collect();
        output.http_hosts = d.http_hosts();
        if d.prosody.is_some() && d.http().is_some() && d.metrics.is_some() {
            output.prosody_plugins = facts::PROSODY_PLUGINS.to_string();
        }
        let keys = d.domains.iter().filter_map(|dom| dom.upload.as_ref()?.signed.as_ref());
        output.upload_keys = keys
            .map(|k| match k {
                ast::Secret::Env(name) => format!("env:{name}"),
                ast::Secret::File(path) => format!("file:{path}"),
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        output.secret_env = d
            .secrets()
            .into_iter()
            .filter_map(|s| match s {
                ast::Secret::Env(name) => Some(name),
                ast::Secret::File(_) => None,
            })
            .collect();
    }
    if sink.has_errors() {
        // Files only without errors (one found while emitting leaves none).
        output = Output::default();
    }
    output.diagnostics = sink.found;
    output.omitted = sink.omitted;
    output.diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.severity, d.code));
    output
}

/// Resolved paths of includes that no source provides (only those that resolve at all).
fn missing_includes(files: &[ast::File], paths: &[String], sink: &diagnostic::Sink) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    for (file, path) in files.iter().zip(paths) {
        for st in &file.statements {
            if let ast::Statement::Include(target) = st
                && let Ok(p) = resolve_include(path, &target.value)
                && !paths.contains(&p)
                && !needs.iter().any(|n| n.path == p)
            {
                let (line, col) = sink.line_col(target.span.file, target.span.start);
                needs.push(Need { path: p, span: target.span, line, col });
            }
        }
    }
    needs
}

/// The path of `target` included from the file at `from`: relative to `from`'s folder, and never
/// outside the root file's folder (the root is `from` when it has no folder part). Pure string work,
/// shared by the host (which reads the file) and the checker (which finds it among the sources).
pub fn resolve_include(from: &str, target: &str) -> Result<String, String> {
    if target.starts_with('/') || target.contains('\\') || target.is_empty() {
        return Err(format!("`{target}` must be a relative path"));
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    let base = parts.len();
    let mut depth = 0usize;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth == 0 {
                    return Err(format!("`{target}` leaves the folder of the file that includes it"));
                }
                depth -= 1;
                parts.pop();
            }
            p => {
                depth += 1;
                parts.push(p);
            }
        }
    }
    if parts.len() <= base && depth == 0 {
        return Err(format!("`{target}` is not a file"));
    }
    Ok(parts.join("/"))
}

/// The sha256 of every source's path and text, in order, as lower-case hex.
fn digest(sources: &[Source]) -> String {
    sha256_hex(sources.iter().flat_map(|s| [s.path.as_bytes(), s.text.as_bytes()]))
}

/// The sha256 of the parts, each ended by a NUL byte, as lower-case hex.
pub fn sha256_hex<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{Source, compile, resolve_include};

    #[test]
    fn listeners_of_one_kind_get_unique_port_names() {
        let text = "domain \"a.test\" { }\nlisten client 5222\nlisten client 5422\nlisten federation 5269\n\
                    listen federation 5270\nlisten http 5280\nlisten http 5443\n\
                    listen federation 5271 { tls direct }\nlisten federation 52690 { tls direct }\n";
        let out = compile(&[Source { path: "a.xmpp".into(), text: text.into() }]);
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        let names: Vec<&str> = out.ports.iter().map(|p| p.name.as_str()).collect();
        let expected = ["client", "client-5422", "federation", "federation-5270", "http", "http-5443"];
        assert_eq!(names, [&expected[..], &["federation-tls", "federatio-52690"]].concat());
        assert!(names.iter().all(|n| n.len() <= 15), "Kubernetes port names have at most 15 characters");
        let kinds: Vec<&str> = out.ports.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["client", "client", "federation", "federation", "http", "http", "federation", "federation"]);
        let tls: Vec<&str> = out.ports.iter().map(|p| p.tls.as_str()).collect();
        assert_eq!(tls, ["required", "required", "required", "required", "none", "none", "direct", "direct"]);
    }

    #[test]
    fn http_hosts_are_the_domains_and_their_upload_hosts() {
        let text = "domain \"a.test\" { upload \"upload\" }\n\
                    domain \"b.test\" { upload \"files\" { url \"https://cdn.b.test:8443/up\" } }\n\
                    domain \"c.test\" { }\nlisten http 5280 { tls terminated; upload \"/upload\" }\n";
        let out = compile(&[Source { path: "a.xmpp".into(), text: text.into() }]);
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        assert_eq!(out.http_hosts, ["a.test", "upload.a.test", "b.test", "cdn.b.test", "c.test"]);
    }

    #[test]
    fn includes_resolve_beside_the_including_file_and_never_above_it() {
        assert_eq!(resolve_include("examples/site.xmpp", "common.xmpp").as_deref(), Ok("examples/common.xmpp"));
        assert_eq!(resolve_include("site.xmpp", "inc/a.xmpp").as_deref(), Ok("inc/a.xmpp"));
        assert_eq!(resolve_include("a/b/c.xmpp", "x/../d.xmpp").as_deref(), Ok("a/b/d.xmpp"));
        assert!(resolve_include("examples/site.xmpp", "../secret.xmpp").is_err());
        assert!(resolve_include("site.xmpp", "/etc/passwd").is_err());
    }
}
