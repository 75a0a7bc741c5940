//! Diagnostics are data: a code, a message, a place, and maybe a hint. Only the binary renders them.

use serde::{Deserialize, Serialize};

use crate::ast::Span;
use crate::facts::Construct;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every diagnostic the compiler can give: its short code, and the longer explanation `explain` prints.
/// The doc line of each names an input that triggers it.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal, $explain:literal;)*) => {
        /// Written as its short code (`"E001"`) wherever it is serialized.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum Code { $($(#[doc = $doc])* $name,)* }

        impl Code {
            /// Every code, in order.
            pub const ALL: &[Code] = &[$(Code::$name,)*];

            /// The short code shown to authors, e.g. `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// What the diagnostic means and what to do about it.
            pub fn explain(self) -> &'static str {
                match self { $(Code::$name => $explain,)* }
            }
        }
    };
}

codes! {
    /// `domain chat.example.com { }`: the text does not follow the grammar.
    Syntax = "E001", "The text does not follow the grammar of the language. The message says what was expected at that \
        place; for a misspelled keyword it suggests the nearest one. Strings are double-quoted: `domain \"chat.example.com\"`.";
    /// `listen client 70000`: a port outside 1..=65535.
    BadPort = "E002", "A port is a whole number from 1 to 65535.";
    /// `listen client 5222 on 300.0.0.1`: not an IP address.
    BadAddress = "E003", "A listener binds to one IP address: `0.0.0.0` (every IPv4 address, the default), `127.0.0.1`, or an \
        IPv6 address. `::` fails on nodes where IPv6 is off.";
    /// `api "/api" allow 10.0.0.0/40`: not an IP network.
    BadNetwork = "E004", "An allow-list names IP networks in CIDR notation: an address, `/`, and a prefix length (at most 32 \
        for IPv4, 128 for IPv6), e.g. `10.0.0.0/8`.";
    /// Two `domain "a"` blocks, or two listeners on one port.
    Duplicate = "E005", "The same thing is declared twice: a domain, a listener port, a service host, or a setting that may \
        appear once. Keep one.";
    /// `admins "@x"`: not a valid JID.
    BadJid = "E006", "An admin is a bare user name (`alice`, which belongs to the domain) or a full JID (`alice@example.org`).";
    /// `domain "-x-" { }`: not a valid domain name.
    BadDomain = "E007", "Domain and service names are lower-case DNS names: letters, digits and `-`, labels separated by dots. \
        A service (`groupchat \"conference\"`) is named by one label; the domain is appended.";
    /// `targets ejabberd >= 22.10`: a version older than the compiler supports.
    UnsupportedVersion = "E008", "The compiler emits for ejabberd 23.01 and later and Prosody 0.12 and later (Debian bookworm's \
        releases). `targets` names the oldest release each output must run on.";
    /// `websocket "xmpp"`: an HTTP path must start with `/`; a certificate path must be absolute.
    BadPath = "E009", "HTTP paths start with `/` and hold no blanks or quotes; file paths (certificates, programs, secrets) \
        are absolute, since the server's working folder is not the config's.";
    /// `websocket "/ws"` on a `client` listener: the option belongs to another listener kind.
    MisplacedOption = "E010", "`websocket`, `bosh`, `upload` and `api` are served by the `http` listener. `tls required` and \
        `tls optional` (STARTTLS) belong on `client` and `federation` listeners; an `http` listener takes `tls direct` \
        (HTTPS, with the domain's certificate) or `tls terminated` (TLS ends in front of it, at an Ingress).";
    /// A file with no `domain` block.
    NoDomain = "E011", "A deployment serves at least one domain: `domain \"chat.example.com\" { … }`.";
    /// `features carbns`: a word that is not one of the choices.
    UnknownWord = "E012", "A feature, setting or kind of data that the compiler does not know. The hint names the nearest \
        known word, or lists them.";
    /// `history "fifty"`: a value of the wrong type for its setting.
    BadValue = "E013", "A setting was given a value of the wrong type or out of range: sizes look like `50MB`, durations like \
        `30d`, rates like `50KB/s`, switches are `on` or `off`, strings are double-quoted.";
    /// `password "hunter2"`: a literal secret.
    LiteralSecret = "E014", "Secrets are references the server resolves at start-up: `env(\"NAME\")` (an environment \
        variable, set by the chart from a Kubernetes Secret) or `file(\"/path\")` (Prosody 13 only). A literal would be \
        written into ejabberd.yml or prosody.cfg.lua, and from there into a ConfigMap that anyone who can read the \
        namespace can read.";
    /// `registration invite` with `targets ejabberd >= 23.01`: the feature needs a newer release.
    NeedsNewer = "E015", "A feature exists only from some release on, and `targets` includes an older one. Raise the target, \
        or drop the feature.";
    /// `storage postgres { host \"db\" }`: a required setting is missing.
    MissingSetting = "E016", "A block is missing a setting it cannot work without; the hint shows a complete example.";
    /// `upload \"upload\"` with no `upload \"/upload\"` on an http listener.
    NeedsListener = "E017", "A feature is served over HTTP but no `listen http` serves it: add the path to the http listener.";
    /// `include \"../x.xmpp\"`: an include outside the root file's folder, or one that cannot be read.
    BadInclude = "E018", "`include` names a file relative to the including file, inside the root file's folder; the host \
        reads it. Absolute paths and paths leaving that folder are refused.";
    /// `ejabberd { hosts: [ }` or `prosody { log = }`: a raw block that is not YAML, or not Lua.
    BadRaw = "E019", "A raw `ejabberd { … }` block is merged into ejabberd.yml key by key, so it must be a YAML mapping \
        of options (`loglevel: info`). A raw `prosody { … }` block is copied into prosody.cfg.lua, so it must be Lua \
        statements that `luac -p` accepts (checked at compile time, as Lua 5.4), with no `return` at its top level, \
        and the whole file must still be Lua with it.";
    /// `auth ldap { … }` with a Prosody target: a targeted server cannot express it, and dropping it would change meaning.
    Unsupported = "E020", "One of the targeted servers cannot express this, and rendering the rest without it would \
        change what the deployment means (an authentication method, a secret, a period). Drop the feature, change it as \
        the hint says, or drop that server from `targets`.";
    /// `api "/api"` with a Prosody target: the server has no such feature.
    NotOnServer = "W001", "One of the targeted servers cannot express this feature, which is rendered only for the \
        server that can; the other output says so in a comment where it can. Nothing is dropped silently.";
    /// `upload "upload" { url "https://…" }` served by a listener that does no TLS.
    PlainHttp = "W002", "A URL given to clients says `https`, but the http listener that serves it does plain HTTP and \
        has neither `tls direct` (HTTPS itself) nor `tls terminated` (TLS ends in front of it). Clients would find \
        nothing speaking TLS there, unless a proxy the DSL does not know about stands in front: then say so with \
        `tls terminated`.";
}

