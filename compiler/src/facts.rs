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
pub const PROSODY_CORE: &[&str] = &["saslauth", "tls"];

pub const ARCHIVE: Module = Module { ejabberd: "mod_mam", prosody: "mam" };
pub const WEBSOCKET: Module = Module { ejabberd: "ejabberd_http_ws", prosody: "websocket" };
pub const BOSH: Module = Module { ejabberd: "mod_bosh", prosody: "bosh" };
/// ejabberd's admin REST API; Prosody has none.
pub const EJABBERD_API: &str = "mod_http_api";
/// The commands (`register`, `check_account`, `stats`, …) an admin API is for.
pub const EJABBERD_API_COMMANDS: &str = "mod_admin_extra";

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
