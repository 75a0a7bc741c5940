//! `prosody.cfg.lua`: global options first, then one `VirtualHost` section per domain with its components.

use super::Modules;
use super::lua::{Lua, Writer, quote};
use crate::facts::{self, Construct, Server, Version};
use crate::ir::{
    ArchivePolicy, Auth, Certificate, Creators, Deployment, Domain, Duration, Http, HttpTls, LogLevel, PeerAuth,
    Registration, ScramHash, Secret, Service, SqlKind, Storage, TlsMode,
};

pub const FILE_NAME: &str = "prosody.cfg.lua";

pub(crate) fn emit(d: &Deployment, header: &str) -> String {
    let version = d.prosody.unwrap_or(facts::PROSODY_DEFAULT);
    let raw = d.raw.iter().filter(|r| r.server == Server::Prosody);
    let overridden = raw.flat_map(|r| crate::lua_syntax::leading_assignments(&r.text)).collect();
    let mut w = Writer { overridden, ..Writer::default() };
    w.comment("", header);
    w.line("");

    let level = match d.log_level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warn",
        LogLevel::Error => "error",
    };
    w.set("", "log", &Lua::Table(vec![(level.into(), Lua::str("*console"))]));

    let per_domain: Vec<Modules<()>> = d.domains.iter().map(|dom| modules(d, dom, version)).collect();
    let split = super::split_modules(&per_domain);
    w.set("", "modules_enabled", &Lua::strings(split.global.iter().map(|(n, _)| n.as_str())));
    w.line("");

    // Every port list is written, even empty, so Prosody never opens a default port nobody asked for.
    ports(&mut w, d, "c2s", |s| matches!(s, Service::Client { tls } if *tls != TlsMode::Direct));
    ports(&mut w, d, "c2s_direct_tls", |s| matches!(s, Service::Client { tls: TlsMode::Direct }));
    ports(&mut w, d, "s2s", |s| matches!(s, Service::Federation { tls, .. } if *tls != TlsMode::Direct));
    ports(&mut w, d, "s2s_direct_tls", |s| matches!(s, Service::Federation { tls: TlsMode::Direct, .. }));
    ports(&mut w, d, "http", |s| matches!(s, Service::Http(h) if h.tls != HttpTls::Direct));
    ports(&mut w, d, "https", |s| matches!(s, Service::Http(h) if h.tls == HttpTls::Direct));
    w.set("", "component_ports", &Lua::List(Vec::new()));
    if let Some(p) = d.proxy() {
        w.set("", "proxy65_ports", &Lua::List(vec![Lua::Int(p.port.into())]));
        w.set("", "proxy65_interfaces", &Lua::strings([p.address.as_str()]));
    }
    for l in &d.listeners {
        match l.service {
            Service::Client { tls } if tls != TlsMode::Direct => {
                w.set("", "c2s_require_encryption", &Lua::Bool(tls == TlsMode::Required));
            }
            Service::Federation { tls, .. } if tls != TlsMode::Direct => {
                w.set("", "s2s_require_encryption", &Lua::Bool(tls == TlsMode::Required));
            }
            _ => {}
        }
    }
    if d.http().is_some() {
        // Prosody serves every route on each of its HTTP ports: one `http_paths` for all listeners.
        let path = |route: fn(&Http) -> Option<&String>| d.serving(route).map(|(_, _, p)| p.as_str());
        let mut paths = Vec::new();
        for (module, path) in [
            (facts::WEBSOCKET.prosody, path(|h| h.websocket.as_ref())),
            (facts::BOSH.prosody, path(|h| h.bosh.as_ref())),
            ("file_share", path(|h| h.upload.as_ref())),
            ("openmetrics", d.metrics.as_ref().map(|m| m.path.as_str())),
        ] {
            if let Some(p) = path {
                paths.push((module.to_string(), Lua::str(p)));
            }
        }
        if !paths.is_empty() {
            w.set("", "http_paths", &Lua::Table(paths));
        }
        // TLS ends at the proxy in front: sessions over HTTP count as encrypted.
        let terminated = |route: fn(&Http) -> Option<&String>| {
            d.serving(route).is_some_and(|(_, h, _)| h.tls == HttpTls::Terminated)
        };
        if terminated(|h| h.websocket.as_ref()) {
            w.set("", "consider_websocket_secure", &Lua::Bool(true));
        }
        if terminated(|h| h.bosh.as_ref()) {
            w.set("", "consider_bosh_secure", &Lua::Bool(true));
        }
        // HTTPS serves every host's routes; a host's own certificate is chosen by SNI where it has one.
        if let Some(c) = https_certificate(d) {
            w.set("", "https_ssl", &Lua::Table(certificate_fields(c)));
        }
        if d.serving(|h| h.api.as_ref()).is_some() {
            w.comment("", "The admin REST API (`api`) has no Prosody equivalent; it is rendered for ejabberd only.");
        }
    }
    w.line("");

    if let Auth::Ldap(l) = &d.auth {
        // mod_auth_ldap (bundled; needs the `lua-ldap` library): finds the user with `rootdn`, then
        // binds as the user's entry with the password given, as ejabberd does.
        w.set("", "authentication", &Lua::str("ldap"));
        let servers: Vec<String> = l.servers.iter().map(|s| format!("{s}:{}", l.port)).collect();
        w.set("", "ldap_server", &Lua::str(servers.join(" ")));
        w.set("", "ldap_base", &Lua::str(&l.base));
        if let Some(bind) = &l.bind {
            w.set("", "ldap_rootdn", &Lua::str(bind));
        }
        if let Some(p) = &l.password {
            w.set("", "ldap_password", &secret(p));
        }
        w.set("", "ldap_filter", &Lua::str(format!("({}=$user)", l.uid)));
    } else {
        w.set("", "authentication", &Lua::str("internal_hashed"));
    }
    if d.scram != ScramHash::Sha1 {
        w.set("", "password_hash", &Lua::str(d.scram.name()));
    }
    if let Storage::Sql(sql) = &d.storage {
        if sql.only.is_empty() {
            w.set("", "storage", &Lua::str("sql"));
        } else {
            let stores = facts::STORES
                .iter()
                .filter(|s| sql.only.contains(&s.0))
                .map(|s| (s.3.to_string(), Lua::str("sql")))
                .collect();
            w.set("", "default_storage", &Lua::str("internal"));
            w.set("", "storage", &Lua::Table(stores));
        }
        let driver = match sql.kind {
            SqlKind::Postgres => "PostgreSQL",
            SqlKind::Mysql => "MySQL",
            SqlKind::Sqlite => "SQLite3",
        };
        let mut fields = vec![("driver".to_string(), Lua::str(driver)), ("database".into(), Lua::str(&sql.database))];
        if let Some(h) = &sql.host {
            fields.push(("host".into(), Lua::str(h)));
        }
        if let Some(p) = sql.port {
            fields.push(("port".into(), Lua::Int(p.into())));
        }
        if let Some(u) = &sql.user {
            fields.push(("username".into(), Lua::str(u)));
        }
        if let Some(p) = &sql.password {
            fields.push(("password".into(), secret(p)));
        }
        w.set("", "sql", &Lua::Table(fields));
    }
    let mut limits = Vec::new();
    if let Some(r) = d.limits.client {
        limits.push(("c2s".to_string(), Lua::Table(vec![("rate".into(), Lua::str(format!("{r}b/s")))])));
    }
    if let Some(r) = d.limits.federation {
        limits.push(("s2sin".to_string(), Lua::Table(vec![("rate".into(), Lua::str(format!("{r}b/s")))])));
    }
    if !limits.is_empty() {
        w.set("", "limits", &Lua::Table(limits));
    }
    if let Some(t) = &d.turn {
        w.set("", "turn_external_host", &Lua::str(&t.host));
        w.set("", "turn_external_port", &Lua::Int(t.port.into()));
        if let Some(p) = t.tls_port {
            w.set("", "turn_external_tls_port", &Lua::Int(p.into()));
        }
        w.set("", "turn_external_secret", &secret(&t.secret));
    }
    if let Some(m) = &d.metrics {
        if d.http().is_some() {
            // The chart's module counting accounts (facts::PROSODY_ACCOUNTS) is there.
            w.set("", "plugin_paths", &Lua::List(vec![Lua::str(facts::PROSODY_PLUGINS)]));
        }
        w.set("", "statistics", &Lua::str("internal"));
        if let Some(cidr) = m.allow.first() {
            w.set("", "openmetrics_allow_cidr", &Lua::str(cidr));
        }
    }
    if let Some((_, peers, _)) = d.federation() {
        // Peers prove their names with a certificate that validates; dialback only over one.
        w.set("", "s2s_secure_auth", &Lua::Bool(peers == PeerAuth::Certificate));
    }
    // Server-wide TLS settings; a VirtualHost's own `ssl` is applied over them.
    let mut ssl = d.certificate.as_ref().map(certificate_fields).unwrap_or_default();
    if let Some((_, _, Some(ca))) = d.federation() {
        ssl.push(("cafile".to_string(), Lua::str(ca)));
    }
    if !ssl.is_empty() {
        w.set("", "ssl", &Lua::Table(ssl));
    }
    for raw in d.raw.iter().filter(|r| r.server == Server::Prosody) {
        w.line("");
        w.comment("", &format!("Verbatim from the raw `prosody {{ }}` block at {}:", super::one_line(&raw.origin)));
        w.out.push_str(&raw.text);
        w.comment("", "End of the raw block.");
    }

    for (dom, extra) in d.domains.iter().zip(&split.per_domain) {
        virtual_host(&mut w, dom, extra, d);
    }
    w.out
}

