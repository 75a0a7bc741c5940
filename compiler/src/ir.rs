//! The server-neutral meaning of a deployment. No spans: every check has been done.

use std::collections::BTreeSet;

pub use crate::ast::{ArchivePolicy, Duration, LogLevel, PeerAuth, Secret, SqlKind, TimeUnit, TlsMode};
use crate::facts::{self, Construct, Feature, Server, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The oldest ejabberd to emit for, or `None` when ejabberd is not a target.
    pub ejabberd: Option<Version>,
    /// The oldest Prosody to emit for, or `None` when Prosody is not a target.
    pub prosody: Option<Version>,
    pub log_level: LogLevel,
    /// The server-wide default certificate.
    pub certificate: Option<Certificate>,
    pub domains: Vec<Domain>,
    pub listeners: Vec<Listener>,
    pub auth: Auth,
    /// The hash of the SCRAM keys stored for each password (internal and SQL accounts).
    pub scram: ScramHash,
    pub storage: Storage,
    pub limits: Limits,
    pub turn: Option<Turn>,
    pub metrics: Option<Metrics>,
    /// Raw blocks, in source order.
    pub raw: Vec<Raw>,
    /// Where ejabberd < 24.12 reads the macros file that holds secret values.
    pub secrets_dir: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    /// Full JIDs.
    pub admins: Vec<String>,
    pub certificate: Option<Certificate>,
    pub archive: Option<Archive>,
    pub registration: Registration,
    pub features: BTreeSet<Feature>,
    pub groupchat: Option<Groupchat>,
    pub upload: Option<Upload>,
    pub proxy: Option<Proxy>,
    /// The full host name of the pubsub service.
    pub pubsub: Option<String>,
    /// XEP-0157 addresses by kind (`abuse`, `admin`, …), kinds in a fixed order.
    pub contact: Vec<(String, Vec<String>)>,
    pub max_sessions: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub default: ArchivePolicy,
    pub retention: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Closed,
    /// Open, with at least this long between two registrations from one address.
    Open {
        interval: Option<Duration>,
    },
    Invite,
}

/// Who may create group chat rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creators {
    Admins,
    Local,
    Anyone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groupchat {
    /// The full host name, e.g. `conference.chat.example.com`.
    pub host: String,
    /// The first label, e.g. `conference`.
    pub label: String,
    pub history: u64,
    pub archive: bool,
    pub create: Creators,
    pub persistent: bool,
    pub public: bool,
    pub members_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub host: String,
    pub label: String,
    /// Bytes.
    pub max_size: u64,
    pub expire: Option<Duration>,
    /// Bytes per user.
    pub quota: Option<u64>,
    /// The public base URL, when the HTTP listener is behind a proxy.
    pub url: Option<String>,
    /// `signed env("…")`: the key ejabberd signs each `PUT` URL with, so that whichever node or
    /// pod receives the `PUT` can check it (the chart's receiver, which then serves the upload
    /// route), not only the node that issued the slot.
    pub signed: Option<Secret>,
}

/// A file-transfer proxy (XEP-0065): clients are told to connect to `host` on `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub label: String,
    pub port: u16,
    /// The IP address it binds to.
    pub address: String,
}

