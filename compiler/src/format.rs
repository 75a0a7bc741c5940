//! `fmt`: one canonical layout. Statements one per line, two spaces per level, single spaces between
//! words, `, ` in lists; a block stays on one line (`{ a; b }`) when it was written on one line, fits,
//! and holds no comment. Comments and single blank lines survive; raw blocks are kept verbatim.
//! Formatting formatted text changes nothing.

use crate::diagnostic::{Diagnostic, Sink};
use crate::syntax::Node;

const WIDTH: usize = 100;

/// Formats one source file, or gives its syntax error.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let source = [crate::Source { path: String::new(), text: text.to_string() }];
    let mut sink = Sink::new(&source);
    let Some(nodes) = crate::syntax::outline(text, &mut sink) else {
        return Err(sink.found);
    };
    let mut f = Formatter { text, out: String::new() };
    f.block(&nodes, 0, 0, text.len());
    let mut out = f.out.trim_end().to_string();
    out.push('\n');
    if out.trim().is_empty() {
        out.clear();
    }
    Ok(out)
}

struct Formatter<'t> {
    text: &'t str,
    out: String,
}

impl Formatter<'_> {
    /// The nodes of one block, each on its own line, with the comments of the gaps around them.
    fn block(&mut self, nodes: &[Node], depth: usize, from: usize, to: usize) {
        let mut pos = from;
        let mut first = true;
        for n in nodes {
            self.gap(pos, n.start, depth, first);
            self.line(n, depth);
            pos = n.end;
            first = false;
        }
        self.gap(pos, to, depth, first);
    }

    /// Comments and blank lines between `from` and `to`: a comment on the line where the previous node
    /// ended stays at its end; others get their own line; runs of blank lines become one.
    fn gap(&mut self, from: usize, to: usize, depth: usize, first: bool) {
        let gap = &self.text[from..to];
        let mut newlines = 0;
        let mut rest = gap;
        while let Some(i) = rest.find(['#', '\n', '\r']) {
            if rest.as_bytes()[i] != b'#' {
                // `\n`, `\r\n` or a lone `\r`: one line break each, as the grammar counts them.
                newlines += 1;
                let crlf = rest[i..].starts_with("\r\n");
                rest = &rest[i + if crlf { 2 } else { 1 }..];
                continue;
            }
            let end = rest[i..].find(['\n', '\r']).map_or(rest.len(), |e| i + e);
            let comment = rest[i..end].trim_end();
            if newlines == 0 && !first && !self.out.is_empty() {
                if self.out.ends_with('\n') {
                    self.out.pop();
                }
                self.out.push_str("  ");
                self.out.push_str(comment);
                self.out.push('\n');
            } else {
                self.blank_line_if(newlines >= 2 && !first);
                self.indent(depth);
                self.out.push_str(comment);
                self.out.push('\n');
            }
            rest = &rest[end..];
            newlines = 0;
        }
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.blank_line_if(newlines >= 2 && !first && to < self.text.len());
    }

    fn blank_line_if(&mut self, yes: bool) {
        if yes && !self.out.is_empty() && !self.out.ends_with("\n\n") && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
    }

    fn indent(&mut self, depth: usize) {
        self.out.push_str(&"  ".repeat(depth));
    }

    /// One statement: its words, then its block (inline or over several lines).
    fn line(&mut self, n: &Node, depth: usize) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.indent(depth);
        let text = &self.text[n.start..n.end];
        if n.verbatim {
            self.out.push_str(text.trim_end());
            self.out.push('\n');
            return;
        }
        let Some(open) = brace(text) else {
            self.out.push_str(&words(text));
            self.out.push('\n');
            return;
        };
        let (open, close) = (n.start + open, n.start + text.rfind('}').unwrap_or(text.len() - 1));
        let (head, comments) = words_and_comments(&self.text[n.start..open]);
        let inner = &self.text[open + 1..close];
        if n.children.is_empty() && !inner.contains('#') {
            self.out.push_str(&with_comments(format!("{head} {{ }}"), &comments));
            self.out.push('\n');
            return;
        }
        let inline = !inner.contains('\n') && !inner.contains('#') && n.children.iter().all(|c| c.children.is_empty());
        if inline {
            let items: Vec<String> = n.children.iter().map(|c| words(&self.text[c.start..c.end])).collect();
            let one = format!("{head} {{ {} }}", items.join("; "));
            if one.len() + 2 * depth <= WIDTH {
                self.out.push_str(&with_comments(one, &comments));
                self.out.push('\n');
                return;
            }
        }
        self.out.push_str(&format!("{head} {{\n"));
        for c in &comments {
            self.indent(depth + 1);
            self.out.push_str(c);
            self.out.push('\n');
        }
        self.block(&n.children, depth + 1, open + 1, close);
        self.indent(depth);
        self.out.push_str("}\n");
    }
}

