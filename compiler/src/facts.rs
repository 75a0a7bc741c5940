//! What the compiler knows about the servers: one table per fact, read by the checker and the emitters.

use std::fmt;

/// The servers the compiler emits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    Ejabberd,
    Prosody,
}

impl Server {
    pub const ALL: [Server; 2] = [Server::Ejabberd, Server::Prosody];

    /// The server's name as the DSL, the outputs and the chart spell it.
    pub fn name(self) -> &'static str {
        match self {
            Server::Ejabberd => "ejabberd",
            Server::Prosody => "prosody",
        }
    }

    /// The oldest release the compiler emits for (Debian bookworm's).
    pub fn oldest(self) -> Version {
        match self {
            Server::Ejabberd => EJABBERD_OLDEST,
            Server::Prosody => PROSODY_OLDEST,
        }
    }

    /// The release assumed when a file has no `targets` line.
    pub fn default_target(self) -> Version {
        match self {
            Server::Ejabberd => EJABBERD_DEFAULT,
            Server::Prosody => PROSODY_DEFAULT,
        }
    }
}

/// A server release, compared numerically: `23.01` < `23.10` < `24.02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16, pub u16);

impl Version {
    /// Parses `23.01`, `0.12` or `0.12.3`.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.').map(|p| p.parse::<u16>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        parts.next().is_none().then_some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ejabberd numbers its months with two digits; Prosody does not.
        if self.0 >= 20 {
            write!(f, "{}.{:02}", self.0, self.1)
        } else {
            write!(f, "{}.{}", self.0, self.1)?;
            if self.2 > 0 {
                write!(f, ".{}", self.2)?;
            }
            Ok(())
        }
    }
}

/// The oldest releases the compiler emits for (Debian bookworm's).
pub const EJABBERD_OLDEST: Version = Version(23, 1, 0);
pub const PROSODY_OLDEST: Version = Version(0, 12, 0);
/// The targets assumed when a file has no `targets` line: the releases the chart's default images run
/// (`charts/xmpp/values.yaml`, held equal by a test) and the tests run against real servers.
pub const EJABBERD_DEFAULT: Version = Version(24, 12, 0);
pub const PROSODY_DEFAULT: Version = Version(13, 0, 0);

/// The address listeners bind to unless told otherwise: IPv4 everywhere (`::` fails where IPv6 is off).
pub const DEFAULT_ADDRESS: &str = "0.0.0.0";

/// Where ejabberd < 24.12 reads secret values (as `define_macro`), unless `secrets-dir` says otherwise.
pub const DEFAULT_SECRETS_DIR: &str = "/run/helm-xmpp";
/// The macros file in the secrets folder.
pub const EJABBERD_SECRETS_FILE: &str = "ejabberd-secrets.yml";

/// A server feature and how each server spells it.
#[derive(Debug)]
pub struct Module {
    pub ejabberd: &'static str,
    pub prosody: &'static str,
}

/// Always loaded: the core of an XMPP service.
pub const CORE: &[Module] = &[
    Module { ejabberd: "mod_roster", prosody: "roster" },
    Module { ejabberd: "mod_disco", prosody: "disco" },
    Module { ejabberd: "mod_ping", prosody: "ping" },
];
/// Prosody modules that ejabberd has built in.
pub const PROSODY_CORE: &[&str] = &["saslauth", "tls", "dialback"];

