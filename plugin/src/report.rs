//! Diagnostics for people, in rustc's layout (`annotate-snippets`, the crate rustc renders with):
//! `error[E001]: message`, the place, the source lines with the span marked, and the hint. Colour is
//! decided where the text is written (`anstream`: a terminal, unless `NO_COLOR` is set).

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use crate::engine::Diagnostic;

/// Renders one diagnostic against the sources it points into, styled for a terminal.
pub fn render(d: &Diagnostic, sources: &[(String, String)]) -> String {
    let level = if d.is_error() { Level::ERROR } else { Level::WARNING };
    let title = level.primary_title(d.message.as_str()).id(d.code.as_str());
    let (path, text) = sources.get(d.span.file).map_or(("?", ""), |(p, t)| (p.as_str(), t.as_str()));
    let (window, start, end) = lines_around(text, d.span.start, d.span.end);
    let snippet = Snippet::source(window)
        .line_start(d.line as usize)
        .path(path)
        .annotation(AnnotationKind::Primary.span(start..end));
    let mut group = title.element(snippet);
    if let Some(hint) = &d.hint {
        group = group.element(Level::HELP.with_name("hint").message(hint.as_str()));
    }
    let mut out = Renderer::styled().render(&[group]);
    out.push('\n');
    out
}

/// The whole lines holding bytes `start..end` of `text`, and the span's place within them: only these
/// lines are handed to the renderer, so many diagnostics in a long file stay cheap.
fn lines_around(text: &str, start: usize, end: usize) -> (&str, usize, usize) {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (floor(start), floor(end.max(start)));
    let first = text[..start].rfind('\n').map_or(0, |i| i + 1);
    // A span ending just past a newline ends on the line before.
    let last_char = if end > start { end - 1 } else { end };
    let last = text[floor(last_char)..].find('\n').map_or(text.len(), |i| floor(last_char) + i);
    let window = text[first..last.max(start)].trim_end_matches('\r');
    (window, start - first, (end - first).min(window.len()))
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

#[cfg(test)]
mod tests {
    use super::lines_around;

    #[test]
    fn the_window_is_the_spans_whole_lines() {
        let text = "one\ntwo three\nfour\n";
        assert_eq!(lines_around(text, 8, 13), ("two three", 4, 9));
        assert_eq!(lines_around(text, 4, 18), ("two three\nfour", 0, 14));
        assert_eq!(lines_around(text, 19, 19), ("", 0, 0));
        assert_eq!(lines_around("é\n", 1, 1), ("é", 0, 0));
    }
}
