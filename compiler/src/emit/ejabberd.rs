//! `ejabberd.yml`: a mapping built in a fixed order, written by [`crate::yaml`] so that ejabberd's
//! YAML 1.1 reader takes every scalar as the type meant.

use serde_norway::{Mapping, Value};

use super::Modules;
use crate::facts::{self, Construct, EJABBERD_API, EJABBERD_API_COMMANDS, Feature, Server, Version};
use crate::ir::{
    ArchivePolicy, Auth, Creators, Deployment, Domain, HttpTls, LogLevel, PeerAuth, Registration, ScramHash, Secret,
    Service, SqlKind, Storage, TlsMode,
};

pub const FILE_NAME: &str = "ejabberd.yml";

pub(crate) fn emit(d: &Deployment, header: &str) -> String {
    let version = d.ejabberd.unwrap_or(facts::EJABBERD_DEFAULT);
    let mut top = Mapping::new();
    put(&mut top, "hosts", strings(d.domains.iter().map(|dom| dom.name.as_str())));
    put(&mut top, "loglevel", s(loglevel(d.log_level)));

    let certs = d.certificate.iter().chain(d.domains.iter().filter_map(|dom| dom.certificate.as_ref()));
    let certfiles: Vec<&str> = certs.flat_map(|c| [c.cert.as_str(), c.key.as_str()]).collect();
    if !certfiles.is_empty() {
        put(&mut top, "certfiles", strings(dedup(certfiles)));
    }
    if let Some(file) = d.macros_file() {
        // ejabberd < 24.12 cannot read the environment: the chart writes the values as `define_macro` here.
        put(&mut top, "include_config_file", strings([file.as_str()]));
    }

    put(&mut top, "listen", Value::Sequence(d.listeners.iter().map(|l| listener(l, d)).collect()));
    if let Some((tls, _, trust)) = d.federation() {
        put(&mut top, "s2s_use_starttls", s(if tls == TlsMode::Optional { "optional" } else { "required" }));
        if let Some(ca) = trust {
            put(&mut top, "ca_file", s(ca));
        }
    }

    auth(&mut top, d);
    storage(&mut top, d, version);
    limits(&mut top, d);

    let admins: Vec<&str> = d.domains.iter().flat_map(|dom| dom.admins.iter().map(String::as_str)).collect();
    let mut acl = Mapping::new();
    if !admins.is_empty() {
        put(&mut acl, "admin", map([("user", strings(dedup(admins)))]));
    }
    put(&mut acl, "local", map([("user_regexp", s(""))]));
    put(&mut top, "acl", Value::Mapping(acl));
    put(&mut top, "access_rules", access_rules(d));

    if let Some((_, _, api)) = d.serving(|h| h.api.as_ref()) {
        let who = Value::Sequence(api.allow.iter().map(|n| map([("ip", s(n))])).collect());
        put(
            &mut top,
            "api_permissions",
            map([
                ("console commands", map([("from", strings(["ejabberd_ctl"])), ("who", s("all")), ("what", s("*"))])),
                (
                    "helm-xmpp api",
                    map([("from", strings([EJABBERD_API])), ("who", who), ("what", strings(["*", "!stop", "!start"]))]),
                ),
            ]),
        );
    }

    let per_domain: Vec<Modules<Value>> = d.domains.iter().map(|dom| modules(d, dom, version)).collect();
    let split = super::split_modules(&per_domain);
    put(&mut top, "modules", Value::Mapping(split.global.into_iter().map(|(k, v)| (s(&k), v)).collect()));
    let hosts: Mapping = d
        .domains
        .iter()
        .zip(split.per_domain)
        .filter(|(_, m)| !m.is_empty())
        .map(|(dom, m)| {
            (s(&dom.name), map([("modules", Value::Mapping(m.into_iter().map(|(k, v)| (s(&k), v)).collect()))]))
        })
        .collect();
    if !hosts.is_empty() {
        put(&mut top, "append_host_config", Value::Mapping(hosts));
    }

    let mut raw_origins = Vec::new();
    for raw in d.raw.iter().filter(|r| r.server == Server::Ejabberd) {
        if let Ok(Value::Mapping(m)) = serde_norway::from_str::<Value>(&raw.text) {
            merge(&mut top, m);
            raw_origins.push(raw.origin.as_str());
        }
    }
    let body = crate::yaml::to_string(&Value::Mapping(top));
    let mut out = format!("# {header}\n");
    for origin in raw_origins {
        out.push_str(&format!(
            "# Merged verbatim from the raw `ejabberd {{ }}` block at {}.\n",
            super::one_line(origin)
        ));
    }
    out.push_str(&body);
    out
}