/// A secret as Prosody reads it at start-up.
fn secret(x: &Secret) -> Lua {
    match x {
        Secret::Env(name) => Lua::Expr(format!("ENV_{name}")),
        Secret::File(path) => Lua::Expr(format!("FileLine({})", quote(path))),
    }
}

/// The modules one domain's VirtualHost needs (components are separate).
fn modules(d: &Deployment, dom: &Domain, version: Version) -> Modules<()> {
    let mut m = Modules::default();
    for core in facts::CORE {
        m.add(core.prosody, ());
    }
    for core in facts::PROSODY_CORE {
        m.add(core, ());
    }
    for f in &dom.features {
        if facts::supports(Construct::Feature(*f), Server::Prosody, version) {
            for module in facts::feature_info(*f).prosody {
                m.add(module, ());
            }
        }
    }
    if dom.archive.is_some() {
        m.add(facts::ARCHIVE.prosody, ());
    }
    match dom.registration {
        Registration::Closed => {}
        Registration::Open { .. } => m.add(facts::REGISTRATION.prosody, ()),
        Registration::Invite => {
            m.add(facts::REGISTRATION.prosody, ());
            for module in facts::PROSODY_INVITES {
                m.add(module, ());
            }
        }
    }
    if !dom.contact.is_empty() {
        m.add(facts::CONTACT.prosody, ());
    }
    if d.turn.is_some() {
        m.add(facts::TURN.prosody, ());
    }
    if d.serving(|h| h.websocket.as_ref()).is_some() {
        m.add(facts::WEBSOCKET.prosody, ());
    }
    if d.serving(|h| h.bosh.as_ref()).is_some() {
        m.add(facts::BOSH.prosody, ());
    }
    if d.http().is_some() && d.metrics.is_some() {
        m.add(facts::PROSODY_METRICS, ());
        m.add(facts::PROSODY_ACCOUNTS, ());
    }
    m
}

