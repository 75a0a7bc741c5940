//! `helm-xmpp lsp`: a language server on standard input and output (rust-analyzer's `lsp-server`).
//! Diagnostics come from the same compiler as `check` (in the sandbox unless told otherwise), on open
//! and on every change; hover shows what the grammar says of a keyword and what the language reference
//! says each targeted server gets; completion offers what the grammar accepts at the cursor (and the
//! features the targeted servers have); formatting is `fmt`; go-to-definition opens an `include`d
//! file; a hint "try `X`" is a quick fix. Positions are UTF-16, as the protocol's default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use serde_json::Value;
use xmpp_compiler::facts::FEATURES;
use xmpp_compiler::{Diagnostic, Severity};

use crate::engine::{self, Compiler, Limits};
use crate::{Error, Result};

/// The language reference: its tables say what each construct renders for each server.
const REFERENCE: &str = include_str!("../../docs/language.md");

/// Serves one client until it asks to shut down (or closes the stream).
pub fn serve(compiler: Compiler, limits: Limits) -> Result<()> {
    let (connection, io) = Connection::stdio();
    let fail = |e: &dyn std::fmt::Display| Error::new(format!("language server: {e}"));
    let capabilities = serde_json::json!({
        "textDocumentSync": 1,
        "hoverProvider": true,
        "completionProvider": { "triggerCharacters": [" ", ","] },
        "documentFormattingProvider": true,
        "definitionProvider": true,
        "codeActionProvider": { "codeActionKinds": ["quickfix"] },
    });
    connection.initialize(capabilities).map_err(|e| fail(&e))?;
    let mut server = Server { compiler, limits, docs: HashMap::new() };
    for message in &connection.receiver {
        let out = match message {
            Message::Request(req) => {
                if connection.handle_shutdown(&req).map_err(|e| fail(&e))? {
                    break;
                }
                vec![Message::Response(server.request(req))]
            }
            Message::Notification(n) => server.notify(n),
            Message::Response(_) => Vec::new(),
        };
        for m in out {
            connection.sender.send(m).map_err(|e| fail(&e))?;
        }
    }
    drop(connection);
    io.join().map_err(|e| fail(&e))
}

struct Server {
    compiler: Compiler,
    limits: Limits,
    /// The open documents by URI: their text and the diagnostics last published for them.
    docs: HashMap<String, (String, Vec<Diagnostic>)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("docs", &self.docs.len()).finish_non_exhaustive()
    }
}

impl Server {
    fn notify(&mut self, n: Notification) -> Vec<Message> {
        let uri = n.params["textDocument"]["uri"].as_str().unwrap_or_default().to_string();
        let text = match n.method.as_str() {
            "textDocument/didOpen" => n.params["textDocument"]["text"].as_str(),
            // Full synchronisation: the last change holds the whole text.
            "textDocument/didChange" => n.params["contentChanges"].as_array().and_then(|c| c.last()?["text"].as_str()),
            "textDocument/didClose" => {
                self.docs.remove(&uri);
                return vec![publish(&uri, "", &[])];
            }
            _ => None,
        };
        let Some(text) = text else { return Vec::new() };
        let diagnostics = self.check(&uri, text);
        let message = publish(&uri, text, &diagnostics);
        self.docs.insert(uri, (text.to_string(), diagnostics));
        vec![message]
    }

    /// The diagnostics of the document's own text (its includes read from beside it on disk).
    fn check(&self, uri: &str, text: &str) -> Vec<Diagnostic> {
        let path = file_path(uri).unwrap_or_else(|| PathBuf::from("untitled.xmpp"));
        match engine::compile_source(&self.compiler, &path, text.to_string(), self.limits) {
            Ok((_, compiled)) => compiled.diagnostics.into_iter().filter(|d| d.span.file == 0).collect(),
            Err(e) => vec![Diagnostic {
                code: xmpp_compiler::Code::Syntax,
                severity: Severity::Error,
                message: e.0,
                hint: None,
                span: xmpp_compiler::ast::Span { file: 0, start: 0, end: 0 },
                line: 1,
                col: 1,
            }],
        }
    }