/// Deep-merges `extra` into `base`; `extra` wins where both have a scalar.
fn merge(base: &mut Mapping, extra: Mapping) {
    for (k, v) in extra {
        match (base.get_mut(&k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(e)) => merge(b, e),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A secret as ejabberd reads it: a macro named like the environment variable.
fn secret(x: &Secret) -> Value {
    match x {
        Secret::Env(name) | Secret::File(name) => s(name),
    }
}

fn auth(top: &mut Mapping, d: &Deployment) {
    let sql = matches!(&d.storage, Storage::Sql(q) if q.only.is_empty() || q.only.contains(&facts::Store::Accounts));
    match &d.auth {
        Auth::Internal => {
            put(top, "auth_method", strings([if sql { "sql" } else { "mnesia" }]));
            put(top, "auth_password_format", s("scram"));
            let hash = match d.scram {
                ScramHash::Sha1 => None,
                ScramHash::Sha256 => Some("sha256"),
                ScramHash::Sha512 => Some("sha512"),
            };
            if let Some(h) = hash {
                put(top, "auth_scram_hash", s(h));
            }
        }
        Auth::External { program } => {
            put(top, "auth_method", strings(["external"]));
            put(top, "extauth_program", s(program));
        }
        Auth::Ldap(l) => {
            put(top, "auth_method", strings(["ldap"]));
            put(top, "ldap_servers", strings(l.servers.iter().map(String::as_str)));
            put(top, "ldap_port", Value::Number(l.port.into()));
            put(top, "ldap_base", s(&l.base));
            if let Some(bind) = &l.bind {
                put(top, "ldap_rootdn", s(bind));
            }
            if let Some(p) = &l.password {
                put(top, "ldap_password", secret(p));
            }
            put(top, "ldap_uids", map([(l.uid.as_str(), s("%u"))]));
        }
    }
}

fn storage(top: &mut Mapping, d: &Deployment, version: Version) {
    let Storage::Sql(sql) = &d.storage else { return };
    if sql.only.is_empty() {
        put(top, "default_db", s("sql"));
    }
    let kind = match sql.kind {
        SqlKind::Postgres => "pgsql",
        SqlKind::Mysql => "mysql",
        SqlKind::Sqlite => "sqlite",
    };
    put(top, "sql_type", s(kind));
    if let Some(h) = &sql.host {
        put(top, "sql_server", s(h));
    }
    if let Some(p) = sql.port {
        put(top, "sql_port", Value::Number(p.into()));
    }
    put(top, "sql_database", s(&sql.database));
    if let Some(u) = &sql.user {
        put(top, "sql_username", s(u));
    }
    if let Some(p) = &sql.password {
        put(top, "sql_password", secret(p));
    }
    // One schema for several domains; the option was renamed in 25.10.
    let multihost = if facts::supports(Construct::SqlSchemaMultihost, Server::Ejabberd, version) {
        "sql_schema_multihost"
    } else {
        "new_sql_schema"
    };
    put(top, multihost, Value::Bool(true));
    if facts::supports(Construct::UpdateSqlSchema, Server::Ejabberd, version) {
        put(top, "update_sql_schema", Value::Bool(true));
    }
}

fn limits(top: &mut Mapping, d: &Deployment) {
    let mut shaper = Mapping::new();
    let mut rules = Mapping::new();
    if let Some(rate) = d.limits.client {
        put(&mut shaper, "c2s_limit", Value::Number(rate.into()));
        put(&mut rules, "c2s_shaper", s("c2s_limit"));
    }
    if let Some(rate) = d.limits.federation {
        put(&mut shaper, "s2s_limit", Value::Number(rate.into()));
        put(&mut rules, "s2s_shaper", s("s2s_limit"));
    }
    if let Some(n) = d.domains.iter().filter_map(|dom| dom.max_sessions).max() {
        put(&mut rules, "max_user_sessions", Value::Number(n.into()));
    }
    if let Some(q) = d.domains.iter().filter_map(|dom| dom.upload.as_ref()?.quota).max() {
        put(&mut rules, "hard_upload_quota", Value::Number(q.div_ceil(1 << 20).into()));
    }
    if let Some(secs) = d
        .domains
        .iter()
        .filter_map(|dom| match dom.registration {
            Registration::Open { interval } => interval.map(|i| i.seconds()),
            _ => None,
        })
        .max()
    {
        put(top, "registration_timeout", Value::Number(secs.into()));
    }
    if !shaper.is_empty() {
        put(top, "shaper", Value::Mapping(shaper));
    }
    if !rules.is_empty() {
        put(top, "shaper_rules", Value::Mapping(rules));
    }
}

fn access_rules(d: &Deployment) -> Value {
    let mut rules = Mapping::new();
    put(&mut rules, "local", map([("allow", s("local"))]));
    put(&mut rules, "c2s", map([("allow", s("all"))]));
    if d.domains.iter().any(|dom| !dom.admins.is_empty()) {
        put(&mut rules, "configure", map([("allow", s("admin"))]));
    }
    if d.domains.iter().any(|dom| matches!(dom.registration, Registration::Open { .. })) {
        put(&mut rules, "register", map([("allow", s("all"))]));
    }
    for (name, who) in [("muc_create_admins", "admin"), ("muc_create_local", "local"), ("muc_create_anyone", "all")] {
        if d.domains.iter().any(|dom| dom.groupchat.as_ref().is_some_and(|g| creators_acl(g.create) == who)) {
            put(&mut rules, name, map([("allow", s(who))]));
        }
    }
    Value::Mapping(rules)
}

fn creators_acl(c: Creators) -> &'static str {
    match c {
        Creators::Admins => "admin",
        Creators::Local => "local",
        Creators::Anyone => "all",
    }
}

/// The modules one domain needs, with their options, in a fixed order.
fn modules(d: &Deployment, dom: &Domain, version: Version) -> Modules<Value> {
    let mut m = Modules::default();
    let empty = || Value::Mapping(Mapping::new());
    for core in facts::CORE {
        let opts = match core.ejabberd {
            "mod_roster" if dom.features.contains(&Feature::RosterVersioning) => {
                map([("versioning", Value::Bool(true))])
            }
            "mod_disco" if !dom.contact.is_empty() => contact(dom),
            _ => empty(),
        };
        m.add(core.ejabberd, opts);
    }
    let pubsub = dom.pubsub.is_some()
        || facts::FEATURES.iter().any(|f| dom.features.contains(&f.feature) && f.ejabberd.contains(&"mod_pubsub"));
    for f in &dom.features {
        for module in facts::feature_info(*f).ejabberd {
            match *module {
                "mod_pubsub" => {}
                // Messages a closing session had not seen acknowledged are routed again (to the user's
                // other or new session, else to offline storage), archived or not, instead of bouncing:
                // what a stopping pod hands on. Not `if_offline`: ejabberd asks before the closing session
                // is unregistered, so a client that reconnected at once counts as another session, and
                // the message bounced (one in ~300 lost in rollouts, found by the cluster scenario).
                "mod_stream_mgmt" => m.add(module, map([("resend_on_timeout", Value::Bool(true))])),
                _ => m.add(module, empty()),
            }
        }
    }
    if pubsub {
        let mut opts = Mapping::new();
        if let Some(host) = &dom.pubsub {
            let label = host.split('.').next().unwrap_or("pubsub");
            put(&mut opts, "host", s(&format!("{label}.@HOST@")));
        }
        put(&mut opts, "plugins", strings(["flat", "pep"]));
        m.add(facts::EJABBERD_CAPS, empty());
        m.add(facts::PUBSUB.ejabberd, Value::Mapping(opts));
    }
    let muc_archive = dom.groupchat.as_ref().is_some_and(|g| g.archive);
    if dom.archive.is_some() || muc_archive {
        let policy = match dom.archive.as_ref().map(|a| a.default) {
            Some(ArchivePolicy::Always) => "always",
            Some(ArchivePolicy::Roster) => "roster",
            Some(ArchivePolicy::Never) | None => "never",
        };
        m.add(facts::ARCHIVE.ejabberd, map([("default", s(policy))]));
    }
    if let Some(g) = &dom.groupchat {
        let access = match g.create {
            Creators::Admins => "muc_create_admins",
            Creators::Local => "muc_create_local",
            Creators::Anyone => "muc_create_anyone",
        };
        let room = map([
            ("persistent", Value::Bool(g.persistent)),
            ("public", Value::Bool(g.public)),
            ("members_only", Value::Bool(g.members_only)),
            ("mam", Value::Bool(g.archive)),
        ]);
        m.add(
            facts::GROUPCHAT.ejabberd,
            map([
                ("host", s(&format!("{}.@HOST@", g.label))),
                ("history_size", Value::Number(g.history.into())),
                ("access_create", s(access)),
                ("default_room_options", room),
            ]),
        );
        m.add(facts::GROUPCHAT_ADMIN, empty());
    }
    if let Some(u) = &dom.upload {
        let path = d.serving(|h| h.upload.as_ref()).map_or("/upload", |(_, _, p)| p.as_str());
        let base = d.upload_base(u, &format!("{}.@HOST@", u.label));
        let mut opts = Mapping::new();
        put(&mut opts, "host", s(&format!("{}.@HOST@", u.label)));
        put(&mut opts, "put_url", s(&format!("{base}{path}")));
        if let Some(key) = &u.signed {
            // No slot kept in this node's memory: the PUT URL is signed, for a receiver that any
            // node's pod runs (the chart's) to check.
            put(&mut opts, "external_secret", secret(key));
        }
        put(&mut opts, "max_size", Value::Number(u.max_size.into()));
        m.add(facts::UPLOAD.ejabberd, Value::Mapping(opts));
        if let Some(e) = u.expire {
            m.add(facts::UPLOAD_QUOTA, map([("max_days", Value::Number(e.seconds().div_ceil(86_400).into()))]));
        } else if u.quota.is_some() {
            m.add(facts::UPLOAD_QUOTA, empty());
        }
    }
    if let Some(p) = &dom.proxy {
        let host = format!("{}.@HOST@", p.label);
        m.add(
            facts::PROXY.ejabberd,
            map([
                ("host", s(&host)),
                ("port", Value::Number(p.port.into())),
                ("ip", s(&p.address)),
                // What clients are told to connect to: the service's name, as Prosody announces it.
                ("hostname", s(&host)),
                ("access", s("local")),
            ]),
        );
    }
    if d.federation().is_some_and(|(_, peers, _)| peers == PeerAuth::Dialback) {
        m.add(facts::EJABBERD_DIALBACK, empty());
    }
    match dom.registration {
        Registration::Open { .. } => m.add(facts::REGISTRATION.ejabberd, map([("access", s("register"))])),
        Registration::Invite if facts::supports(Construct::InviteRegistration, Server::Ejabberd, version) => {
            m.add(facts::EJABBERD_INVITES_MODULE, empty())
        }
        _ => {}
    }
    if let Some(t) = &d.turn {
        let service = |port: u16, kind: &str, transport: &str, restricted: bool| {
            map([
                ("host", s(&t.host)),
                ("port", Value::Number(port.into())),
                ("type", s(kind)),
                ("transport", s(transport)),
                ("restricted", Value::Bool(restricted)),
            ])
        };
        let mut services = vec![service(t.port, "stun", "udp", false), service(t.port, "turn", "udp", true)];
        services.extend(t.tls_port.map(|p| service(p, "turns", "tcp", true)));
        m.add(facts::TURN.ejabberd, map([("secret", secret(&t.secret)), ("services", Value::Sequence(services))]));
    }
    if d.serving(|h| h.bosh.as_ref()).is_some() {
        m.add(facts::BOSH.ejabberd, empty());
    }
    if d.serving(|h| h.api.as_ref()).is_some() {
        m.add(EJABBERD_API, empty());
        m.add(EJABBERD_API_COMMANDS, empty());
    }
    m
}

fn contact(dom: &Domain) -> Value {
    let info = dom.contact.iter().map(|(kind, urls)| {
        map([
            ("modules", s("all")),
            ("name", s(&format!("{kind}-addresses"))),
            ("urls", strings(urls.iter().map(String::as_str))),
        ])
    });
    map([("server_info", Value::Sequence(info.collect()))])
}

fn listener(l: &crate::ir::Listener, d: &Deployment) -> Value {
    let mut m = Mapping::new();
    put(&mut m, "port", Value::Number(l.port.into()));
    put(&mut m, "ip", s(&l.address));
    match &l.service {
        Service::Client { tls } => {
            put(&mut m, "module", s("ejabberd_c2s"));
            match tls {
                // `terminated` is only ever on the http listener (the checker sees to it).
                TlsMode::Required | TlsMode::Terminated => put(&mut m, "starttls_required", Value::Bool(true)),
                TlsMode::Optional => put(&mut m, "starttls", Value::Bool(true)),
                TlsMode::Direct => put(&mut m, "tls", Value::Bool(true)),
            }
            put(&mut m, "access", s("c2s"));
            if d.limits.client.is_some() {
                put(&mut m, "shaper", s("c2s_shaper"));
            }
            // 23.01 listens with a backlog of 5, too few for a burst of clients.
            put(&mut m, "backlog", Value::Number(128.into()));
        }
        Service::Federation { tls, .. } => {
            put(&mut m, "module", s("ejabberd_s2s_in"));
            if *tls == TlsMode::Direct {
                put(&mut m, "tls", Value::Bool(true));
            }
            if d.limits.federation.is_some() {
                put(&mut m, "shaper", s("s2s_shaper"));
            }
        }
        Service::Http(h) => {
            put(&mut m, "module", s("ejabberd_http"));
            if h.tls == HttpTls::Direct {
                put(&mut m, "tls", Value::Bool(true));
            }
            let mut handlers = Mapping::new();
            if let Some(p) = &h.websocket {
                put(&mut handlers, p, s(facts::WEBSOCKET.ejabberd));
            }
            if let Some(p) = &h.bosh {
                put(&mut handlers, p, s(facts::BOSH.ejabberd));
            }
            if let Some(p) = &h.upload {
                put(&mut handlers, p, s(facts::UPLOAD.ejabberd));
            }
            if let Some(api) = &h.api {
                put(&mut handlers, &api.path, s(EJABBERD_API));
            }
            put(&mut m, "request_handlers", Value::Mapping(handlers));
        }
    }
    Value::Mapping(m)
}

fn loglevel(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
    }
}

/// The items in their first order, each once.
fn dedup(items: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    items.into_iter().filter(|i| seen.insert(*i)).collect()
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Sequence(items.into_iter().map(s).collect())
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        put(&mut m, k, v);
    }
    Value::Mapping(m)
}

fn put(m: &mut Mapping, key: &str, value: Value) {
    m.insert(s(key), value);
}
