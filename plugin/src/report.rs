//! Diagnostics for people, in rustc's layout (`annotate-snippets`, the crate rustc renders with):
//! `error[E001]: message`, the place, the source lines with the span marked, and the hint. Colour is
//! decided where the text is written (`anstream`: a terminal, unless `NO_COLOR` is set).

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use crate::engine::Diagnostic;

/// Renders one diagnostic against the sources it points into, styled for a terminal.
pub fn render(d: &Diagnostic, sources: &[(String, String)]) -> String {
    let level = if d.is_error() { Level::ERROR } else { Level::WARNING };
    let message = visible(&d.message, 0, 0).0;
    let title = level.primary_title(message.as_str()).id(d.code.as_str());
    let (path, text) = sources.get(d.span.file).map_or(("?", ""), |(p, t)| (p.as_str(), t.as_str()));
    let path = visible(path, 0, 0).0;
    let (window, start, end) = lines_around(text, d.span.start, d.span.end);
    let (window, start, end) = visible(window, start, end);
    let snippet = Snippet::source(window.as_str())
        .line_start(d.line as usize)
        .path(path.as_str())
        .annotation(AnnotationKind::Primary.span(start..end));
    let mut group = title.element(snippet);
    let hint = d.hint.as_deref().map(|h| visible(h, 0, 0).0);
    if let Some(hint) = &hint {
        group = group.element(Level::HELP.with_name("hint").message(hint.as_str()));
    }
    let mut out = Renderer::styled().render(&[group]);
    out.push('\n');
    out
}

