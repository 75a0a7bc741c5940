//! Diagnostics for people: `error[E001]: message`, the place, the source line and a caret.

use std::fmt::Write as _;

use crate::engine::Diagnostic;

/// Renders one diagnostic against the sources it points into.
pub fn render(d: &Diagnostic, sources: &[(String, String)]) -> String {
    let mut out = String::new();
    let kind = if d.error { "error" } else { "warning" };
    let _ = writeln!(out, "{kind}[{}]: {}", d.code, d.message);
    let (path, text) = sources.get(d.file).map_or(("?", ""), |(p, t)| (p.as_str(), t.as_str()));
    let pad = " ".repeat(d.line.to_string().len());
    let _ = writeln!(out, "{pad}--> {path}:{}:{}", d.line, d.col);
    if let Some(line) = line_at(text, d.start) {
        let number = d.line.to_string();

        let col = d.col.saturating_sub(1) as usize;
        let width = text.get(d.start..d.end).map_or(1, |s| s.lines().next().map_or(1, |l| l.chars().count().max(1)));
        let lead: String = line.chars().take(col).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{number} | {line}");
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
    }
    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "  = hint: {hint}");
    }
    out
}

/// The line holding byte offset `at` (without its newline): a look around the offset, not a scan
/// from the top, so many diagnostics in a long file stay cheap.
fn line_at(text: &str, at: usize) -> Option<&str> {
    let at = at.min(text.len());
    let before = text.get(..at)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    Some(text[start..end].trim_end_matches('\r'))
}

/// Diagnostics as one JSON array, for CI: code, severity, message, hint, file, line, col, start, end.
pub fn json(diagnostics: &[Diagnostic], sources: &[(String, String)]) -> String {
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "code": d.code,
                "severity": if d.error { "error" } else { "warning" },
                "message": d.message,
                "hint": d.hint,
                "file": sources.get(d.file).map_or("?", |(p, _)| p.as_str()),
                "line": d.line,
                "col": d.col,
                "start": d.start,
                "end": d.end,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}
