//! Parsing: source text to the typed AST, through the pest grammar in `grammar/xmpp.pest`.

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, Sink, nearest};

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/xmpp.pest"]
struct Grammar;

/// Parses one file. Syntax errors are reported to `sink` (each broken statement once) and yield `None`.
pub(crate) fn parse(file: usize, text: &str, sink: &mut Sink) -> Option<File> {
    let root = parse_file(file, text, sink)?.next()?;
    let b = Builder { file };
    Some(File { statements: root.into_inner().filter_map(|p| b.statement(p)).collect() })
}

/// The grammar's text, for the documentation of its keywords (the `///` comment of each rule).
const GRAMMAR: &str = include_str!("../../grammar/xmpp.pest");

/// What may stand at a place in a file, for an editor's completion.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The keywords the grammar accepts there, sorted.
    pub keywords: Vec<String>,
    /// A feature name is accepted there (after `features`).
    pub feature: bool,
}

/// What may stand at byte `at` of `text` (an editor's cursor, at the start of the word being typed).
/// Nothing when the text before `at` already has an error.
pub fn expected_at(text: &str, at: usize) -> Expected {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    // A character no rule accepts, so that pest stops exactly there and says what it wanted.
    let probe = format!("{}\u{1}", &text[..at]);
    let Err(e) = Grammar::parse(Rule::file, &probe) else { return Expected::default() };
    let (place_, _) = place(&e, 0);
    let ErrorVariant::ParsingError { positives, .. } = &e.variant else { return Expected::default() };
    if place_ != at {
        return Expected::default();
    }
    let mut keywords: Vec<String> = positives.iter().filter_map(|r| keyword(*r)).collect();
    keywords.extend(statement_words(positives).iter().map(|k| k.to_string()));
    keywords.sort();
    keywords.dedup();
    // A word after `features` (and its commas) names a feature.
    let before = text[..at].trim_end_matches(|c: char| c.is_alphanumeric() || " \t\r\n,-_".contains(c));
    let last_words = text[before.len()..at].split([' ', '\t', '\r', '\n', ',']).find(|w| !w.is_empty());
    let feature = positives.contains(&Rule::word) && last_words == Some("features");
    Expected { keywords, feature }
}

/// The grammar's own words for a keyword: the `///` comment of each rule it begins, one paragraph each.
pub fn keyword_doc(word: &str) -> Option<String> {
    let (mut doc, mut found) = (Vec::new(), Vec::new());
    for line in GRAMMAR.lines() {
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim());
            continue;
        }
        let first = line
            .split_once("{ ")
            .map_or("", |(_, body)| body.trim_start_matches('(').split([' ', '|']).next().unwrap_or(""));
        if !doc.is_empty() && first.strip_prefix("kw_").is_some_and(|k| k.replace('_', "-") == word) {
            found.push(doc.join(" "));
        }
        doc.clear();
    }
    (!found.is_empty()).then(|| found.join("\n\n"))
}

/// The most syntax errors one file reports; the rest of the file goes unread after them.
pub const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses `text` as a file. On an error it goes on, so that a file with several broken statements
/// reports each: the statement or item the error falls in is blanked out (spaces, line breaks kept, so
/// every position holds) and the text parsed again from the statement that held it, up to
/// [`MAX_SYNTAX_ERRORS`]. What only follows from an earlier error is not reported: a block left open to
/// the end of the file says so once.
fn parse_file<'t>(file: usize, text: &'t str, sink: &mut Sink) -> Option<Pairs<'t, Rule>> {
    let mut marks = precheck(file, text, sink)?;
    let mut error = match Grammar::parse(Rule::file, text) {
        Ok(pairs) => return Some(pairs),
        Err(e) => e,
    };
    // The text with the broken items blanked, and where the statement the last one was in begins:
    // what precedes it parsed, so each new parse starts there.
    let (mut masked, mut base) = (text.to_string(), 0);
    for reported in 1.. {
        let (at, new_item) = place(&error, base);
        let item = broken_item(&marks, &masked, base, at, new_item);
        let open_line = item.as_ref().and_then(|i| i.unclosed).map(|open| sink.line_col(file, open).0);
        let d = report(file, &masked, at, &error.variant, sink);
        if let Some(line) = open_line
            && d.hint.is_none()
        {
            d.hint(format!("the `{{` on line {line} is never closed: is a `}}` missing?"));
        }
        let Some(BrokenItem { from, to, statement, .. }) = item else { break };
        if reported == MAX_SYNTAX_ERRORS || !blank(&mut masked, from, to) {
            break;
        }
        base = statement;
        let rest = &masked[base..];
        marks = precheck(file, rest, &mut Sink::new(&[]))?;
        marks.iter_mut().for_each(|m| m.at += base);
        match Grammar::parse(Rule::file, rest) {
            Err(e) if !at_the_end(&masked, place(&e, base).0) => error = e,
            _ => break,
        }
    }
    None
}