fn virtual_host(w: &mut Writer, dom: &Domain, extra: &[(String, ())], d: &Deployment) {
    let i = "\t";
    w.line("");
    w.line(&format!("VirtualHost {}", quote(&dom.name)));
    if !dom.admins.is_empty() {
        w.set(i, "admins", &Lua::strings(dom.admins.iter().map(String::as_str)));
    }
    if !extra.is_empty() {
        w.set(i, "modules_enabled", &Lua::strings(extra.iter().map(|(n, _)| n.as_str())));
    }
    if let Some(c) = &dom.certificate {
        w.set(i, "ssl", &Lua::Table(certificate_fields(c)));
    }
    if let Some(a) = &dom.archive {
        let policy = match a.default {
            ArchivePolicy::Always => Lua::Bool(true),
            ArchivePolicy::Never => Lua::Bool(false),
            ArchivePolicy::Roster => Lua::str("roster"),
        };
        w.set(i, "default_archive_policy", &policy);
        if let Some(period) = a.retention.and_then(Duration::prosody_period) {
            w.set(i, "archive_expires_after", &Lua::str(period));
        }
    }
    match dom.registration {
        Registration::Closed => {}
        Registration::Open { interval } => {
            w.set(i, "allow_registration", &Lua::Bool(true));
            if let Some(iv) = interval {
                w.set(
                    i,
                    "min_seconds_between_registrations",
                    &Lua::Int(i64::try_from(iv.seconds()).unwrap_or(i64::MAX)),
                );
            }
        }
        Registration::Invite => {
            w.set(i, "allow_registration", &Lua::Bool(true));
            w.set(i, "registration_invite_only", &Lua::Bool(true));
        }
    }
    if !dom.contact.is_empty() {
        let info =
            dom.contact.iter().map(|(k, urls)| (k.clone(), Lua::strings(urls.iter().map(String::as_str)))).collect();
        w.set(i, "contact_info", &Lua::Table(info));
    }

    if let Some(g) = &dom.groupchat {
        w.line("");
        w.line(&format!("Component {} {}", quote(&g.host), quote(facts::GROUPCHAT.prosody)));
        if g.archive {
            w.set(i, "modules_enabled", &Lua::strings([facts::MUC_ARCHIVE]));
            w.set(i, "muc_log_by_default", &Lua::Bool(true));
        }
        let history = Lua::Int(i64::try_from(g.history).unwrap_or(i64::MAX));
        w.set(i, "max_history_messages", &history);
        w.set(i, "muc_room_default_history_length", &history);
        let restrict = match g.create {
            Creators::Admins => Lua::Bool(true),
            Creators::Local => Lua::str("local"),
            Creators::Anyone => Lua::Bool(false),
        };
        w.set(i, "restrict_room_creation", &restrict);
        w.set(i, "muc_room_default_persistent", &Lua::Bool(g.persistent));
        w.set(i, "muc_room_default_public", &Lua::Bool(g.public));
        w.set(i, "muc_room_default_members_only", &Lua::Bool(g.members_only));
    }
    if let Some(u) = &dom.upload {
        w.line("");
        w.line(&format!("Component {} {}", quote(&u.host), quote(facts::UPLOAD.prosody)));
        let n = |v: u64| Lua::Int(i64::try_from(v).unwrap_or(i64::MAX));
        w.set(i, "http_file_share_size_limit", &n(u.max_size));
        if let Some(e) = u.expire {
            w.set(i, "http_file_share_expires_after", &n(e.seconds()));
        }
        if let Some(q) = u.quota {
            w.set(i, "http_file_share_daily_quota", &n(q));
        }
        w.set(i, "http_external_url", &Lua::str(format!("{}/", d.upload_base(u, &u.host))));
        if let Some(url) = &u.url {
            // Prosody routes HTTP by Host: answer on the URL's host too, not only on the component's name.
            let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or(url);
            w.set(i, "http_host", &Lua::str(host));
        }
        if d.serving(|h| h.upload.as_ref()).is_some() {
            w.comment(i, "Served on the http listener's `file_share` path.");
        }
    }
    if let Some(p) = &dom.proxy {
        w.line("");
        w.line(&format!("Component {} {}", quote(&p.host), quote(facts::PROXY.prosody)));
        w.set(i, "proxy65_address", &Lua::str(&p.host));
    }
    if let Some(host) = &dom.pubsub {
        w.line("");
        w.line(&format!("Component {} {}", quote(host), quote(facts::PUBSUB.prosody)));
    }
}