pub const ARCHIVE: Module = Module { ejabberd: "mod_mam", prosody: "mam" };
pub const MUC_ARCHIVE: &str = "muc_mam";
pub const WEBSOCKET: Module = Module { ejabberd: "ejabberd_http_ws", prosody: "websocket" };
pub const BOSH: Module = Module { ejabberd: "mod_bosh", prosody: "bosh" };
pub const UPLOAD: Module = Module { ejabberd: "mod_http_upload", prosody: "http_file_share" };
pub const UPLOAD_QUOTA: &str = "mod_http_upload_quota";
pub const GROUPCHAT: Module = Module { ejabberd: "mod_muc", prosody: "muc" };
pub const GROUPCHAT_ADMIN: &str = "mod_muc_admin";
/// ejabberd's entity capabilities, which mod_pubsub (PEP) needs.
pub const EJABBERD_CAPS: &str = "mod_caps";
/// LDAP's port, and the attribute that holds the user name, when `auth ldap` names none.
pub const LDAP_PORT: u16 = 389;
pub const LDAP_UID: &str = "uid";
pub const PROXY: Module = Module { ejabberd: "mod_proxy65", prosody: "proxy65" };
/// The file-transfer proxy's port when `proxy` names none (ejabberd's default).
pub const PROXY_PORT: u16 = 7777;
pub const PUBSUB: Module = Module { ejabberd: "mod_pubsub", prosody: "pubsub" };
pub const REGISTRATION: Module = Module { ejabberd: "mod_register", prosody: "register" };
pub const PROSODY_INVITES: &[&str] = &["invites", "invites_register", "invites_adhoc"];
pub const CONTACT: Module = Module { ejabberd: "mod_disco", prosody: "server_contact_info" };
pub const TURN: Module = Module { ejabberd: "mod_stun_disco", prosody: "turn_external" };
pub const EJABBERD_INVITES_MODULE: &str = "mod_invites";
/// Dialback (XEP-0220) for federation; Prosody loads it always (PROSODY_CORE).
pub const EJABBERD_DIALBACK: &str = "mod_s2s_dialback";
pub const PROSODY_METRICS: &str = "http_openmetrics";
/// The count of registered accounts Prosody lacks, from a module of the chart's
/// (charts/xmpp/files/mod_helm_xmpp_accounts.lua), loaded from this folder (the chart mounts it there).
pub const PROSODY_ACCOUNTS: &str = "helm_xmpp_accounts";
pub const PROSODY_PLUGINS: &str = "/usr/local/lib/helm-xmpp/prosody";
/// ejabberd's admin REST API; Prosody has none.
pub const EJABBERD_API: &str = "mod_http_api";
/// The commands (`register`, `check_account`, `stats`, …) an admin API is for.
pub const EJABBERD_API_COMMANDS: &str = "mod_admin_extra";

/// A protocol feature a domain switches on with `features NAME, …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    Carbons,
    StreamManagement,
    Csi,
    Blocking,
    Offline,
    Private,
    Bookmarks,
    Vcard,
    Pep,
    RosterVersioning,
    LastActivity,
    Push,
    Version,
}

/// How each server provides a feature.
#[derive(Debug)]
pub struct FeatureInfo {
    pub feature: Feature,
    /// The word in the DSL.
    pub name: &'static str,
    /// ejabberd modules (loaded with no options unless the emitter says otherwise).
    pub ejabberd: &'static [&'static str],
    pub prosody: &'static [&'static str],
}

pub const FEATURES: &[FeatureInfo] = &[
    FeatureInfo { feature: Feature::Carbons, name: "carbons", ejabberd: &["mod_carboncopy"], prosody: &["carbons"] },
    FeatureInfo {
        feature: Feature::StreamManagement,
        name: "stream-management",
        ejabberd: &["mod_stream_mgmt"],
        prosody: &["smacks"],
    },
    FeatureInfo { feature: Feature::Csi, name: "csi", ejabberd: &["mod_client_state"], prosody: &["csi_simple"] },
    FeatureInfo {
        feature: Feature::Blocking,
        name: "blocking",
        ejabberd: &["mod_blocking", "mod_privacy"],
        prosody: &["blocklist"],
    },
    FeatureInfo { feature: Feature::Offline, name: "offline", ejabberd: &["mod_offline"], prosody: &["offline"] },
    FeatureInfo { feature: Feature::Private, name: "private", ejabberd: &["mod_private"], prosody: &["private"] },
    FeatureInfo {
        feature: Feature::Bookmarks,
        name: "bookmarks",
        ejabberd: &["mod_private", "mod_pubsub"],
        prosody: &["bookmarks"],
    },
    FeatureInfo {
        feature: Feature::Vcard,
        name: "vcard",
        ejabberd: &["mod_vcard", "mod_vcard_xupdate", "mod_avatar", "mod_pubsub"],
        prosody: &["vcard4", "vcard_legacy"],
    },
    FeatureInfo { feature: Feature::Pep, name: "pep", ejabberd: &["mod_pubsub"], prosody: &["pep"] },
    FeatureInfo {
        feature: Feature::RosterVersioning,
        name: "roster-versioning",
        ejabberd: &["mod_roster"],
        prosody: &["roster"],
    },
    FeatureInfo {
        feature: Feature::LastActivity,
        name: "last-activity",
        ejabberd: &["mod_last"],
        prosody: &["lastactivity"],
    },
    FeatureInfo {
        feature: Feature::Push,
        name: "push",
        ejabberd: &["mod_push", "mod_push_keepalive"],
        prosody: &["cloud_notify"],
    },
    FeatureInfo { feature: Feature::Version, name: "version", ejabberd: &["mod_version"], prosody: &["version"] },
];