/// A line and the comments that end it.
fn with_comments(line: String, comments: &[String]) -> String {
    comments.iter().fold(line, |line, c| format!("{line}  {c}"))
}

/// The offset of the first `{` outside strings and comments.
fn brace(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => return Some(i),
            '"' => skip_string(&mut chars),
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn skip_string(chars: &mut std::str::CharIndices) {
    while let Some((_, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return,
            _ => {}
        }
    }
}

/// The words of a statement head, single-spaced: `, ` in lists, `env("X")` glued. Comments inside a
/// statement (rare) move to its end.
fn words(text: &str) -> String {
    let (words, comments) = words_and_comments(text);
    with_comments(words, &comments)
}

/// The words of a statement head, and its comments, which a block's head cannot end with (its `{`
/// would be commented out): they go after the block when it stays on one line, else first inside it.
fn words_and_comments(text: &str) -> (String, Vec<String>) {
    let mut tokens: Vec<String> = Vec::new();
    let mut comments = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() || c == ';' => {}
            '#' => {
                let end = text[i..].find(['\n', '\r']).map_or(text.len(), |e| i + e);
                comments.push(text[i..end].trim_end().to_string());
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
            '"' => {
                let mut end = text.len();
                let mut escaped = false;
                for (j, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = j + 1;
                        break;
                    }
                }
                tokens.push(text[i..end].to_string());
            }
            ',' | '(' | ')' => tokens.push(c.to_string()),
            '>' if chars.peek().is_some_and(|(_, n)| *n == '=') => {
                chars.next();
                tokens.push(">=".to_string());
            }
            _ => {
                let mut end = text.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || ";,()\"#>".contains(c) {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                tokens.push(text[i..end].to_string());
            }
        }
    }
    let mut out = String::new();
    for (k, t) in tokens.iter().enumerate() {
        let glue = k == 0 || t == "," || t == "(" || t == ")" || tokens[k - 1] == "(";
        if !glue {
            out.push(' ');
        }
        out.push_str(t);
    }
    (out, comments)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn layout_is_canonical_and_stable() {
        let messy = "targets   ejabberd>=23.01 ,prosody >= 0.12\n\n\n# the site\ndomain \"a.example\" {   admins alice ,bob ; archive { default roster;retention 1y }\n  # rooms\n  groupchat \"conference\"{history 50}   # inline\n}\nlisten client 5222 {tls required}\n";
        let once = format(messy).unwrap();
        assert_eq!(
            once,
            "targets ejabberd >= 23.01, prosody >= 0.12\n\n# the site\ndomain \"a.example\" {\n  admins alice, bob\n  archive { default roster; retention 1y }\n  # rooms\n  groupchat \"conference\" { history 50 }  # inline\n}\nlisten client 5222 { tls required }\n"
        );
        assert_eq!(format(&once).unwrap(), once);
    }

    #[test]
    fn a_syntax_error_is_returned_not_formatted() {
        assert!(format("domain {").is_err());
    }
}