impl From<Code> for &'static str {
    fn from(code: Code) -> &'static str {
        code.as_str()
    }
}

impl TryFrom<String> for Code {
    type Error = String;

    fn try_from(text: String) -> Result<Code, String> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text).ok_or_else(|| format!("unknown code `{text}`"))
    }
}

/// One finding, with its place already turned into line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A construct the author wrote, and where: what the compatibility pass holds against the targets.
#[derive(Debug, Clone)]
pub(crate) struct Use {
    pub(crate) construct: Construct,
    pub(crate) span: Span,
    /// A detail the messages name (a feature's word, a number of days), or empty.
    pub(crate) arg: String,
}

/// Collects diagnostics while a stage runs (positions resolved against the sources), and the
/// constructs lowering meets, for the compatibility pass.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    sources: &'a [crate::Source],
    /// Byte offsets where each source's lines start, so a position costs a binary search, not a scan.
    lines: Vec<Vec<usize>>,
    pub(crate) found: Vec<Diagnostic>,
    /// How many diagnostics past `MAX_DIAGNOSTICS` were counted but not kept.
    pub(crate) omitted: usize,
    /// Where a diagnostic past the bound is built, to be dropped.
    spare: Option<Diagnostic>,
    pub(crate) uses: Vec<Use>,
}