/// Where a parse error of the text from `base` on is, and whether a new statement or item was expected
/// there (rather than the rest of one begun before it).
fn place(e: &pest::error::Error<Rule>, base: usize) -> (usize, bool) {
    let at = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let new_item = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => positives
            .iter()
            .any(|r| matches!(r, Rule::file | Rule::EOI | Rule::key) || keyword(*r).is_some_and(|k| leads(&k))),
        ErrorVariant::CustomError { .. } => false,
    };
    (base + at, new_item)
}

/// True when `word` begins a statement or an item of a block.
fn leads(word: &str) -> bool {
    STATEMENT_KEYWORDS.contains(&word)
        || Rule::all_rules().iter().any(|r| is_item(*r) && keyword(*r).as_deref() == Some(word))
}

/// True when nothing but blanks and comments follows `at`.
fn at_the_end(text: &str, at: usize) -> bool {
    text.get(at..).unwrap_or("").lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// The statement or item an error falls in.
struct BrokenItem {
    /// Its byte range: from where it begins to where the next one of its block begins, or the block ends.
    from: usize,
    to: usize,
    /// Where its block opens, when no `}` closes it: then it runs to the end of the file.
    unclosed: Option<usize>,
    /// Where the top-level statement that holds it begins.
    statement: usize,
}

/// The statement or item an error at `at` falls in, as `marks` lay the text from `base` out; it begins
/// at `at` itself when a new one was expected there.
fn broken_item(marks: &[Mark], text: &str, base: usize, at: usize, new_item: bool) -> Option<BrokenItem> {
    let split = marks.partition_point(|m| m.at < at);
    let mut open = Vec::new();
    for m in &marks[..split] {
        match m.kind {
            MarkKind::Open => open.push(m.at + 1),
            MarkKind::Close => _ = open.pop(),
            _ => {}
        }
    }
    let (depth, block_start) = (open.len(), open.last().copied().unwrap_or(base));
    let mut level = 0usize;
    let block_end = marks[split..].iter().find_map(|m| match m.kind {
        MarkKind::Open => {
            level += 1;
            None
        }
        MarkKind::Close if level == 0 => Some(m.at),
        MarkKind::Close => {
            level -= 1;
            None
        }
        _ => None,
    });
    // A block no `}` closes swallows the rest of the file: its items are not told apart.
    let unclosed = (block_end.is_none() && depth > 0).then(|| block_start - 1);
    let block_end = block_end.unwrap_or(text.len());
    // Where an item of that block may begin: a line's first token (unless a list goes on from the line
    // before), and right after a `;` or a nested block's `}`.
    let starts = marks.iter().filter(|m| m.at >= block_start && m.at < block_end && m.depth == depth).filter_map(|m| {
        match m.kind {
            MarkKind::Line { continues: false } => Some(m.at),
            MarkKind::Semicolon | MarkKind::Close => Some(m.at + 1),
            _ => None,
        }
    });
    let blank_to = |s: usize| text.get(s..at).is_some_and(|t| t.trim().is_empty());
    let from = match starts.clone().rfind(|&s| s <= at) {
        Some(s) if new_item && blank_to(s) => at,
        _ => starts.clone().rfind(|&s| s < at && !blank_to(s)).unwrap_or(block_start),
    };
    let next = starts.filter(|&s| s > at).find(|&s| s > from);
    let to = if unclosed.is_some() { block_end } else { next.unwrap_or(block_end).max(at) };
    // The statement holding it: the last place at the top level, at or before it, where one surely
    // begins (a statement's keyword first on its line, or after a `;` or a block's `}`).
    let statement = marks
        .iter()
        .filter(|m| m.depth == 0 && m.at <= from)
        .filter_map(|m| match m.kind {
            MarkKind::Line { .. } if STATEMENT_KEYWORDS.contains(&word_at(text, m.at)) => Some(m.at),
            MarkKind::Semicolon | MarkKind::Close => Some(m.at + 1),
            _ => None,
        })
        .rfind(|&s| s <= from)
        .unwrap_or(base);
    (from < to && text.is_char_boundary(from) && text.is_char_boundary(to)).then_some(BrokenItem {
        from,
        to,
        unclosed,
        statement,
    })
}

/// Overwrites `text[from..to]` with spaces, line breaks kept; false when it held nothing else already.
fn blank(text: &mut String, from: usize, to: usize) -> bool {
    let part = &text[from..to];
    if part.chars().all(char::is_whitespace) {
        return false;
    }
    // Byte for byte: a character of several bytes becomes as many spaces, so every position holds.
    let spaces: String = part.bytes().map(|b| if b == b'\n' || b == b'\r' { b as char } else { ' ' }).collect();
    text.replace_range(from..to, &spaces);
    true
}

/// The deepest braces nest, raw blocks included: far beyond any configuration, and shallow enough
/// that parsing (which recurses once per level) runs in the sandbox's stack as natively.
pub const MAX_NESTING: usize = 64;

/// What the grammar accepts but must not be parsed, found in one linear pass before pest runs:
/// braces nested past [`MAX_NESTING`], and string escapes other than `\"`, `\\`, `\n` and `\t`
/// (which would otherwise lose their backslash). Follows the grammar's view of the text: DSL strings
/// and comments hide braces; inside a raw block (`ejabberd {`, `prosody {`) every brace counts.
///
/// On the way it lays the text out for error recovery: the [`Mark`]s where statements and items may
/// begin or end. `None` (the error in `sink`) when the text must not be parsed.
fn precheck(file: usize, text: &str, sink: &mut Sink) -> Option<Vec<Mark>> {
    let bytes = text.as_bytes();
    // Braces, as the grammar pairs them; inside a raw block also YAML's square brackets.
    let (mut depth, mut square, mut raw_base, mut i) = (0usize, 0usize, None::<usize>, 0);
    let mut last_word = (0, 0);
    let (mut marks, mut line_start, mut last_token) = (Vec::new(), true, b'\n');
    while i < bytes.len() {
        let b = bytes[i];
        if raw_base.is_none() && !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'#') {
            if line_start {
                marks.push(Mark { at: i, depth, kind: MarkKind::Line { continues: last_token == b',' } });
            }
            (line_start, last_token) = (false, b);
        }
        line_start |= matches!(b, b'\n' | b'\r');
        match b {
            b'{' => {
                if raw_base.is_none() && matches!(&text[last_word.0..last_word.1], "ejabberd" | "prosody") {
                    raw_base = Some(depth);
                }
                depth += 1;
                if depth + square > MAX_NESTING {
                    return too_deep(file, i, sink);
                }
                marks.push(Mark { at: i, depth, kind: MarkKind::Open });
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if raw_base == Some(depth) {
                    (raw_base, square) = (None, 0);
                }
                marks.push(Mark { at: i, depth, kind: MarkKind::Close });
            }
            b'[' if raw_base.is_some() => {
                square += 1;
                if depth + square > MAX_NESTING {
                    return too_deep(file, i, sink);
                }
            }
            b']' if raw_base.is_some() => square = square.saturating_sub(1),
            _ if raw_base.is_some() => {}
            b';' => {
                marks.push(Mark { at: i, depth, kind: MarkKind::Semicolon });
                last_word = (0, 0);
            }
            b'#' => {
                i = bytes[i..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    if bytes[i] == b'\\' {
                        if !matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b'n' | b't')) {
                            let next = text[i + 1..].chars().next();
                            let end = next.map_or(i + 1, |c| i + 1 + c.len_utf8());
                            let shown = format!("\\{}", next.map(|c| c.escape_debug().to_string()).unwrap_or_default());
                            let d = sink.error(
                                Code::Syntax,
                                Span { file, start: i, end },
                                format!("unknown escape `{shown}` in a string"),
                            );
                            d.hint("strings know `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash");
                            return None;
                        }
                        i += 1;
                    }
                    i += 1;
                }
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-') {
                    i += 1;
                }
                last_word = (start, i);
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => last_word = (0, 0),
        }
        i += 1;
    }
    Some(marks)
}

