//! What the compiler knows about the servers: one table per fact, read by the checker and the emitters.

use std::fmt;

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
/// The targets assumed when a file has no `targets` line: the current releases.
pub const EJABBERD_CURRENT: Version = Version(26, 7, 0);
pub const PROSODY_CURRENT: Version = Version(13, 0, 0);

/// The address listeners bind to unless told otherwise: IPv4 everywhere (`::` fails where IPv6 is off).
pub const DEFAULT_ADDRESS: &str = "0.0.0.0";

/// Where ejabberd < 24.12 reads secret values (as `define_macro`), unless `secrets-dir` says otherwise.
pub const DEFAULT_SECRETS_DIR: &str = "/run/helm-xmpp";
/// The macros file in the secrets folder.
pub const EJABBERD_SECRETS_FILE: &str = "ejabberd-secrets.yml";
/// The first ejabberd that reads `EJABBERD_MACRO_<NAME>` from the environment.
pub const EJABBERD_ENV_MACROS: Version = Version(24, 12, 0);
/// The first ejabberd with `update_sql_schema`.
pub const EJABBERD_UPDATE_SQL_SCHEMA: Version = Version(23, 10, 0);
/// The first ejabberd where `new_sql_schema` is called `sql_schema_multihost`.
pub const EJABBERD_SQL_SCHEMA_MULTIHOST: Version = Version(25, 10, 0);
/// The first ejabberd with `mod_invites` (invite-only registration).
pub const EJABBERD_INVITES: Version = Version(26, 1, 0);
/// The first Prosody with `FileLine()` (and `Credential()`) in its config.
pub const PROSODY_FILE_SECRETS: Version = Version(13, 0, 0);

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
pub const PUBSUB: Module = Module { ejabberd: "mod_pubsub", prosody: "pubsub" };
pub const REGISTRATION: Module = Module { ejabberd: "mod_register", prosody: "register" };
pub const PROSODY_INVITES: &[&str] = &["invites", "invites_register", "invites_adhoc"];
pub const CONTACT: Module = Module { ejabberd: "mod_disco", prosody: "server_contact_info" };
pub const TURN: Module = Module { ejabberd: "mod_stun_disco", prosody: "turn_external" };
pub const EJABBERD_INVITES_MODULE: &str = "mod_invites";
pub const PROSODY_METRICS: &str = "http_openmetrics";
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
    /// The first Prosody that bundles the modules.
    pub prosody_since: Version,
}

const P012: Version = PROSODY_OLDEST;

pub const FEATURES: &[FeatureInfo] = &[
    FeatureInfo {
        feature: Feature::Carbons,
        name: "carbons",
        ejabberd: &["mod_carboncopy"],
        prosody: &["carbons"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::StreamManagement,
        name: "stream-management",
        ejabberd: &["mod_stream_mgmt"],
        prosody: &["smacks"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Csi,
        name: "csi",
        ejabberd: &["mod_client_state"],
        prosody: &["csi_simple"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Blocking,
        name: "blocking",
        ejabberd: &["mod_blocking", "mod_privacy"],
        prosody: &["blocklist"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Offline,
        name: "offline",
        ejabberd: &["mod_offline"],
        prosody: &["offline"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Private,
        name: "private",
        ejabberd: &["mod_private"],
        prosody: &["private"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Bookmarks,
        name: "bookmarks",
        ejabberd: &["mod_private", "mod_pubsub"],
        prosody: &["bookmarks"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Vcard,
        name: "vcard",
        ejabberd: &["mod_vcard", "mod_vcard_xupdate", "mod_avatar", "mod_pubsub"],
        prosody: &["vcard4", "vcard_legacy"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Pep,
        name: "pep",
        ejabberd: &["mod_pubsub"],
        prosody: &["pep"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::RosterVersioning,
        name: "roster-versioning",
        ejabberd: &["mod_roster"],
        prosody: &["roster"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::LastActivity,
        name: "last-activity",
        ejabberd: &["mod_last"],
        prosody: &["lastactivity"],
        prosody_since: P012,
    },
    FeatureInfo {
        feature: Feature::Push,
        name: "push",
        ejabberd: &["mod_push", "mod_push_keepalive"],
        prosody: &["cloud_notify"],
        prosody_since: Version(13, 0, 0),
    },
    FeatureInfo {
        feature: Feature::Version,
        name: "version",
        ejabberd: &["mod_version"],
        prosody: &["version"],
        prosody_since: P012,
    },
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
