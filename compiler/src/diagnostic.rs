//! Diagnostics are data: a code, a message, a place, and maybe a hint. Only the binary renders them.

use crate::ast::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Every diagnostic the compiler can give. The doc line of each names an input that triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// `domain chat.example.com { }`: the text does not follow the grammar.
    Syntax,
    /// `listen client 70000`: a port outside 1..=65535.
    BadPort,
    /// `listen client 5222 on 300.0.0.1`: not an IP address.
    BadAddress,
    /// `api "/api" allow 10.0.0.0/40`: not an IP network.
    BadNetwork,
    /// Two `domain "a"` blocks, or two listeners on one port.
    Duplicate,
    /// `admins "@x"`: not a valid JID.
    BadJid,
    /// `domain "-x-" { }`: not a valid domain name.
    BadDomain,
    /// `targets ejabberd >= 22.10`: a version older than the compiler supports.
    UnsupportedVersion,
    /// `websocket "xmpp"`: an HTTP path must start with `/`.
    BadPath,
    /// `websocket "/ws"` on a `client` listener: the option belongs to another listener kind.
    MisplacedOption,
    /// `api "/api"` with a Prosody target: the server has no such feature.
    NotOnServer,
    /// A file with no `domain` block.
    NoDomain,
}

impl Code {
    /// The short code shown to authors, e.g. `E001`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E001",
            Code::BadPort => "E002",
            Code::BadAddress => "E003",
            Code::BadNetwork => "E004",
            Code::Duplicate => "E005",
            Code::BadJid => "E006",
            Code::BadDomain => "E007",
            Code::UnsupportedVersion => "E008",
            Code::BadPath => "E009",
            Code::MisplacedOption => "E010",
            Code::NotOnServer => "W001",
            Code::NoDomain => "E011",
        }
    }
}

/// One finding, with its place already turned into line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lower case, no trailing period.
    pub message: String,
    /// Starts with "try …" where there is something to try.
    pub hint: Option<String>,
    pub span: Span,
    /// 1-based line and column (in characters) of the span's start.
    pub line: u32,
    pub col: u32,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collects diagnostics while a stage runs; positions are resolved against the sources.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    sources: &'a [crate::Source],
    pub(crate) found: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(sources: &'a [crate::Source]) -> Self {
        Sink { sources, found: Vec::new() }
    }

    pub(crate) fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(code, Severity::Error, span, message.into())
    }

    pub(crate) fn warning(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(code, Severity::Warning, span, message.into())
    }

    fn push(&mut self, code: Code, severity: Severity, span: Span, message: String) -> &mut Diagnostic {
        let (line, col) = self.sources.get(span.file).map_or((1, 1), |s| line_col(&s.text, span.start));
        self.found.push(Diagnostic { code, severity, message, hint: None, span, line, col });
        let last = self.found.len() - 1;
        &mut self.found[last]
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.found.iter().any(Diagnostic::is_error)
    }
}

impl Diagnostic {
    pub(crate) fn hint(&mut self, hint: impl Into<String>) {
        self.hint = Some(hint.into());
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (clamp(line), clamp(col))
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (levenshtein(word, c), c)).filter(|&(d, _)| d <= limit).min().map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diag + usize::from(ca != cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_strangers() {
        assert_eq!(nearest("domian", ["domain", "listen"]), Some("domain"));
        assert_eq!(nearest("xyz", ["domain", "listen"]), None);
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