/// A place where, for error recovery, a statement or item may begin or end; `depth` is the depth of
/// the braces the text after it is at.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: usize,
    depth: usize,
    kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MarkKind {
    /// A line's first token; `continues` when the line before ended in `,` (a list goes on).
    Line {
        continues: bool,
    },
    Open,
    Close,
    Semicolon,
}

fn too_deep<T>(file: usize, at: usize, sink: &mut Sink) -> Option<T> {
    sink.error(
        Code::Syntax,
        Span { file, start: at, end: at + 1 },
        format!("blocks nest deeper than {MAX_NESTING} levels here"),
    )
    .hint("try a flatter layout; a server option is rarely more than a few levels deep");
    None
}

/// A statement or item of the layout tree: its byte range, and the items of its block.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) children: Vec<Node>,
    /// A raw block: copied as written.
    pub(crate) verbatim: bool,
}

/// The layout tree `format` works on: statement and item spans with their nesting. `None` (with the
/// syntax error in `sink`) when the text does not parse.
pub(crate) fn outline(text: &str, sink: &mut Sink) -> Option<Vec<Node>> {
    Some(parse_file(0, text, sink)?.next()?.into_inner().filter(|p| p.as_rule() != Rule::EOI).map(node).collect())
}

fn node(p: Pair<Rule>) -> Node {
    let span = p.as_span();
    let verbatim = p.as_rule() == Rule::raw;
    let mut children = Vec::new();
    if !verbatim {
        collect_items(p, &mut children);
    }
    Node { start: span.start(), end: span.start() + without_trailing_trivia(span.as_str()).len(), children, verbatim }
}