/// The whole lines holding bytes `start..end` of `text`, and the span's place within them: only these
/// lines are handed to the renderer, so many diagnostics in a long file stay cheap. Lines end at
/// `\n`, `\r\n` or a lone `\r`, as in the grammar.
fn lines_around(text: &str, start: usize, end: usize) -> (&str, usize, usize) {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (floor(start), floor(end.max(start)));
    let first = text[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    // A span ending just past a line break ends on the line before.
    let last_char = if end > start { end - 1 } else { end };
    let last = text[floor(last_char)..].find(['\n', '\r']).map_or(text.len(), |i| floor(last_char) + i);
    let window = &text[first..last.max(start)];
    (window, start - first, (end - first).min(window.len()))
}

/// A message that may quote the user's text (a path, a name) made safe to print on a terminal, as
/// [`visible`] does for source lines.
pub fn safe(text: &str) -> String {
    visible(text, 0, 0).0
}

/// Text from a source (or quoted from one in a message) made safe to print on a terminal: control
/// characters become their visible Unicode pictures (`␛` for ESC), direction overrides and other
/// invisible controls `�`, line breaks `\n`; the byte range `start..end` is moved along.
fn visible(text: &str, start: usize, end: usize) -> (String, usize, usize) {
    let mut out = String::with_capacity(text.len());
    let (mut new_start, mut new_end) = (0, 0);
    let mut chars = text.char_indices().peekable();
    loop {
        let here = chars.peek().map_or(text.len(), |&(i, _)| i);
        if here == start {
            new_start = out.len();
        }
        if here == end {
            new_end = out.len();
        }
        let Some((_, c)) = chars.next() else { break };
        match c {
            '\t' | '\n' => out.push(c),
            '\r' if chars.peek().is_some_and(|&(_, n)| n == '\n') => {}
            '\r' => out.push('\n'),
            c if c < ' ' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' => out.push('\u{fffd}'),
            c if xmpp_compiler::ast::is_invisible(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    (out, new_start, new_end.max(new_start))
}

/// Diagnostics as one JSON array, for CI: code, severity, message, hint, file, line, col, start, end.
pub fn json(diagnostics: &[Diagnostic], sources: &[(String, String)]) -> String {
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "code": d.code.as_str(),
                "severity": d.severity,
                "message": d.message,
                "hint": d.hint,
                "file": sources.get(d.span.file).map_or("?", |(p, _)| p.as_str()),
                "line": d.line,
                "col": d.col,
                "start": d.span.start,
                "end": d.span.end,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// An error with no place in the sources, in the shape of [`json`]: place fields are null.
pub fn json_error(message: &str, file: &str) -> String {
    let item = serde_json::json!({
        "code": null, "severity": "error", "message": message, "hint": null,
        "file": file, "line": null, "col": null, "start": null, "end": null,
    });
    serde_json::Value::Array(vec![item]).to_string()
}

/// The diagnostics as a SARIF 2.1.0 log (what code-scanning tools read): one run of helm-xmpp whose
/// rules are every diagnostic code with its explanation, and one result per diagnostic, placed by
/// line and column (in characters) in the file it names. `failure`: an error with no place in the
/// sources (an unreadable root file, the sandbox's bound reached), reported as the run's failure.
pub fn sarif(diagnostics: &[Diagnostic], sources: &[(String, String)], failure: Option<&str>) -> String {
    use serde_json::json;
    let codes = xmpp_compiler::Code::ALL;
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| {
            let explain = c.explain();
            // The first sentence: up to a ". " that a capital or a code span follows (not "e.g. ").
            let end = explain
                .match_indices(". ")
                .find(|(i, _)| {
                    !explain[..*i].ends_with("e.g")
                        && explain[i + 2..].starts_with(|c: char| c.is_uppercase() || c == '`')
                })
                .map_or(explain.len(), |(i, _)| i + 1);
            let short = &explain[..end];
            json!({
                "id": c.as_str(),
                "shortDescription": {"text": short},
                "fullDescription": {"text": explain},
                "help": {"text": format!("{explain} (`helm xmpp explain {}`)", c.as_str())},
                "defaultConfiguration": {"level": if c.as_str().starts_with('E') { "error" } else { "warning" }},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let (file, text) = sources.get(d.span.file).map_or(("?", ""), |(p, t)| (p.as_str(), t.as_str()));
            let (line, col) = (d.line as usize, d.col as usize);
            let (end_line, end_col) = line_col(text, d.span.end);
            // An empty span (an error at the end of the file) still covers its start.
            let (end_line, end_col) = if (end_line, end_col) > (line, col) { (end_line, end_col) } else { (line, col) };
            let message = match &d.hint {
                Some(h) => format!("{}; {h}", d.message),
                None => d.message.clone(),
            };
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": codes.iter().position(|c| *c == d.code),
                "level": if d.is_error() { "error" } else { "warning" },
                "message": {"text": message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(file)},
                    "region": {
                        "startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col,
                    },
                }}],
            })
        })
        .collect();
    let notifications: Vec<serde_json::Value> =
        failure.iter().map(|m| json!({"level": "error", "message": {"text": m}})).collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "helm-xmpp",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": failure.is_none(), "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    })
    .to_string()
}

/// The 1-based line and column (in characters) of a byte offset (clamped into the text, onto a
/// character boundary).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// A file path as a URI reference: `/` separators, and the characters a URI reserves or refuses
/// percent-encoded.
pub(crate) fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{lines_around, visible};

    #[test]
    fn the_window_is_the_spans_whole_lines() {
        let text = "one\ntwo three\nfour\n";
        assert_eq!(lines_around(text, 8, 13), ("two three", 4, 9));
        assert_eq!(lines_around(text, 4, 18), ("two three\nfour", 0, 14));
        assert_eq!(lines_around(text, 19, 19), ("", 0, 0));
        assert_eq!(lines_around("é\n", 1, 1), ("é", 0, 0));
        assert_eq!(lines_around("a\rbc\rd", 3, 4), ("bc", 1, 2), "a lone CR ends a line");
        assert_eq!(lines_around("a\r\nbc\r\n", 4, 5), ("bc", 1, 2));
    }

    #[test]
    fn control_characters_are_shown_not_sent_to_the_terminal() {
        assert_eq!(visible("a\u{1b}[31mb", 1, 6), ("a\u{241b}[31mb".to_string(), 1, 8));
        assert_eq!(visible("x\u{202e}y\u{7}", 0, 4), ("x\u{fffd}y\u{2407}".to_string(), 0, 4));
        assert_eq!(visible("a\r\nb\rc", 3, 4), ("a\nb\nc".to_string(), 2, 3));
    }
}
