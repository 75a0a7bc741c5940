//! The helm-xmpp host: reads files, runs the compiler (sandboxed or native), writes results, calls Helm.
//!
//! - [`engine`]: the compiler behind one interface, inside wasmtime or linked natively;
//! - [`report`]: diagnostics rendered for people, with the source line and a caret;
//! - [`files`]: reading the sources, writing outputs atomically;
//! - [`helm`]: `render`, which hands the compiled files to `helm template`;
//! - [`diff`]: what a change of the DSL means, in sentences;
//! - [`lsp`]: the language server editors start;
//! - [`import`]: an ejabberd.yml as a DSL file.

pub mod diff;
pub mod engine;
pub mod files;
pub mod helm;
pub mod import;
pub mod lsp;
pub mod report;

use std::fmt;

/// An error the CLI prints as `error: …` and exits non-zero for.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