/// A statement's text without the blanks and whole-line comments pest leaves at its end when an
/// optional last part (`listen client 5222` without `on` or a block) was tried and not found: those
/// belong to the gap after it, where `fmt` keeps them on their own lines.
fn without_trailing_trivia(text: &str) -> &str {
    let mut text = text.trim_end();
    loop {
        let line_start = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        if line_start == 0 || !text[line_start..].trim_start().starts_with('#') {
            return text;
        }
        text = text[..line_start].trim_end();
    }
}

/// The items of a block (domain items, listener items, settings), looking through `settings`.
fn collect_items(p: Pair<Rule>, out: &mut Vec<Node>) {
    for inner in p.into_inner() {
        match inner.as_rule() {
            Rule::settings => collect_items(inner, out),
            rule if is_item(rule) => out.push(node(inner)),
            _ => {}
        }
    }
}

/// Turns pest's error into a diagnostic with human names and, for a misspelled word, the nearest keyword.
fn report<'s>(file: usize, text: &str, start: usize, e: &ErrorVariant<Rule>, sink: &'s mut Sink) -> &'s mut Diagnostic {
    let found = word_at(text, start);
    let span = Span { file, start, end: start + found.len().max(1).min(text.len().saturating_sub(start).max(1)) };
    let (expected, keywords) = match e {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut kws: Vec<String> = positives.iter().filter_map(|r| keyword(*r)).collect();
            let mut names: Vec<String> =
                positives.iter().filter(|r| !matches!(r, Rule::file | Rule::raw)).map(|r| describe(*r)).collect();
            let statements = statement_words(positives);
            kws.extend(statements.iter().map(|k| k.to_string()));
            names.extend(statements.iter().map(|k| format!("`{k}`")));
            names.sort();
            names.dedup();
            (names, kws)
        }
        ErrorVariant::CustomError { message } => (vec![message.clone()], Vec::new()),
    };
    let what = if found.is_empty() {
        if start >= text.len() { "the end of the file".to_string() } else { format!("`{}`", first_char(text, start)) }
    } else {
        format!("`{found}`")
    };
    let message = format!("expected {}, found {what}", one_of(&expected));
    let d = sink.error(Code::Syntax, span, message);
    if let Some(k) = nearest(found, keywords.iter().map(String::as_str)).filter(|k| *k != found) {
        d.hint(format!("try `{k}`"));
    } else if expected.iter().any(|n| n == "a string") && !found.is_empty() {
        d.hint(format!("try quoting it: \"{found}\""));
    }
    d
}

fn first_char(text: &str, at: usize) -> char {
    text.get(at..).and_then(|s| s.chars().next()).unwrap_or(' ')
}

/// The word (letters, digits, `.`, `-`, `_`, `@`, `/`) starting at `at`.
fn word_at(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let len = rest.find(|c: char| !(c.is_alphanumeric() || "._-@/:".contains(c))).unwrap_or(rest.len());
    &rest[..len]
}

fn one_of(names: &[String]) -> String {
    match names {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The keywords pest names only by a rule when it expects a statement (`file`: all of them) or a raw
/// block (`raw`: `ejabberd`, `prosody`).
fn statement_words(positives: &[Rule]) -> &'static [&'static str] {
    if positives.contains(&Rule::file) {
        STATEMENT_KEYWORDS
    } else if positives.contains(&Rule::raw) {
        &["ejabberd", "prosody"]
    } else {
        &[]
    }
}

/// The keywords that start a top-level statement, for errors where pest names only `file`.
const STATEMENT_KEYWORDS: &[&str] = &[
    "targets",
    "include",
    "secrets-dir",
    "log",
    "certificate",
    "domain",
    "listen",
    "auth",
    "storage",
    "limits",
    "turn",
    "metrics",
    "ejabberd",
    "prosody",
];

/// A top-level statement's rule.
fn is_statement(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::targets
            | Rule::include
            | Rule::secrets_dir
            | Rule::log
            | Rule::certificate
            | Rule::domain
            | Rule::listen
            | Rule::auth
            | Rule::storage
            | Rule::limits
            | Rule::turn
            | Rule::metrics
            | Rule::raw
    )
}