/// The most diagnostics one compile keeps (the rest are counted): a file with 100,000 mistakes gives
/// a readable report, not 30 MB. An error is never dropped in favour of a warning.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// The offsets just past each line break, as the grammar's `NEWLINE` has them: `\n`, `\r\n`, or a
/// lone `\r` (old Mac files).
pub fn line_breaks(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter_map(move |(i, &b)| {
        let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        ends.then_some(i + 1)
    })
}

impl<'a> Sink<'a> {
    pub(crate) fn new(sources: &'a [crate::Source]) -> Self {
        let lines = sources.iter().map(|s| std::iter::once(0).chain(line_breaks(&s.text)).collect()).collect();
        Sink { sources, lines, found: Vec::new(), omitted: 0, spare: None, uses: Vec::new() }
    }

    /// 1-based line and character column of a byte offset in one source.
    pub(crate) fn line_col(&self, file: usize, offset: usize) -> (u32, u32) {
        let (Some(source), Some(starts)) = (self.sources.get(file), self.lines.get(file)) else { return (1, 1) };
        let offset = offset.min(source.text.len());
        let line = starts.partition_point(|&start| start <= offset).max(1);
        let start = starts[line - 1];
        let col = source.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (clamp(line), clamp(col))
    }

    pub(crate) fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(code, Severity::Error, span, message.into())
    }

    pub(crate) fn warning(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(code, Severity::Warning, span, message.into())
    }

    fn push(&mut self, code: Code, severity: Severity, span: Span, message: String) -> &mut Diagnostic {
        let (line, col) = self.line_col(span.file, span.start);
        let d = Diagnostic { code, severity, message, hint: None, span, line, col };
        if self.found.len() >= MAX_DIAGNOSTICS {
            self.omitted += 1;
            let no_error_kept = !self.found.iter().any(Diagnostic::is_error);
            if !(d.is_error() && no_error_kept) {
                return self.spare.insert(d);
            }
            self.found.pop();
        }
        self.found.push(d);
        let last = self.found.len() - 1;
        &mut self.found[last]
    }

    /// Notes that the author wrote `construct` at `span`.
    pub(crate) fn used(&mut self, construct: Construct, span: Span, arg: &str) {
        self.uses.push(Use { construct, span, arg: arg.to_string() });
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

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo. Two
/// letters swapped count as one edit (`lgo` → `log`): the optimal string alignment distance.
pub fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_strangers() {
        assert_eq!(nearest("domian", ["domain", "listen"]), Some("domain"));
        assert_eq!(nearest("xyz", ["domain", "listen"]), None);
        assert_eq!(nearest("lgo", ["log", "listen"]), Some("log"), "a transposition is one edit");
        assert_eq!(nearest("lsiten", ["listen", "limits"]), Some("listen"));
    }

    #[test]
    fn line_col_counts_characters() {
        let sources = [
            crate::Source { path: "a".into(), text: "ab\ncé d".into() },
            crate::Source { path: "b".into(), text: String::new() },
        ];
        let sink = Sink::new(&sources);
        assert_eq!(sink.line_col(0, 7), (2, 4));
        assert_eq!(sink.line_col(0, 0), (1, 1));
        assert_eq!(sink.line_col(0, 3), (2, 1));
        assert_eq!(sink.line_col(1, 5), (1, 1));
        assert_eq!(sink.line_col(9, 5), (1, 1));
    }

    #[test]
    fn every_kind_of_line_break_starts_a_line() {
        let sources = [crate::Source { path: "a".into(), text: "a\rb\r\nc\nd".into() }];
        let sink = Sink::new(&sources);
        assert_eq!([2, 5, 7].map(|i| sink.line_col(0, i)), [(2, 1), (3, 1), (4, 1)]);
        assert_eq!(sink.line_col(0, 4), (2, 3), "inside a CRLF is still the line before");
    }
}
