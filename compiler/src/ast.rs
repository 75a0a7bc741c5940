//! The typed syntax tree: what the author wrote, with a span on every node.
//!
//! Built by [`crate::syntax`] from pest's pairs; read by [`crate::lower`], which drops the spans.

/// Whether `c` would end a line of YAML or Lua, or is otherwise no printable text: a control
/// character, or a Unicode line or paragraph separator. Author text that reaches a config or a
/// comment holds none (refused where it is read, escaped where it is only quoted in a comment).
pub fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `c` is an invisible formatting character that hides or reorders text: a zero-width
/// character, a direction mark, embedding, override or isolate, a word joiner, a byte-order mark.
/// Refused in names; shown as `\u{fffd}` wherever source text reaches a terminal.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// Index of the file in the sources given to [`crate::compile`].
    pub file: usize,
    pub start: usize,
    pub end: usize,
}

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// One parsed source file.
#[derive(Debug, Default)]
pub struct File {
    pub statements: Vec<Statement>,
}

#[derive(Debug)]
pub enum Statement {
    Targets(Vec<Target>),
    /// Resolved by the host: the included file is one of the sources.
    Include(Spanned<String>),
    SecretsDir(Spanned<String>),
    Domain(Domain),
    Listen(Listen),
    Log(Spanned<LogLevel>),
    /// The server-wide default certificate.
    Certificate {
        cert: Spanned<String>,
        key: Spanned<String>,
        span: Span,
    },
    Auth(Spanned<AuthKind>),
    Storage(Spanned<StorageKind>),
    Limits(Settings),
    Turn {
        host: Spanned<String>,
        settings: Option<Settings>,
        span: Span,
    },
    Metrics {
        path: Spanned<String>,
        allow: Vec<Spanned<String>>,
        span: Span,
    },
    Raw {
        server: Spanned<Server>,
        text: Spanned<String>,
    },
}

#[derive(Debug)]
pub enum AuthKind {
    /// With the SCRAM settings, if any.
    Internal(Option<Settings>),
    Sql(Option<Settings>),
    Ldap(Settings),
    External(Spanned<String>),
}

#[derive(Debug)]
pub enum StorageKind {
    Internal,
    Sql(SqlKind, Settings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    Postgres,
    Mysql,
    Sqlite,
}

/// `{ key value; key value, value }`.
#[derive(Debug, Default)]
pub struct Settings {
    pub items: Vec<Setting>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Setting {
    pub key: Spanned<String>,
    pub values: Vec<Spanned<Value>>,
    pub span: Span,
}

/// A value as written, typed by the grammar; whether it suits its setting is checked later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Secret(Secret),
    Network(String),
    /// Bytes per second.
    Rate(u64),
    /// Bytes.
    Size(u64),
    Duration(Duration),
    Integer(u64),
    Str(String),
    Switch(bool),
    Word(String),
    /// A number, size or duration as written, past what 64 bits hold: refused where it is read.
    TooLarge(String),
}

/// A reference to a secret the server reads at start-up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Secret {
    Env(String),
    File(String),
}

pub use crate::facts::Server;

#[derive(Debug)]
pub struct Target {
    pub server: Spanned<Server>,
    /// The version as written, e.g. `23.01`.
    pub version: Spanned<String>,
}

#[derive(Debug)]
pub struct Domain {
    pub name: Spanned<String>,
    pub items: Vec<DomainItem>,
    pub span: Span,
}

#[derive(Debug)]
pub enum DomainItem {
    Admins(Vec<Spanned<String>>),
    Certificate { cert: Spanned<String>, key: Spanned<String>, span: Span },
    Archive(Archive),
    Registration { mode: Spanned<RegistrationMode>, settings: Option<Settings> },
    Features(Vec<Spanned<String>>),
    Profile(Span),
    Groupchat { name: Spanned<String>, settings: Option<Settings>, span: Span },
    Upload { name: Spanned<String>, settings: Option<Settings>, span: Span },
    Proxy { name: Spanned<String>, settings: Option<Settings>, span: Span },
    Pubsub(Spanned<String>),
    Contact(Settings),
    MaxSessions(Spanned<Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    Closed,
    Open,
    Invite,
}

#[derive(Debug)]
pub struct Archive {
    /// `archive off` writes `enabled: false`.
    pub enabled: bool,
    pub default: Option<Spanned<ArchivePolicy>>,
    pub retention: Option<Spanned<Duration>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchivePolicy {
    Always,
    Roster,
    Never,
}

impl ArchivePolicy {
    /// Without `default`: every one-to-one message is archived, as Prosody does by default and as
    /// clients on several devices need (each fetches what the others sent and received).
    pub const DEFAULT: ArchivePolicy = ArchivePolicy::Always;
}

/// A duration as written: `30d` is `Duration { amount: 30, unit: Day }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub amount: u64,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Client,
    Federation,
    Http,
}

#[derive(Debug)]
pub struct Listen {
    pub kind: Spanned<ListenerKind>,
    /// The port as written; range-checked by [`crate::lower`].
    pub port: Spanned<String>,
    pub address: Option<Spanned<String>>,
    /// Each item with the span of the whole item.
    pub items: Vec<Spanned<ListenItem>>,
    pub span: Span,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ListenItem {
    Tls(Spanned<TlsMode>),
    Websocket(Spanned<String>),
    Bosh(Spanned<String>),
    Upload(Spanned<String>),
    Api { path: Spanned<String>, allow: Vec<Spanned<String>> },
    Verify(Spanned<PeerAuth>),
    Trust(Spanned<String>),
}

/// How a peer server proves its name on a federation connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAuth {
    /// With a certificate that validates (SASL EXTERNAL, XEP-0178); the default.
    Certificate,
    /// Also with dialback (XEP-0220) when its certificate does not validate.
    Dialback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Required,
    Optional,
    /// TLS from the first byte (XEP-0368), as on port 5223.
    Direct,
    /// TLS ends in front of an http listener (an Ingress or load balancer).
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}