/// What `profile modern` switches on (XEP-0479, Advanced IM Server), besides the archive.
pub const PROFILE_MODERN: &[Feature] = &[
    Feature::Carbons,
    Feature::StreamManagement,
    Feature::Csi,
    Feature::Blocking,
    Feature::Offline,
    Feature::Private,
    Feature::Bookmarks,
    Feature::Vcard,
    Feature::Pep,
    Feature::RosterVersioning,
    Feature::LastActivity,
    Feature::Push,
    Feature::Version,
];

pub fn feature_info(f: Feature) -> &'static FeatureInfo {
    FEATURES.iter().find(|i| i.feature == f).unwrap_or(&FEATURES[0])
}

/// Something an author can write that a server, or some of its releases, cannot express as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Construct {
    /// `api "/x"` on an http listener.
    AdminApi,
    /// `metrics "/x"`.
    Metrics,
    /// `metrics … allow` with more than one network.
    MetricsNetworks,
    /// `archive { retention … }`.
    ArchiveRetention,
    /// A retention that is not a whole number of days (`36h`).
    RetentionNotInDays,
    /// `max-sessions N`.
    MaxSessions,
    /// `max-sessions` that differ between domains.
    MaxSessionsDiffer,
    /// `upload "name"` in a domain (it needs an http listener that serves uploads).
    Upload,
    /// `upload … { quota … }`.
    UploadQuota,
    /// Upload quotas that differ between domains.
    UploadQuotaDiffer,
    /// `upload … { signed env("…") }`.
    SignedUpload,
    /// `auth internal { scram sha-512 }`.
    ScramSha512,
    /// `proxy "name"` in a domain (one domain at most; its port is no listener's).
    Proxy,
    /// `auth sql` (it needs a `storage` block with a database).
    AuthSql,
    /// `auth ldap { … }`.
    AuthLdap,
    /// `auth external "/path"`.
    AuthExternal,
    /// A `file("/path")` secret.
    FileSecret,
    /// `registration invite`.
    InviteRegistration,
    /// A feature switched on with `features` or `profile modern`.
    Feature(Feature),
    /// `env("NAME")` secrets read straight from the environment (else: a macros file the host writes).
    EnvSecrets,
    /// The SQL schema upgraded by the server itself (`update_sql_schema`).
    UpdateSqlSchema,
    /// The multi-domain SQL schema's option under its current name, `sql_schema_multihost`.
    SqlSchemaMultihost,
}

impl Construct {
    /// How an author writes it, for the language reference.
    pub fn written(self) -> String {
        let text = match self {
            Construct::AdminApi => "`api \"/path\"` (admin REST API)",
            Construct::Metrics => "`metrics \"/path\"`",
            Construct::MetricsNetworks => "`metrics … allow` with several networks",
            Construct::ArchiveRetention => "`archive { retention … }`",
            Construct::RetentionNotInDays => "a retention that is not whole days (`36h`)",
            Construct::MaxSessions => "`max-sessions N`",
            Construct::MaxSessionsDiffer => "`max-sessions` differing between domains",
            Construct::Upload => "`upload \"name\"`",
            Construct::UploadQuota => "`upload … { quota … }`",
            Construct::UploadQuotaDiffer => "upload quotas differing between domains",
            Construct::SignedUpload => "`upload … { signed env(\"…\") }`",
            Construct::Proxy => "`proxy \"name\"`",
            Construct::ScramSha512 => "`scram sha-512`",
            Construct::AuthSql => "`auth sql`",
            Construct::AuthLdap => "`auth ldap { … }`",
            Construct::AuthExternal => "`auth external \"/path\"`",
            Construct::FileSecret => "`file(\"/path\")` secrets",
            Construct::InviteRegistration => "`registration invite`",
            Construct::Feature(f) => return format!("`{}` feature", feature_info(f).name),
            Construct::EnvSecrets => "`env(\"NAME\")` secrets",
            Construct::UpdateSqlSchema => "SQL storage (schema upgrades)",
            Construct::SqlSchemaMultihost => "SQL storage (multi-domain schema)",
        };
        text.to_string()
    }
}

