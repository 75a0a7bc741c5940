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
}

/// What a compile gives: files only when there is no error, and every diagnostic sorted by place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub files: Vec<OutFile>,
    pub ports: Vec<Port>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the sources; the first one is the root file.
pub fn compile(sources: &[Source]) -> Output {
    let mut sink = diagnostic::Sink::new(sources);
    let files: Vec<ast::File> =
        sources.iter().enumerate().map(|(i, s)| syntax::parse(i, &s.text, &mut sink).unwrap_or_default()).collect();
    let deployment = if sink.has_errors() { None } else { Some(check::check(&files, &mut sink)) };
    let mut output = Output::default();
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
        output.ports = d.listeners.iter().map(|l| Port { name: l.service.name().into(), port: l.port }).collect();
    }
    output.diagnostics = sink.found;
    output.diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.severity, d.code));
    output
}

/// The sha256 of every source's path and text, in order, as lower-case hex.
fn digest(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        h.update(s.path.as_bytes());
        h.update([0]);
        h.update(s.text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