/// An item of a block: of a domain, a listener, an archive, or a settings block.
fn is_item(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::admins
            | Rule::certificate
            | Rule::archive
            | Rule::archive_default
            | Rule::retention
            | Rule::registration
            | Rule::features
            | Rule::profile
            | Rule::groupchat
            | Rule::upload
            | Rule::proxy
            | Rule::pubsub
            | Rule::contact
            | Rule::max_sessions
            | Rule::tls
            | Rule::websocket
            | Rule::bosh
            | Rule::upload_path
            | Rule::api
            | Rule::verify
            | Rule::trust
            | Rule::setting
    )
}

/// The keyword a rule starts with: a `kw_` rule's own (a rule's Debug form is its name in the grammar),
/// or a statement's or item's first keyword.
fn keyword(rule: Rule) -> Option<String> {
    let name = format!("{rule:?}");
    if let Some(k) = name.strip_prefix("kw_") {
        return Some(k.replace('_', "-"));
    }
    let starts_with_own_name = is_statement(rule) || is_item(rule);
    match rule {
        Rule::upload_path => Some("upload".into()),
        Rule::archive_default => Some("default".into()),
        Rule::setting | Rule::raw => None,
        _ if starts_with_own_name => Some(name.replace('_', "-")),
        _ => None,
    }
}

/// The name of a rule as an author reads it in "expected …".
fn describe(rule: Rule) -> String {
    if let Some(k) = keyword(rule) {
        return format!("`{k}`");
    }
    match rule {
        Rule::EOI => "the end of the file",
        Rule::string | Rule::string_inner => "a string",
        Rule::integer => "a number",
        Rule::version => "a version such as `23.01`",
        Rule::duration => "a duration such as `30d`",
        Rule::jid | Rule::bare_jid => "a user name or JID",
        Rule::network => "an IP network such as `10.0.0.0/8`",
        Rule::address => "an IP address",
        Rule::target => "a server such as `ejabberd >= 23.01`",
        Rule::settings => "`{`",
        Rule::setting | Rule::key => "a setting",
        Rule::secret => "`env(\"NAME\")` or `file(\"/path\")`",
        Rule::size => "a size such as `50MB`",
        Rule::rate => "a rate such as `50KB/s`",
        Rule::word => "a word",
        Rule::raw_block | Rule::raw_text => "a raw block `{ … }` with balanced braces",
        _ => "something else",
    }
    .to_string()
}

struct Builder {
    file: usize,
}