/// SCRAM (RFC 5802, 7677): the hash the stored keys use. The `-PLUS` mechanisms (channel binding to
/// the TLS connection) are offered wherever the connection allows: neither server can withdraw them
/// safely (with them disabled, Prosody and ejabberd 24.12 refuse the plain SCRAM of a client that could
/// bind, RFC 5802's `y` flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScramHash {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl ScramHash {
    /// As the DSL and the SASL mechanism names write it: `SHA-1`, `SHA-256`, `SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SHA-1",
            ScramHash::Sha256 => "SHA-256",
            ScramHash::Sha512 => "SHA-512",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The server's own accounts, passwords stored hashed (SCRAM).
    Internal,
    Ldap(Ldap),
    External {
        program: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ldap {
    pub servers: Vec<String>,
    pub port: u16,
    pub base: String,
    pub bind: Option<String>,
    pub password: Option<Secret>,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Internal,
    Sql(Sql),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    pub kind: SqlKind,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The database name, or the file for SQLite.
    pub database: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// The data kept in SQL; empty means everything.
    pub only: BTreeSet<crate::facts::Store>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per second per client connection.
    pub client: Option<u64>,
    /// Bytes per second per federation connection.
    pub federation: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub host: String,
    pub port: u16,
    pub tls_port: Option<u16>,
    pub secret: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub path: String,
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub server: crate::ast::Server,
    /// `file:line` of the block, for the marker in the output.
    pub origin: String,
    /// Where the block's text is in the sources.
    pub span: crate::ast::Span,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    /// An IP address; `0.0.0.0` unless the author said otherwise (`::` fails where IPv6 is off).
    pub address: String,
    pub service: Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Client {
        tls: TlsMode,
    },
    Federation {
        tls: TlsMode,
        peers: PeerAuth,
        /// The CA bundle peers' certificates are checked against (else the system's).
        trust: Option<String>,
    },
    Http(Http),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http {
    pub tls: HttpTls,
    pub websocket: Option<String>,
    pub bosh: Option<String>,
    pub upload: Option<String>,
    pub api: Option<Api>,
}

/// How an http listener does TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpTls {
    /// Plain HTTP.
    #[default]
    None,
    /// HTTPS from the first byte, with the domain's certificate (`tls direct`).
    Direct,
    /// TLS ends in front of the listener (an Ingress), so its WebSocket and BOSH sessions count as
    /// encrypted (`tls terminated`).
    Terminated,
}

impl Http {
    /// The scheme a client outside reaches the listener with.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            HttpTls::None => "http",
            HttpTls::Direct | HttpTls::Terminated => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub path: String,
    /// CIDR networks allowed to call the API.
    pub allow: Vec<String>,
}

impl Service {
    /// The listener's name in the chart's values and Services.
    /// What the listener serves: `client`, `federation` or `http` (whatever its TLS).
    pub fn kind(&self) -> &'static str {
        match self {
            Service::Client { .. } => "client",
            Service::Federation { .. } => "federation",
            Service::Http(_) => "http",
        }
    }

    /// How it does TLS: `required` or `optional` (STARTTLS), `direct` (from the first byte),
    /// `terminated` (in front of an http listener) or `none`.
    pub fn tls(&self) -> &'static str {
        match self {
            Service::Client { tls } | Service::Federation { tls, .. } => match tls {
                TlsMode::Required => "required",
                TlsMode::Optional => "optional",
                TlsMode::Direct => "direct",
                TlsMode::Terminated => "terminated",
            },
            Service::Http(h) => match h.tls {
                HttpTls::None => "none",
                HttpTls::Direct => "direct",
                HttpTls::Terminated => "terminated",
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Service::Client { tls: TlsMode::Direct } => "client-tls",
            Service::Client { .. } => "client",
            Service::Federation { tls: TlsMode::Direct, .. } => "federation-tls",
            Service::Federation { .. } => "federation",
            Service::Http(Http { tls: HttpTls::Direct, .. }) => "https",
            Service::Http(_) => "http",
        }
    }
}

impl Deployment {
    /// The first HTTP listener, if there is one: where `metrics` is served.
    pub fn http(&self) -> Option<(&Listener, &Http)> {
        self.http_listeners().next()
    }

    /// Every HTTP listener, in source order.
    pub fn http_listeners(&self) -> impl Iterator<Item = (&Listener, &Http)> {
        self.listeners.iter().filter_map(|l| match &l.service {
            Service::Http(h) => Some((l, h)),
            _ => None,
        })
    }

    /// The first federation listener's TLS, how peer servers prove their names, and the CAs their
    /// certificates are checked against (the servers apply them server-wide).
    pub fn federation(&self) -> Option<(TlsMode, PeerAuth, Option<&str>)> {
        self.listeners.iter().find_map(|l| match &l.service {
            Service::Federation { tls, peers, trust } => Some((*tls, *peers, trust.as_deref())),
            _ => None,
        })
    }

    /// The HTTP listener that serves a route (`h.upload`, `h.api`, …), if any does, with the route:
    /// each route is served by one listener at most (the checker sees to it).
    pub fn serving<T>(&self, route: impl Fn(&Http) -> Option<&T>) -> Option<(&Listener, &Http, &T)> {
        self.http_listeners().find_map(|(l, h)| route(h).map(|r| (l, h, r)))
    }

    /// Where clients reach a domain's uploads, without the upload path: the `url` given, else derived
    /// from the listener that serves the upload route (`host`: the upload service's name as the
    /// server writes it). Behind `tls terminated` the listener's port is inside: the URL has none.
    pub fn upload_base(&self, upload: &Upload, host: &str) -> String {
        if let Some(url) = &upload.url {
            return url.trim_end_matches('/').to_string();
        }
        let Some((l, h, _)) = self.serving(|h| h.upload.as_ref()) else { return format!("http://{host}") };
        match (h.tls, l.port) {
            (HttpTls::Terminated, _) | (HttpTls::Direct, 443) | (HttpTls::None, 80) => {
                format!("{}://{host}", h.scheme())
            }
            (_, port) => format!("{}://{host}:{port}", h.scheme()),
        }
    }

