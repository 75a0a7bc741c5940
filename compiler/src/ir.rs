//! The server-neutral meaning of a deployment. No spans: every check has been done.

pub use crate::ast::{ArchivePolicy, Duration, LogLevel, TimeUnit, TlsMode};
use crate::facts::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The oldest ejabberd to emit for, or `None` when ejabberd is not a target.
    pub ejabberd: Option<Version>,
    /// The oldest Prosody to emit for, or `None` when Prosody is not a target.
    pub prosody: Option<Version>,
    pub log_level: LogLevel,
    pub domains: Vec<Domain>,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    /// Full JIDs.
    pub admins: Vec<String>,
    pub certificate: Option<Certificate>,
    pub archive: Option<Archive>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    /// An IP address; `0.0.0.0` unless the author said otherwise (`::` fails where IPv6 is off).
    pub address: String,
    pub service: Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Client { tls: TlsMode },
    Federation { tls: TlsMode },
    Http(Http),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http {
    pub websocket: Option<String>,
    pub bosh: Option<String>,
    pub api: Option<Api>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub path: String,
    /// CIDR networks allowed to call the API.
    pub allow: Vec<String>,
}

impl Service {
    /// The listener's name in the chart's values and Services.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Client { .. } => "client",
            Service::Federation { .. } => "federation",
            Service::Http(_) => "http",
        }
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
}