impl Builder {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span { file: self.file, start: s.start(), end: s.end() }
    }

    fn spanned<T>(&self, p: &Pair<Rule>, value: T) -> Spanned<T> {
        Spanned { value, span: self.span(p) }
    }

    fn text(&self, p: &Pair<Rule>) -> Spanned<String> {
        self.spanned(p, p.as_str().to_string())
    }

    /// A string literal with its escapes resolved.
    fn string(&self, p: &Pair<Rule>) -> Spanned<String> {
        let inner = p.clone().into_inner().next().map_or("", |i| i.as_str());
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        self.spanned(p, out)
    }

    fn settings(&self, p: &Pair<Rule>) -> Settings {
        let items = p
            .clone()
            .into_inner()
            .filter_map(|setting| {
                let span = self.span(&setting);
                let mut it = setting.into_inner();
                let key = self.text(&it.next()?);
                Some(Setting { key, values: it.map(|v| self.value(v)).collect(), span })
            })
            .collect();
        Settings { items, span: self.span(p) }
    }

    fn value(&self, p: Pair<Rule>) -> Spanned<Value> {
        let text = p.as_str();
        let value = match p.as_rule() {
            Rule::secret => {
                let mut it = p.clone().into_inner();
                let kind = it.next().map(|k| k.as_rule());
                let arg = it.next().map(|a| self.string(&a).value).unwrap_or_default();
                if kind == Some(Rule::kw_file) {
                    Value::Secret(Secret::File(arg))
                } else {
                    Value::Secret(Secret::Env(arg))
                }
            }
            Rule::network => Value::Network(text.to_string()),
            Rule::rate => size(text.trim_end_matches("/s")).map_or_else(|| too_large(text), Value::Rate),
            Rule::size => size(text).map_or_else(|| too_large(text), Value::Size),
            Rule::duration => duration(text).map_or_else(|| too_large(text), Value::Duration),
            Rule::integer => text.parse().map_or_else(|_| too_large(text), Value::Integer),
            Rule::string => Value::Str(self.string(&p).value),
            Rule::kw_on => Value::Switch(true),
            Rule::kw_off => Value::Switch(false),
            _ => Value::Word(text.to_string()),
        };
        self.spanned(&p, value)
    }

    fn statement(&self, p: Pair<Rule>) -> Option<Statement> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::targets => Statement::Targets(p.into_inner().skip(1).map(|t| self.target(t)).collect()),
            Rule::domain => {
                let mut it = p.into_inner().skip(1);
                let name = self.string(&it.next()?);
                let items = it.filter_map(|i| self.domain_item(i)).collect();
                Statement::Domain(Domain { name, items, span })
            }
            Rule::listen => Statement::Listen(self.listen(p)?),
            Rule::include => Statement::Include(self.string(&p.into_inner().nth(1)?)),
            Rule::secrets_dir => Statement::SecretsDir(self.string(&p.into_inner().nth(1)?)),
            Rule::certificate => {
                let strings: Vec<_> = p.into_inner().filter(|i| i.as_rule() == Rule::string).collect();
                Statement::Certificate { cert: self.string(strings.first()?), key: self.string(strings.get(1)?), span }
            }
            Rule::auth => {
                let mut it = p.into_inner().skip(1);
                let kind = it.next()?;
                let value = match kind.as_rule() {
                    Rule::kw_internal => AuthKind::Internal(it.next().map(|s| self.settings(&s))),
                    Rule::kw_sql => AuthKind::Sql(it.next().map(|s| self.settings(&s))),
                    Rule::kw_ldap => AuthKind::Ldap(self.settings(&it.next()?)),
                    _ => AuthKind::External(self.string(&it.next()?)),
                };
                Statement::Auth(Spanned { value, span })
            }
            Rule::storage => {
                let mut it = p.into_inner().skip(1);
                let kind = it.next()?;
                let value = match kind.as_rule() {
                    Rule::kw_internal => StorageKind::Internal,
                    rule => {
                        let sql = match rule {
                            Rule::kw_postgres => SqlKind::Postgres,
                            Rule::kw_mysql => SqlKind::Mysql,
                            _ => SqlKind::Sqlite,
                        };
                        StorageKind::Sql(sql, self.settings(&it.next()?))
                    }
                };
                Statement::Storage(Spanned { value, span })
            }
            Rule::limits => Statement::Limits(self.settings(&p.into_inner().nth(1)?)),
            Rule::turn => {
                let mut it = p.into_inner().skip(1);
                let host = self.string(&it.next()?);
                Statement::Turn { host, settings: it.next().map(|s| self.settings(&s)), span }
            }
            Rule::metrics => {
                let mut it = p.into_inner().skip(1);
                let path = self.string(&it.next()?);
                let allow = it.filter(|n| n.as_rule() == Rule::network).map(|n| self.text(&n)).collect();
                Statement::Metrics { path, allow, span }
            }
            Rule::raw => {
                let mut it = p.into_inner();
                let server = it.next()?;
                let server = self.spanned(
                    &server,
                    if server.as_rule() == Rule::kw_prosody { Server::Prosody } else { Server::Ejabberd },
                );
                let text = it.next()?.into_inner().next()?;
                Statement::Raw { server, text: self.text(&text) }
            }
            Rule::log => {
                let level = p.into_inner().nth(1)?;
                let value = match level.as_rule() {
                    Rule::kw_debug => LogLevel::Debug,
                    Rule::kw_info => LogLevel::Info,
                    Rule::kw_warning => LogLevel::Warning,
                    _ => LogLevel::Error,
                };
                Statement::Log(self.spanned(&level, value))
            }
            _ => return None,
        })
    }

    fn target(&self, p: Pair<Rule>) -> Target {
        let mut it = p.into_inner();
        let (server, version) = (it.next(), it.next());
        let server = server
            .map_or(Spanned { value: Server::Ejabberd, span: Span { file: self.file, start: 0, end: 0 } }, |s| {
                self.spanned(&s, if s.as_rule() == Rule::kw_prosody { Server::Prosody } else { Server::Ejabberd })
            });
        let version = version.map_or(Spanned { value: String::new(), span: server.span }, |v| self.text(&v));
        Target { server, version }
    }

    fn domain_item(&self, p: Pair<Rule>) -> Option<DomainItem> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::admins => DomainItem::Admins(
                p.into_inner()
                    .skip(1)
                    .map(|j| match j.clone().into_inner().next() {
                        Some(s) if s.as_rule() == Rule::string => self.string(&s),
                        _ => self.text(&j),
                    })
                    .collect(),
            ),
            Rule::certificate => {
                let strings: Vec<_> = p.into_inner().filter(|i| i.as_rule() == Rule::string).collect();
                DomainItem::Certificate { cert: self.string(strings.first()?), key: self.string(strings.get(1)?), span }
            }
            Rule::archive => {
                let mut archive = Archive { enabled: true, default: None, retention: None, span };
                for item in p.into_inner().skip(1) {
                    match item.as_rule() {
                        Rule::kw_off => archive.enabled = false,
                        Rule::archive_default => {
                            let policy = item.into_inner().nth(1)?;
                            let value = match policy.as_rule() {
                                Rule::kw_always => ArchivePolicy::Always,
                                Rule::kw_never => ArchivePolicy::Never,
                                _ => ArchivePolicy::Roster,
                            };
                            archive.default = Some(self.spanned(&policy, value));
                        }
                        Rule::retention => {
                            let d = item.into_inner().nth(1)?;
                            // Past 64 bits of seconds: kept saturated, refused by lowering.
                            let value =
                                duration(d.as_str()).unwrap_or(Duration { amount: u64::MAX, unit: TimeUnit::Year });
                            archive.retention = Some(self.spanned(&d, value));
                        }
                        _ => {}
                    }
                }
                DomainItem::Archive(archive)
            }
            Rule::registration => {
                let mut it = p.into_inner().skip(1);
                let mode = it.next()?;
                let value = match mode.as_rule() {
                    Rule::kw_open => RegistrationMode::Open,
                    Rule::kw_invite => RegistrationMode::Invite,
                    _ => RegistrationMode::Closed,
                };
                DomainItem::Registration {
                    mode: self.spanned(&mode, value),
                    settings: it.next().map(|s| self.settings(&s)),
                }
            }
            Rule::features => DomainItem::Features(p.into_inner().skip(1).map(|w| self.text(&w)).collect()),
            Rule::profile => DomainItem::Profile(span),
            Rule::groupchat | Rule::upload | Rule::proxy => {
                let rule = p.as_rule();
                let mut it = p.into_inner().skip(1);
                let name = self.string(&it.next()?);
                let settings = it.next().map(|s| self.settings(&s));
                match rule {
                    Rule::upload => DomainItem::Upload { name, settings, span },
                    Rule::proxy => DomainItem::Proxy { name, settings, span },
                    _ => DomainItem::Groupchat { name, settings, span },
                }
            }
            Rule::pubsub => DomainItem::Pubsub(self.string(&p.into_inner().nth(1)?)),
            Rule::contact => DomainItem::Contact(self.settings(&p.into_inner().nth(1)?)),
            Rule::max_sessions => DomainItem::MaxSessions(self.value(p.into_inner().nth(1)?)),
            _ => return None,
        })
    }

    fn listen(&self, p: Pair<Rule>) -> Option<Listen> {
        let span = self.span(&p);
        let mut it = p.into_inner().skip(1).peekable();
        let kind = it.next()?;
        let kind = self.spanned(
            &kind,
            match kind.as_rule() {
                Rule::kw_client => ListenerKind::Client,
                Rule::kw_federation => ListenerKind::Federation,
                _ => ListenerKind::Http,
            },
        );
        let port = self.text(&it.next()?);
        let mut listen = Listen { kind, port, address: None, items: Vec::new(), span };
        for item in it {
            let item_span = self.span(&item);
            match item.as_rule() {
                Rule::address => listen.address = Some(self.text(&item)),
                Rule::tls => {
                    let mode = item.into_inner().nth(1)?;
                    let value = match mode.as_rule() {
                        Rule::kw_required => TlsMode::Required,
                        Rule::kw_direct => TlsMode::Direct,
                        Rule::kw_terminated => TlsMode::Terminated,
                        _ => TlsMode::Optional,
                    };
                    let value = ListenItem::Tls(self.spanned(&mode, value));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::websocket => {
                    let value = ListenItem::Websocket(self.string(&item.into_inner().nth(1)?));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::upload_path => {
                    let value = ListenItem::Upload(self.string(&item.into_inner().nth(1)?));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::bosh => {
                    let value = ListenItem::Bosh(self.string(&item.into_inner().nth(1)?));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::verify => {
                    let how = item.into_inner().nth(1)?;
                    let value =
                        if how.as_rule() == Rule::kw_dialback { PeerAuth::Dialback } else { PeerAuth::Certificate };
                    let value = ListenItem::Verify(self.spanned(&how, value));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::trust => {
                    let value = ListenItem::Trust(self.string(&item.into_inner().nth(1)?));
                    listen.items.push(Spanned { value, span: item_span });
                }
                Rule::api => {
                    let mut parts = item.into_inner().skip(1);
                    let path = self.string(&parts.next()?);
                    let allow = parts.filter(|n| n.as_rule() == Rule::network).map(|n| self.text(&n)).collect();
                    listen.items.push(Spanned { value: ListenItem::Api { path, allow }, span: item_span });
                }
                _ => {}
            }
        }
        Some(listen)
    }
}

fn too_large(text: &str) -> Value {
    Value::TooLarge(text.to_string())
}

/// A size token the grammar already accepted, e.g. `50MB`, in bytes; `None` past 64 bits.
fn size(text: &str) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let amount: u64 = text[..digits].parse().ok()?;
    let unit: u64 = match &text[digits..] {
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        _ => 1,
    };
    amount.checked_mul(unit)
}

/// A duration token the grammar already accepted, e.g. `30d`; `None` when its seconds pass 64 bits.
fn duration(text: &str) -> Option<Duration> {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let amount = text[..digits].parse().ok()?;
    let unit = match &text[digits..] {
        "s" => TimeUnit::Second,
        "min" => TimeUnit::Minute,
        "h" => TimeUnit::Hour,
        "d" => TimeUnit::Day,
        "w" => TimeUnit::Week,
        _ => TimeUnit::Year,
    };
    let d = Duration { amount, unit };
    // `seconds` saturates; a duration whose seconds do not fit is refused instead.
    (d.seconds() < u64::MAX).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::{GRAMMAR, Rule, STATEMENT_KEYWORDS, expected_at, is_item, is_statement, keyword, keyword_doc};

    /// The alternatives of a grammar rule written `name = _{ a | b | c }`.
    fn alternatives(name: &str) -> Vec<String> {
        let line = GRAMMAR.lines().find(|l| l.starts_with(&format!("{name} = _{{"))).unwrap_or_default();
        let body = line.split_once("_{").map_or("", |(_, b)| b).trim_end().trim_end_matches('}');
        body.split('|').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect()
    }

    fn rules_where(pick: fn(Rule) -> bool) -> Vec<String> {
        let mut names: Vec<String> = Rule::all_rules().iter().filter(|r| pick(**r)).map(|r| format!("{r:?}")).collect();
        names.sort();
        names
    }

    #[test]
    fn statement_rules_are_the_grammars() {
        let mut grammar = alternatives("statement");
        grammar.sort();
        assert!(grammar.len() > 5, "the grammar's statement rule was not found");
        assert_eq!(rules_where(is_statement), grammar);
    }

    #[test]
    fn item_rules_are_the_grammars() {
        let mut grammar: Vec<String> = ["domain_item", "listen_item", "archive_item"]
            .iter()
            .flat_map(|name| alternatives(name))
            .chain(["setting".to_string()])
            .collect();
        grammar.sort();
        grammar.dedup();
        assert!(grammar.len() > 10, "the grammar's item rules were not found");
        assert_eq!(rules_where(is_item), grammar);
    }

    #[test]
    fn statement_keywords_are_the_grammars() {
        // Each statement's first keyword; a raw block starts with the server's name.
        let mut grammar: Vec<String> = Rule::all_rules()
            .iter()
            .filter(|r| is_statement(**r))
            .flat_map(|r| match keyword(*r) {
                Some(k) => vec![k],
                None => vec!["ejabberd".to_string(), "prosody".to_string()],
            })
            .collect();
        let mut listed: Vec<String> = STATEMENT_KEYWORDS.iter().map(|k| k.to_string()).collect();
        grammar.sort();
        listed.sort();
        assert_eq!(listed, grammar);
        for k in STATEMENT_KEYWORDS {
            let rule = format!("kw_{} = @{{ \"{k}\"", k.replace('-', "_"));
            assert!(GRAMMAR.contains(&rule), "{k} is not a keyword of the grammar");
        }
    }

    #[test]
    fn what_may_stand_at_a_place() {
        let top = expected_at("", 0);
        assert!(top.keywords.contains(&"domain".to_string()) && top.keywords.contains(&"ejabberd".to_string()));
        let text = "domain \"a.example\" {\n  ar\n}\n";
        let inside = expected_at(text, text.find("ar").unwrap_or(0));
        assert!(inside.keywords.contains(&"archive".to_string()), "{inside:?}");
        assert!(!inside.keywords.contains(&"domain".to_string()), "{inside:?}");
        let text = "domain \"a.example\" { features carbons, ";
        assert!(expected_at(text, text.len()).feature);
        let text = "domain \"a.example\" { admins ";
        assert!(!expected_at(text, text.len()).feature);
        // An error before the place: nothing is offered.
        assert_eq!(expected_at("domian x { ", 11), super::Expected::default());
    }

    #[test]
    fn keywords_are_documented_by_the_grammar() {
        let doc = keyword_doc("archive").unwrap_or_default();
        assert!(doc.contains("XEP-0313"), "{doc}");
        assert!(keyword_doc("no-such-keyword").is_none());
    }
}