    fn request(&mut self, req: Request) -> Response {
        let uri = req.params["textDocument"]["uri"].as_str().unwrap_or_default().to_string();
        let Some((text, diagnostics)) = self.docs.get(&uri) else {
            return Response::new_err(req.id, ErrorCode::InvalidParams as i32, format!("{uri} is not open"));
        };
        let at = offset(text, &req.params["position"]);
        let result = match req.method.as_str() {
            "textDocument/hover" => hover(text, at),
            "textDocument/completion" => completion(text, at),
            "textDocument/formatting" => match self.compiler.format(text, self.limits) {
                Ok(Ok(formatted)) if formatted != *text => {
                    serde_json::json!([{ "range": range(text, 0, text.len()), "newText": formatted }])
                }
                Ok(Ok(_)) => serde_json::json!([]),
                _ => Value::Null,
            },
            "textDocument/definition" => definition(&uri, text, at),
            "textDocument/codeAction" => quick_fixes(&uri, text, diagnostics, &req.params["range"]),
            _ => return Response::new_err(req.id, ErrorCode::MethodNotFound as i32, format!("no {}", req.method)),
        };
        Response::new_ok(req.id, result)
    }
}

fn publish(uri: &str, text: &str, diagnostics: &[Diagnostic]) -> Message {
    let list: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let message = match &d.hint {
                Some(h) => format!("{}\nhint: {h}", d.message),
                None => d.message.clone(),
            };
            serde_json::json!({
                "range": range(text, d.span.start, d.span.end),
                "severity": if d.is_error() { 1 } else { 2 },
                "code": d.code.as_str(),
                "source": "helm-xmpp",
                "message": message,
            })
        })
        .collect();
    Message::Notification(Notification::new(
        "textDocument/publishDiagnostics".to_string(),
        serde_json::json!({ "uri": uri, "diagnostics": list }),
    ))
}

// ---------------------------------------------------------------- positions

/// The byte offset of an LSP position (line, UTF-16 unit) in `text`, clamped to the text.
fn offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap_or(0) as usize;
    let unit = position["character"].as_u64().unwrap_or(0) as usize;
    let start = text.split_inclusive('\n').take(line).map(str::len).sum::<usize>().min(text.len());
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if units >= unit || c == '\n' {
            return start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// The LSP position (line, UTF-16 unit) of a byte offset.
fn position(text: &str, at: usize) -> Value {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = before[start..].chars().map(char::len_utf16).sum();
    serde_json::json!({ "line": line, "character": character })
}

fn range(text: &str, start: usize, end: usize) -> Value {
    serde_json::json!({ "start": position(text, start), "end": position(text, end.max(start)) })
}

/// The word (letters, digits, `-`, `_`) around byte `at`: its start and its text.
fn word_at(text: &str, at: usize) -> (usize, &str) {
    let is_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    let start =
        text[..at].rfind(|c: char| !is_word(c)).map_or(0, |i| i + text[i..].chars().next().map_or(1, char::len_utf8));
    let end = text[at..].find(|c: char| !is_word(c)).map_or(text.len(), |i| at + i);
    (start, &text[start..end])
}

// ---------------------------------------------------------------- what the language knows

/// The servers the file targets (its `targets` line), both when it has none.
fn targets(text: &str) -> Vec<&'static str> {
    let line = text.lines().find(|l| l.trim_start().starts_with("targets")).unwrap_or("");
    let named: Vec<&'static str> = ["ejabberd", "prosody"].into_iter().filter(|s| line.contains(s)).collect();
    if named.is_empty() { vec!["ejabberd", "prosody"] } else { named }
}

fn hover(text: &str, at: usize) -> Value {
    let (start, word) = word_at(text, at);
    if word.is_empty() {
        return Value::Null;
    }
    let servers = targets(text);
    let mut parts = Vec::new();
    if let Some(doc) = xmpp_compiler::keyword_doc(word) {
        parts.push(doc);
        for (dsl, ejabberd, prosody) in renderings(word) {
            let mut lines = vec![format!("**{dsl}**")];
            if servers.contains(&"ejabberd") {
                lines.push(format!("- ejabberd: {ejabberd}"));
            }
            if servers.contains(&"prosody") {
                lines.push(format!("- Prosody: {prosody}"));
            }
            parts.push(lines.join("\n"));
        }
    } else if let Some(f) = FEATURES.iter().find(|f| f.name == word) {
        let mut lines = vec![format!("feature `{}`", f.name)];
        if servers.contains(&"ejabberd") {
            lines.push(format!("- ejabberd: {}", modules(f.ejabberd)));
        }
        if servers.contains(&"prosody") {
            lines.push(format!("- Prosody: {}", modules(f.prosody)));
        }
        parts.push(lines.join("\n"));
    }
    if parts.is_empty() {
        return Value::Null;
    }
    serde_json::json!({
        "contents": { "kind": "markdown", "value": parts.join("\n\n") },
        "range": range(text, start, start + word.len()),
    })
}