    /// The host names HTTP clients reach, in the domains' order: each domain, and the host of its
    /// upload service's URL (where files are `PUT` and fetched); an Ingress or a Gateway routes them.
    pub fn http_hosts(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut hosts: Vec<String> = Vec::new();
        for dom in &self.domains {
            let upload = dom.upload.as_ref().map(|u| url_host(&self.upload_base(u, &u.host)).to_string());
            for host in std::iter::once(dom.name.clone()).chain(upload) {
                if seen.insert(host.clone()) {
                    hosts.push(host);
                }
            }
        }
        hosts
    }

    /// The file-transfer proxy, if a domain has one (one domain at most: the checker sees to it).
    pub fn proxy(&self) -> Option<&Proxy> {
        self.domains.iter().find_map(|dom| dom.proxy.as_ref())
    }

    /// The oldest release of `server` to emit for, or `None` when it is not a target.
    pub fn target(&self, server: Server) -> Option<Version> {
        match server {
            Server::Ejabberd => self.ejabberd,
            Server::Prosody => self.prosody,
        }
    }

    /// The file ejabberd < 24.12 includes for the macros that hold secret values (it cannot read the
    /// environment); the host writes it from the secrets. `None` when no ejabberd target needs one.
    pub fn macros_file(&self) -> Option<String> {
        let old = self.ejabberd.is_some_and(|v| !facts::supports(Construct::EnvSecrets, Server::Ejabberd, v));
        let env = self.secrets().iter().any(|s| matches!(s, Secret::Env(_)));
        (old && env).then(|| format!("{}/{}", self.secrets_dir, facts::EJABBERD_SECRETS_FILE))
    }

    /// The paths an HTTP listener serves, as `(kind, path)`: what an Ingress routes to it. `metrics`
    /// is served by the first HTTP listener.
    pub fn routes(&self, listener: &Listener) -> Vec<(&'static str, String)> {
        let Service::Http(http) = &listener.service else { return Vec::new() };
        let first = self.http().is_some_and(|(l, _)| l.port == listener.port);
        let mut routes = Vec::new();
        let mut add = |kind, path: &Option<String>| routes.extend(path.clone().map(|p| (kind, p)));
        add("websocket", &http.websocket);
        add("bosh", &http.bosh);
        add("upload", &http.upload);
        add("api", &http.api.as_ref().map(|a| a.path.clone()));
        add("metrics", &self.metrics.as_ref().filter(|_| first).map(|m| m.path.clone()));
        routes
    }

    /// Every secret the configs reference, each once, in a fixed order.
    pub fn secrets(&self) -> Vec<Secret> {
        let mut all = BTreeSet::new();
        if let Storage::Sql(sql) = &self.storage {
            all.extend(sql.password.clone());
        }
        if let Auth::Ldap(l) = &self.auth {
            all.extend(l.password.clone());
        }
        if let Some(t) = &self.turn {
            all.insert(t.secret.clone());
        }
        all.extend(self.domains.iter().filter_map(|dom| dom.upload.as_ref()?.signed.clone()));
        all.into_iter().collect()
    }
}

impl Duration {
    pub fn seconds(self) -> u64 {
        let unit = match self.unit {
            TimeUnit::Second => 1,
            TimeUnit::Minute => 60,
            TimeUnit::Hour => 3_600,
            TimeUnit::Day => 86_400,
            TimeUnit::Week => 7 * 86_400,
            TimeUnit::Year => 365 * 86_400,
        };
        self.amount.saturating_mul(unit)
    }

    /// The period as Prosody writes it (`1y`, `2w`, `30d`), if it can: it counts whole days.
    pub fn prosody_period(self) -> Option<String> {
        match self.unit {
            TimeUnit::Year => Some(format!("{}y", self.amount)),
            TimeUnit::Week => Some(format!("{}w", self.amount)),
            _ if self.seconds().is_multiple_of(86_400) && self.seconds() > 0 => {
                Some(format!("{}d", self.seconds() / 86_400))
            }
            _ => None,
        }
    }
}

/// The host of an `http(s)://host[:port][/path]` URL.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest)
}