/// From which releases a server can express a construct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// No release can.
    Never,
    /// This release and later can.
    Release(Version),
}

/// What the compiler does for a target that cannot express a construct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Otherwise {
    /// Renders it another way that keeps the meaning (the text says how).
    Render,
    /// Renders it for the other server only, with a W001 warning.
    Warn,
    /// Refuses it: E015 when a newer release could, E020 when none can.
    Refuse,
}

/// One row of the capability table: a construct that one server cannot express, from which release
/// it can, what the compiler does otherwise, and what it says. In `message` and `hint`, `{since}` is
/// the release, `{target}` the targeted one, and `{arg}` a detail of the use (a feature's name, a
/// number of days).
#[derive(Debug)]
pub struct Capability {
    pub construct: Construct,
    pub server: Server,
    pub since: Since,
    pub otherwise: Otherwise,
    /// Only when the other server is a target too (the two would read the construct differently).
    pub with_other: bool,
    pub message: &'static str,
    pub hint: Option<&'static str>,
}

const fn row(construct: Construct, server: Server, since: Since, otherwise: Otherwise) -> Capability {
    Capability { construct, server, since, otherwise, with_other: false, message: "", hint: None }
}

const ENV_HINT: Option<&str> = Some("try `env(\"NAME\")`, which every target can read");