fn modules(list: &[&str]) -> String {
    if list.is_empty() {
        "not available".to_string()
    } else {
        list.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
    }
}

/// The rows of the language reference's rendering tables (headed `| DSL | ejabberd | Prosody |`) whose
/// DSL cell begins with `word`: (DSL, ejabberd, Prosody).
fn renderings(word: &str) -> Vec<(String, String, String)> {
    let mut in_table = false;
    REFERENCE
        .lines()
        .filter_map(|l| {
            if !l.starts_with('|') {
                in_table = false;
                return None;
            }
            if l.starts_with("| DSL | ejabberd | Prosody |") {
                in_table = true;
                return None;
            }
            let cells: Vec<&str> = l.strip_prefix("| ")?.trim_end_matches(" |").split(" | ").collect();
            let [dsl, ejabberd, prosody] = cells.as_slice() else { return None };
            let first = dsl.trim_start_matches('`').split([' ', '`', '\\']).next()?;
            (in_table && first == word).then(|| (dsl.to_string(), ejabberd.to_string(), prosody.to_string()))
        })
        .collect()
}

fn completion(text: &str, at: usize) -> Value {
    let (start, _) = word_at(text, at);
    let expected = xmpp_compiler::expected_at(text, start);
    let mut items: Vec<Value> = expected
        .keywords
        .iter()
        .map(|k| {
            let doc = xmpp_compiler::keyword_doc(k).unwrap_or_default();
            serde_json::json!({ "label": k, "kind": 14, "documentation": doc })
        })
        .collect();
    if expected.feature {
        let servers = targets(text);
        for f in FEATURES {
            // Only what every targeted server has.
            let has = |s: &str| match s {
                "ejabberd" => !f.ejabberd.is_empty(),
                _ => !f.prosody.is_empty(),
            };
            if servers.iter().all(|s| has(s)) {
                items.push(serde_json::json!({ "label": f.name, "kind": 20 }));
            }
        }
    }
    serde_json::json!({ "isIncomplete": false, "items": items })
}

/// On an `include "path"` line, the file it names, beside the document.
fn definition(uri: &str, text: &str, at: usize) -> Value {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let Some(rest) = line.trim_start().strip_prefix("include") else { return Value::Null };
    let Some(name) = rest.trim().strip_prefix('"').and_then(|r| r.split('"').next()) else { return Value::Null };
    let Some(dir) = file_path(uri).and_then(|p| p.parent().map(Path::to_path_buf)) else { return Value::Null };
    let target = dir.join(name);
    if !target.is_file() {
        return Value::Null;
    }
    let target = target.canonicalize().unwrap_or(target);
    serde_json::json!({
        "uri": file_uri(&target),
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
    })
}

/// A quick fix for each diagnostic in `range` whose hint is "try `X`": X in place of what it points at.
fn quick_fixes(uri: &str, text: &str, diagnostics: &[Diagnostic], wanted: &Value) -> Value {
    let (from, to) = (offset(text, &wanted["start"]), offset(text, &wanted["end"]));
    let fixes: Vec<Value> = diagnostics
        .iter()
        .filter(|d| d.span.start <= to && d.span.end >= from)
        .filter_map(|d| {
            let hint = d.hint.as_deref()?;
            let with = hint.strip_prefix("try `")?.split('`').next()?;
            let edit = serde_json::json!({ "range": range(text, d.span.start, d.span.end), "newText": with });
            Some(serde_json::json!({
                "title": format!("Replace with `{with}`"),
                "kind": "quickfix",
                "isPreferred": true,
                "edit": { "changes": { uri: [edit] } },
            }))
        })
        .collect();
    Value::Array(fixes)
}

// ---------------------------------------------------------------- file URIs

/// The path of a `file:` URI (percent-escapes decoded); `None` for any other scheme.
fn file_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The `file:` URI of an absolute path.
fn file_uri(path: &Path) -> String {
    format!("file://{}", crate::report::uri(&path.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a\n\u{1F600}x\n";
        let p = serde_json::json!({ "line": 1, "character": 2 });
        assert_eq!(offset(text, &p), 2 + 4);
        assert_eq!(position(text, 6), p);
        assert_eq!(offset(text, &serde_json::json!({ "line": 9, "character": 0 })), text.len());
    }

    #[test]
    fn file_uris_round_trip() {
        let path = Path::new("/tmp/a b/é.xmpp");
        assert_eq!(file_path(&file_uri(path)).as_deref(), Some(path));
    }
}
