//! The helm-xmpp compiler: one typed configuration language, two XMPP servers.
//!
//! The pipeline, one module per phase:
//! 1. [`syntax`]: each source text to a typed [`ast`] with spans (the pest grammar in `grammar/xmpp.pest`);
//! 2. [`check`]: all files to one server-neutral [`ir::Deployment`], gathering every error with its span;
//! 3. [`emit`]: the deployment rendered as `ejabberd.yml` and `prosody.cfg.lua`, per the [`facts`] tables.
//!
//! The crate is pure: no I/O, no clock, no randomness. The same sources give byte-identical output,
//! natively and inside the WebAssembly sandbox.
#![forbid(unsafe_code)]

pub mod ast;
mod check;
pub mod diagnostic;
pub mod emit;
pub mod facts;
pub mod format;
pub mod ir;
mod syntax;

use sha2::{Digest, Sha256};

pub use diagnostic::{Code, Diagnostic, Severity};

/// One input file: its path as the author named it, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// A generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    pub name: String,
    pub text: String,
}

/// A listener the chart must expose: its name (`client`, `federation`, `http`) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub port: u16,
    /// What an HTTP listener serves where: `websocket`, `bosh`, `upload`, `api`, `metrics`.
    pub routes: Vec<Route>,
}

/// A path an HTTP listener serves, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub kind: String,
    pub path: String,
}

/// What a compile gives: files only when there is no error, and every diagnostic sorted by place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub files: Vec<OutFile>,
    pub ports: Vec<Port>,
    /// Environment variables the configs read secrets from (the chart sets them from Secrets).
    pub secret_env: Vec<String>,
    /// The file ejabberd < 24.12 reads secret macros from, which the host writes (`define_macro`).
    pub macros_file: Option<String>,
    /// The XMPP domains served.
    pub domains: Vec<String>,
    /// Included files (resolved paths) that were not among the sources: the host reads them and compiles again.
    pub needs: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
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
    let mut output = Output { needs: missing_includes(&files, &paths), ..Output::default() };
    if !output.needs.is_empty() {
        // The host supplies them and compiles again; errors now would be about files not yet read.
        output.diagnostics = sink.found;
        return output;
    }
    let deployment = if sink.has_errors() { None } else { Some(check::check(&files, &paths, &mut sink)) };
    if let (false, Some(d)) = (sink.has_errors(), deployment) {
        let header = emit::header(sources.first().map_or("", |s| s.path.as_str()), &digest(sources));
        if d.ejabberd.is_some() {
            output
                .files
                .push(OutFile { name: emit::ejabberd::FILE_NAME.into(), text: emit::ejabberd::emit(&d, &header) });
        }
        if d.prosody.is_some() {
            output
                .files
                .push(OutFile { name: emit::prosody::FILE_NAME.into(), text: emit::prosody::emit(&d, &header) });
        }
        output.ports = d
            .listeners
            .iter()
            .map(|l| {
                let routes = match &l.service {
                    ir::Service::Http(h) => d.routes(h),
                    _ => Vec::new(),
                };
                let routes = routes.into_iter().map(|(kind, path)| Route { kind: kind.into(), path }).collect();
                Port { name: l.service.name().into(), port: l.port, routes }
            })
            .collect();
        output.macros_file = d.macros_file();
        output.domains = d.domains.iter().map(|dom| dom.name.clone()).collect();
        output.secret_env = d
            .secrets()
            .into_iter()
            .filter_map(|s| match s {
                ast::Secret::Env(name) => Some(name),
                ast::Secret::File(_) => None,
            })
            .collect();
    }
    output.diagnostics = sink.found;
    output.diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.severity, d.code));
    output
}

/// Resolved paths of includes that no source provides (only those that resolve at all).
fn missing_includes(files: &[ast::File], paths: &[String]) -> Vec<String> {
    let mut needs = Vec::new();
    for (file, path) in files.iter().zip(paths) {
        for st in &file.statements {
            if let ast::Statement::Include(target) = st
                && let Ok(p) = resolve_include(path, &target.value)
                && !paths.contains(&p)
                && !needs.contains(&p)
            {
                needs.push(p);
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
    use super::resolve_include;

    #[test]
    fn includes_resolve_beside_the_including_file_and_never_above_it() {
        assert_eq!(resolve_include("examples/site.xmpp", "common.xmpp").as_deref(), Ok("examples/common.xmpp"));
        assert_eq!(resolve_include("site.xmpp", "inc/a.xmpp").as_deref(), Ok("inc/a.xmpp"));
        assert_eq!(resolve_include("a/b/c.xmpp", "x/../d.xmpp").as_deref(), Ok("a/b/d.xmpp"));
        assert!(resolve_include("examples/site.xmpp", "../secret.xmpp").is_err());
        assert!(resolve_include("site.xmpp", "/etc/passwd").is_err());
    }
}