/// A certificate as the fields of an `ssl` table.
fn certificate_fields(c: &Certificate) -> Vec<(String, Lua)> {
    vec![("certificate".into(), Lua::str(&c.cert)), ("key".into(), Lua::str(&c.key))]
}

/// The certificate HTTPS presents when SNI finds no host's own: the server-wide one, else the first
/// domain's. `None` without a `tls direct` http listener.
fn https_certificate(d: &Deployment) -> Option<&Certificate> {
    d.http_listeners().find(|(_, h)| h.tls == HttpTls::Direct)?;
    d.certificate.as_ref().or_else(|| d.domains.iter().find_map(|dom| dom.certificate.as_ref()))
}

fn ports(w: &mut Writer, d: &Deployment, prefix: &str, is: impl Fn(&Service) -> bool) {
    let chosen: Vec<_> = d.listeners.iter().filter(|l| is(&l.service)).collect();
    let ports = chosen.iter().map(|l| Lua::Int(l.port.into())).collect();
    w.set("", &format!("{prefix}_ports"), &Lua::List(ports));
    if !chosen.is_empty() {
        let mut addresses: Vec<&str> = chosen.iter().map(|l| l.address.as_str()).collect();
        addresses.dedup();
        w.set("", &format!("{prefix}_interfaces"), &Lua::strings(addresses));
    }
}