/// What each server can express, from which release, and what the compiler does otherwise. A
/// construct without a row here is expressed by every supported release of both servers. The
/// checker, the emitters and the language reference (`docs/language.md`, held equal by a test) read it.
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        message: "prosody has no admin REST API; `api` is rendered for ejabberd only",
        ..row(Construct::AdminApi, Server::Prosody, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "ejabberd has no built-in metrics endpoint; `metrics` is rendered for prosody only",
        hint: Some("the chart serves them from an exporter beside ejabberd, which reads `api` over the pod's loopback"),
        ..row(Construct::Metrics, Server::Ejabberd, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "prosody allows metrics from one network only (openmetrics_allow_cidr)",
        hint: Some("try one network, e.g. `allow 10.0.0.0/8`"),
        ..row(Construct::MetricsNetworks, Server::Prosody, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "ejabberd cannot expire archived messages by itself; `retention` is rendered for prosody only",
        hint: Some("try running `ejabberdctl delete_old_mam_messages all {arg}` daily"),
        ..row(Construct::ArchiveRetention, Server::Ejabberd, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "prosody counts archive retention in whole days",
        hint: Some("try `{arg}d`"),
        ..row(Construct::RetentionNotInDays, Server::Prosody, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "prosody has no bundled session limit; `max-sessions` is rendered for ejabberd only",
        ..row(Construct::MaxSessions, Server::Prosody, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "ejabberd applies `max-sessions` to every domain, and the domains differ",
        hint: Some("try the same `max-sessions` in every domain"),
        ..row(Construct::MaxSessionsDiffer, Server::Ejabberd, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "prosody limits uploads per user per day, ejabberd per user in total; `quota` is rendered as each can",
        with_other: true,
        ..row(Construct::UploadQuota, Server::Prosody, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "ejabberd applies `upload quota` to every domain, and the domains differ",
        hint: Some("try the same `upload quota` in every domain"),
        ..row(Construct::UploadQuotaDiffer, Server::Ejabberd, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "prosody keeps every upload slot itself (one instance); `signed` is rendered for ejabberd only",
        ..row(Construct::SignedUpload, Server::Prosody, Since::Never, Otherwise::Warn)
    },
    Capability {
        message: "prosody has no SCRAM-SHA-512 (it stores SHA-1 or SHA-256 keys)",
        hint: Some("try `scram sha-256`, which both servers offer"),
        ..row(Construct::ScramSha512, Server::Prosody, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "prosody has no bundled external-program authentication",
        hint: Some(
            "try `auth internal`, or target ejabberd only (prosody needs the community module mod_auth_external)",
        ),
        ..row(Construct::AuthExternal, Server::Prosody, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "ejabberd cannot read a secret from a file",
        hint: ENV_HINT,
        ..row(Construct::FileSecret, Server::Ejabberd, Since::Never, Otherwise::Refuse)
    },
    Capability {
        message: "`file()` secrets need prosody >= {since} (FileLine); the targets include {target}",
        hint: ENV_HINT,
        ..row(Construct::FileSecret, Server::Prosody, Since::Release(Version(13, 0, 0)), Otherwise::Refuse)
    },
    Capability {
        message: "invite-only registration needs ejabberd >= {since} (mod_invites); the targets include {target}",
        hint: Some("try `targets ejabberd >= {since}`, or `registration closed`"),
        ..row(Construct::InviteRegistration, Server::Ejabberd, Since::Release(Version(26, 1, 0)), Otherwise::Refuse)
    },
    Capability {
        message: "`{arg}` needs prosody >= {since} (mod_cloud_notify); with the targets including {target}, it is \
                  rendered for ejabberd only",
        hint: Some("try `targets prosody >= {since}`"),
        ..row(Construct::Feature(Feature::Push), Server::Prosody, Since::Release(Version(13, 0, 0)), Otherwise::Warn)
    },
    Capability {
        message: "secrets come from a macros file the host writes (`define_macro`); from {since} from \
                  `EJABBERD_MACRO_<NAME>` in the environment",
        ..row(Construct::EnvSecrets, Server::Ejabberd, Since::Release(Version(24, 12, 0)), Otherwise::Render)
    },
    Capability {
        message: "the SQL schema is not upgraded by the server (`update_sql_schema` exists from {since})",
        ..row(Construct::UpdateSqlSchema, Server::Ejabberd, Since::Release(Version(23, 10, 0)), Otherwise::Render)
    },
    Capability {
        message: "the multi-domain schema is switched on as `new_sql_schema` (renamed `sql_schema_multihost` in {since})",
        ..row(Construct::SqlSchemaMultihost, Server::Ejabberd, Since::Release(Version(25, 10, 0)), Otherwise::Render)
    },
];

/// The row saying whether `server` can express `construct`, if any.
pub fn capability(construct: Construct, server: Server) -> Option<&'static Capability> {
    CAPABILITIES.iter().find(|c| c.construct == construct && c.server == server)
}

/// Whether `version` of `server` expresses `construct` as written.
pub fn supports(construct: Construct, server: Server, version: Version) -> bool {
    match capability(construct, server).map(|c| c.since) {
        None => true,
        Some(Since::Never) => false,
        Some(Since::Release(since)) => version >= since,
    }
}

/// Kinds of data a `storage … { only … }` block can keep in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Store {
    Accounts,
    Roster,
    Archive,
    Offline,
    Private,
    Vcard,
}

/// Each store's DSL word, ejabberd module (`None`: accounts, set by `auth_method`) and Prosody store.
pub const STORES: &[(Store, &str, Option<&str>, &str)] = &[
    (Store::Accounts, "accounts", None, "accounts"),
    (Store::Roster, "roster", Some("mod_roster"), "roster"),
    (Store::Archive, "archive", Some("mod_mam"), "archive"),
    (Store::Offline, "offline", Some("mod_offline"), "offline"),
    (Store::Private, "private", Some("mod_private"), "private"),
    (Store::Vcard, "vcard", Some("mod_vcard"), "vcard"),
];

/// The kinds of XEP-0157 contact address, in the order they are written.
pub const CONTACT_KINDS: &[&str] = &["abuse", "admin", "feedback", "sales", "security", "support"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_and_print_as_written() {
        assert!(Version::parse("23.01") < Version::parse("23.10"));
        assert!(Version::parse("0.12.3") < Version::parse("13.0"));
        assert_eq!(Version::parse("23.01").map(|v| v.to_string()).as_deref(), Some("23.01"));
        assert_eq!(Version::parse("0.12.3").map(|v| v.to_string()).as_deref(), Some("0.12.3"));
        assert_eq!(Version::parse("1.2.3.4"), None);
        assert_eq!(Version::parse("x"), None);
    }
}
