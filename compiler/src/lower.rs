//! Lowering: the AST of every file to one server-neutral [`Deployment`], with every error found, and
//! the constructs used noted for the compatibility pass (`compat.rs`). Nothing here depends on what a
//! server can express: that is the capability table in `facts.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::ast::{self, DomainItem, ListenItem, ListenerKind, Server, Settings, Span, Spanned, Statement, Value};
use crate::diagnostic::{Code, Sink, nearest};
use crate::facts::{self, Construct, Version};
use crate::ir::{self, Deployment, LogLevel};
use crate::settings::{Fields, integer};

/// Statements of the root file with every `include` replaced by the included file's statements.
fn flatten<'a>(files: &'a [ast::File], paths: &[String], sink: &mut Sink) -> Vec<&'a Statement> {
    fn walk<'a>(
        i: usize,
        files: &'a [ast::File],
        paths: &[String],
        seen: &mut BTreeSet<usize>,
        stack: &mut Vec<usize>,
        out: &mut Vec<&'a Statement>,
        sink: &mut Sink,
    ) {
        for st in &files[i].statements {
            let Statement::Include(target) = st else {
                out.push(st);
                continue;
            };
            match crate::resolve_include(&paths[i], &target.value) {
                Err(why) => {
                    sink.error(Code::BadInclude, target.span, why).hint("try a path inside the root file's folder");
                }
                Ok(path) => match paths.iter().position(|p| *p == path) {
                    Some(j) if stack.contains(&j) => {
                        let mut cycle: Vec<&str> = stack[stack.iter().position(|&k| k == j).unwrap_or(0)..]
                            .iter()
                            .map(|&k| paths[k].as_str())
                            .collect();
                        cycle.push(&paths[j]);
                        sink.error(Code::BadInclude, target.span, format!("an include cycle: {}", cycle.join(" → ")))
                            .hint("try including each file once, from the file that needs it");
                    }
                    Some(j) if seen.insert(j) => {
                        stack.push(j);
                        walk(j, files, paths, seen, stack, out, sink);
                        stack.pop();
                    }
                    // Included before from elsewhere: its statements are in already, once.
                    Some(_) => {}
                    None => {
                        sink.error(Code::BadInclude, target.span, format!("cannot read the included file {path}"));
                    }
                },
            }
        }
    }
    let mut out = Vec::new();
    if !files.is_empty() {
        let mut seen = BTreeSet::from([0]);
        walk(0, files, paths, &mut seen, &mut vec![0], &mut out, sink);
    }
    out
}

pub(crate) fn lower(files: &[ast::File], paths: &[String], sink: &mut Sink) -> Deployment {
    let statements = flatten(files, paths, sink);
    let mut d = Deployment {
        ejabberd: Some(facts::EJABBERD_DEFAULT),
        prosody: Some(facts::PROSODY_DEFAULT),
        log_level: LogLevel::Info,
        certificate: None,
        domains: Vec::new(),
        listeners: Vec::new(),
        auth: ir::Auth::Internal,
        scram: ir::ScramHash::default(),
        storage: ir::Storage::Internal,
        limits: ir::Limits::default(),
        turn: None,
        metrics: None,
        raw: Vec::new(),
        secrets_dir: facts::DEFAULT_SECRETS_DIR.to_string(),
    };
    // Targets first: every version check below depends on them.
    let mut targets_seen = false;
    for st in &statements {
        if let Statement::Targets(targets) = st {
            if targets_seen {
                let span = targets.first().map_or(Span::default(), |t| t.server.span);
                sink.error(Code::Duplicate, span, "`targets` is given twice").hint("try one `targets` line");
            } else {
                check_targets(targets, &mut d, sink);
            }
            targets_seen = true;
        }
    }
    let mut once_seen: BTreeMap<&str, Span> = BTreeMap::new();
    let mut domains: BTreeSet<String> = BTreeSet::new();
    let mut services: Vec<(String, Span)> = Vec::new();
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    // Which http listener serves each kind of route: one at most, as Prosody serves its paths on
    // every HTTP port alike.
    let mut routes: BTreeMap<&str, u16> = BTreeMap::new();
    let mut metrics_span = None;
    for st in &statements {
        match st {
            Statement::Targets(_) | Statement::Include(_) => {}
            Statement::Log(level) => {
                if once(&mut once_seen, "log", level.span, sink) {
                    d.log_level = level.value;
                }
            }
            Statement::SecretsDir(dir) => {
                if once(&mut once_seen, "secrets-dir", dir.span, sink) && absolute_path(dir, sink) {
                    d.secrets_dir = dir.value.trim_end_matches('/').to_string();
                }
            }
            Statement::Certificate { cert, key, span } => {
                if once(&mut once_seen, "certificate", *span, sink) {
                    d.certificate = certificate(cert, key, sink);
                }
            }
            Statement::Domain(domain) => {
                if let Some(checked) = check_domain(domain, &mut services, sink) {
                    if domains.insert(checked.name.clone()) {
                        d.domains.push(checked);
                    } else {
                        sink.error(
                            Code::Duplicate,
                            domain.name.span,
                            format!("domain `{}` is declared twice", checked.name),
                        )
                        .hint("try merging the two blocks");
                    }
                }
            }
            Statement::Listen(listen) => {
                if let Some(listener) = check_listen(listen, sink) {
                    for (kind, _) in d.routes(&listener) {
                        if let Some(other) = routes.insert(kind, listener.port).filter(|p| *p != listener.port) {
                            sink.error(
                                Code::Duplicate,
                                listen.port.span,
                                format!("`{kind}` is already served by the http listener on port {other}"),
                            )
                            .hint("serve each kind of route from one http listener");
                        }
                    }
                    if ports.insert(listener.port) {
                        d.listeners.push(listener);
                    } else {
                        sink.error(
                            Code::Duplicate,
                            listen.port.span,
                            format!("port {} is already used by another listener", listener.port),
                        );
                    }
                }
            }
            Statement::Auth(auth) => {
                if once(&mut once_seen, "auth", auth.span, sink) {
                    (d.auth, d.scram) = check_auth(auth, sink);
                }
            }
            Statement::Storage(storage) => {
                if once(&mut once_seen, "storage", storage.span, sink) {
                    d.storage = check_storage(storage, sink);
                }
            }
            Statement::Limits(settings) => {
                if once(&mut once_seen, "limits", settings.span, sink) {
                    let f = Fields::new(settings, "limits", &["client", "federation"], sink);
                    d.limits = ir::Limits { client: f.rate("client", sink), federation: f.rate("federation", sink) };
                }
            }
            Statement::Turn { host, settings, span } => {
                if once(&mut once_seen, "turn", *span, sink) {
                    d.turn = check_turn(host, settings.as_ref(), *span, sink);
                }
            }
            Statement::Metrics { path, allow, span } => {
                if once(&mut once_seen, "metrics", *span, sink) {
                    metrics_span = Some(*span);
                    sink.used(Construct::Metrics, *span, "");
                    let allow = allow.iter().filter_map(|n| check_network(n, sink)).collect();
                    d.metrics = check_path(path, sink).map(|path| ir::Metrics { path, allow });
                    if d.metrics.as_ref().is_some_and(|m| m.allow.len() > 1) {
                        sink.used(Construct::MetricsNetworks, *span, "");
                    }
                }
            }
            Statement::Raw { server, text } => {
                let (line, _) = sink.line_col(text.span.file, text.span.start);
                let origin = format!("{}:{line}", paths.get(text.span.file).map_or("?", String::as_str));
                if server.value == Server::Ejabberd {
                    // Merged key by key into ejabberd.yml: only a mapping (or nothing) has keys to merge.
                    match serde_norway::from_str::<serde_norway::Value>(&dedent(&text.value)) {
                        Err(e) => {
                            sink.error(Code::BadRaw, text.span, format!("the raw ejabberd block is not YAML: {e}"));
                        }
                        Ok(v) if has_tag(&v) => {
                            sink.error(Code::BadRaw, text.span, "the raw ejabberd block uses a YAML tag (`!name`)")
                                .hint("ejabberd's options take plain values; drop the tag");
                        }
                        Ok(v) if !(v.is_mapping() || v.is_null()) => {
                            sink.error(
                                Code::BadRaw,
                                text.span,
                                "the raw ejabberd block is YAML but not a mapping of options",
                            )
                            .hint("try `option: value` lines, e.g. `loglevel: info`");
                        }
                        Ok(_) => {}
                    }
                } else if let Err(e) = crate::lua_syntax::check_statements(&text.value) {
                    let start = text.span.start + e.offset;
                    let at = Span { file: text.span.file, start, end: start + 1 };
                    sink.error(Code::BadRaw, at, format!("the raw prosody block is not Lua: {}", e.message))
                        .hint("the block is copied into prosody.cfg.lua as Lua statements, e.g. `log = { info = \"*console\" }`");
                }
                d.raw.push(ir::Raw { server: server.value, origin, span: text.span, text: dedent(&text.value) });
            }
        }
    }
    if d.domains.is_empty() && !sink.has_errors() {
        let span = statements.first().map_or(Span::default(), |s| span_of(s));
        sink.error(Code::NoDomain, span, "no `domain` is declared")
            .hint("try `domain \"chat.example.com\" { admins alice }`");
    }
    // A host is a domain or a service, never both: Prosody refuses a host declared twice.
    for (host, span) in services.iter().filter(|(host, _)| domains.contains(host)) {
        sink.error(Code::Duplicate, *span, format!("`{host}` is both a domain and a service of another domain"))
            .hint("try another name for the service, or drop the domain block");
    }
    dependencies(&d, metrics_span, sink);
    d
}

/// What a construct needs elsewhere in the deployment (an http listener, a database), and what
/// ejabberd applies server-wide, checked once everything is lowered, from the constructs noted.
fn dependencies(d: &Deployment, metrics_span: Option<Span>, sink: &mut Sink) {
    let http = d.http().map(|(_, h)| h);
    if let Some(span) = metrics_span
        && http.is_none()
    {
        sink.error(Code::NeedsListener, span, "`metrics` is served over HTTP, but there is no `listen http`")
            .hint("try `listen http 5280 { }`");
    }
    if let (Some(span), Some(m)) = (metrics_span, &d.metrics) {
        // Prosody serves every path on every HTTP port: metrics' path must be free on all of them.
        let taken = d
            .listeners
            .iter()
            .flat_map(|l| d.routes(l))
            .find(|(kind, path)| *kind != "metrics" && path.trim_end_matches('/') == m.path.trim_end_matches('/'));
        if let Some((kind, path)) = taken {
            sink.error(Code::Duplicate, span, format!("`{path}` is served by both `{kind}` and `metrics`"))
                .hint("try \"/metrics\"");
        }
    }
    let sessions: BTreeSet<Option<u64>> = d.domains.iter().map(|dom| dom.max_sessions).collect();
    let quotas: BTreeSet<u64> = d.domains.iter().filter_map(|dom| dom.upload.as_ref()?.quota).collect();
    let sql = matches!(d.storage, ir::Storage::Sql(_));
    let upload = d.serving(|h| h.upload.as_ref());
    let proxies = sink.uses.iter().filter(|u| u.construct == Construct::Proxy).count();
    for u in sink.uses.clone() {
        match u.construct {
            Construct::Upload => {
                if upload.is_none() {
                    sink.error(Code::NeedsListener, u.span, "`upload` needs an http listener that serves uploads")
                        .hint("try `upload \"/upload\"` inside `listen http 5280 { … }`");
                }
                let plain = upload.filter(|(_, h, _)| h.tls == ir::HttpTls::None);
                let https_url = d
                    .domains
                    .iter()
                    .filter_map(|dom| dom.upload.as_ref()?.url.as_deref())
                    .find(|url| url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")));
                if let (Some((listener, _, _)), Some(url)) = (plain, https_url) {
                    sink.warning(
                        Code::PlainHttp,
                        u.span,
                        format!("`{url}` is https, but the http listener on port {} serves plain HTTP", listener.port),
                    )
                    .hint("try `tls direct` on that listener, or `tls terminated` when TLS ends in front of it");
                }
                if quotas.len() > 1 {
                    sink.used(Construct::UploadQuotaDiffer, u.span, "");
                }
            }
            Construct::AuthSql if !sql => {
                sink.error(Code::MissingSetting, u.span, "`auth sql` needs a `storage` block with a database")
                    .hint("try `storage postgres { host \"db\"; database \"xmpp\"; user \"xmpp\"; password env(\"XMPP_DB_PASSWORD\") }`");
            }
            Construct::Proxy => {
                if proxies > 1 {
                    sink.error(Code::Duplicate, u.span, "`proxy` is declared in more than one domain")
                        .hint("keep `proxy` in one domain: every domain's users may use it");
                }
                if d.listeners.iter().any(|l| l.port.to_string() == u.arg) {
                    sink.error(Code::Duplicate, u.span, format!("port {} is already used by a listener", u.arg))
                        .hint(format!("try `port {}`, or another free port", facts::PROXY_PORT));
                }
            }
            Construct::MaxSessions if sessions.len() > 1 => sink.used(Construct::MaxSessionsDiffer, u.span, ""),
            _ => {}
        }
    }
}

/// Removes the indentation common to all non-blank lines, and blank first and last lines.
/// Whether a YAML value holds a tag anywhere.
fn has_tag(v: &serde_norway::Value) -> bool {
    use serde_norway::Value;
    match v {
        Value::Tagged(_) => true,
        Value::Sequence(s) => s.iter().any(has_tag),
        Value::Mapping(m) => m.iter().any(|(k, v)| has_tag(k) || has_tag(v)),
        _ => false,
    }
}

fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent =
        lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let body: Vec<&str> = lines.iter().map(|l| l.get(indent..).unwrap_or("").trim_end()).collect();
    let start = body.iter().position(|l| !l.is_empty()).unwrap_or(body.len());
    let end = body.iter().rposition(|l| !l.is_empty()).map_or(start, |e| e + 1);
    let mut out = body[start..end].join("\n");
    out.push('\n');
    out
}

fn span_of(statement: &Statement) -> Span {
    match statement {
        Statement::Domain(d) => d.name.span,
        Statement::Listen(l) => l.span,
        Statement::Log(l) => l.span,
        Statement::Targets(t) => t.first().map_or(Span::default(), |t| t.server.span),
        Statement::Include(s) | Statement::SecretsDir(s) => s.span,
        Statement::Certificate { span, .. } | Statement::Turn { span, .. } | Statement::Metrics { span, .. } => *span,
        Statement::Auth(a) => a.span,
        Statement::Storage(s) => s.span,
        Statement::Limits(s) => s.span,
        Statement::Raw { text, .. } => text.span,
    }
}

/// True the first time a setting is seen; reports the second.
fn once(seen: &mut BTreeMap<&str, Span>, what: &'static str, span: Span, sink: &mut Sink) -> bool {
    if seen.insert(what, span).is_some() {
        sink.error(Code::Duplicate, span, format!("`{what}` is given twice")).hint("try keeping one");
        return false;
    }
    true
}

fn check_targets(targets: &[ast::Target], d: &mut Deployment, sink: &mut Sink) {
    d.ejabberd = None;
    d.prosody = None;
    for t in targets {
        let (oldest, name) = (t.server.value.oldest(), t.server.value.name());
        let slot = match t.server.value {
            Server::Ejabberd => &mut d.ejabberd,
            Server::Prosody => &mut d.prosody,
        };
        let Some(version) = Version::parse(&t.version.value) else {
            sink.error(Code::UnsupportedVersion, t.version.span, format!("`{}` is not a version", t.version.value));
            continue;
        };
        if slot.is_some() {
            sink.error(Code::Duplicate, t.server.span, format!("{name} is targeted twice"));
        } else if version < oldest {
            sink.error(
                Code::UnsupportedVersion,
                t.version.span,
                format!("{name} {version} is older than the oldest supported release"),
            )
            .hint(format!("try `{name} >= {oldest}`"));
        }
        *slot = Some(version.max(oldest));
    }
}

fn certificate(cert: &Spanned<String>, key: &Spanned<String>, sink: &mut Sink) -> Option<ir::Certificate> {
    let ok = absolute_path(cert, sink) & absolute_path(key, sink);
    ok.then(|| ir::Certificate { cert: cert.value.clone(), key: key.value.clone() })
}

fn absolute_path(p: &Spanned<String>, sink: &mut Sink) -> bool {
    if p.value.starts_with('/') && !p.value.chars().any(ast::breaks_a_line) {
        return true;
    }
    sink.error(Code::BadPath, p.span, format!("`{}` is not an absolute path", p.value))
        .hint(format!("try \"/{}\"", p.value.trim_start_matches("./")));
    false
}

/// One domain block; the hosts of its services (groupchat, upload, pubsub) are added to `services`.
fn check_domain(domain: &ast::Domain, services: &mut Vec<(String, Span)>, sink: &mut Sink) -> Option<ir::Domain> {
    let name = domain.name.value.clone();
    if !is_domain_name(&name) {
        sink.error(Code::BadDomain, domain.name.span, format!("`{name}` is not a domain name"))
            .hint("try lower-case letters, digits, `-` and dots, e.g. \"chat.example.com\"");
        return None;
    }
    let mut out = ir::Domain {
        name,
        admins: Vec::new(),
        certificate: None,
        archive: None,
        registration: ir::Registration::Closed,
        features: BTreeSet::new(),
        groupchat: None,
        upload: None,
        proxy: None,
        pubsub: None,
        contact: Vec::new(),
        max_sessions: None,
    };
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    let mut hosts: BTreeMap<String, Span> = BTreeMap::new();
    let mut admins_seen = BTreeSet::new();
    for item in &domain.items {
        match item {
            DomainItem::Admins(jids) => {
                for jid in jids {
                    if let Some(full) = admin_jid(jid, &out.name, sink)
                        && admins_seen.insert(full.clone())
                    {
                        out.admins.push(full);
                    }
                }
            }
            DomainItem::Certificate { cert, key, span } => {
                if once(&mut seen, "certificate", *span, sink) {
                    out.certificate = certificate(cert, key, sink);
                }
            }
            DomainItem::Archive(a) => {
                if let Some(r) = a.retention.as_ref().filter(|r| r.value.seconds() == u64::MAX) {
                    sink.error(Code::BadValue, r.span, "`retention` is too large").hint("try `10y`");
                } else if let Some(r) = &a.retention {
                    let days = r.value.seconds().div_ceil(86_400);
                    sink.used(Construct::ArchiveRetention, r.span, &days.to_string());
                    if r.value.prosody_period().is_none() {
                        sink.used(Construct::RetentionNotInDays, r.span, &days.max(1).to_string());
                    }
                }
                if once(&mut seen, "archive", a.span, sink) && a.enabled {
                    out.archive = Some(ir::Archive {
                        default: a.default.as_ref().map_or(ir::ArchivePolicy::DEFAULT, |p| p.value),
                        retention: a.retention.as_ref().map(|r| r.value),
                    });
                }
            }
            DomainItem::Registration { mode, settings } => {
                if once(&mut seen, "registration", mode.span, sink) {
                    out.registration = check_registration(mode, settings.as_ref(), sink);
                }
            }
            DomainItem::Features(words) => {
                for w in words {
                    match facts::FEATURES.iter().find(|f| f.name == w.value) {
                        Some(info) => {
                            sink.used(Construct::Feature(info.feature), w.span, info.name);
                            out.features.insert(info.feature);
                        }
                        None => {
                            let d = sink.error(Code::UnknownWord, w.span, format!("unknown feature `{}`", w.value));
                            // A server's module name (`smacks`, `mod_carboncopy`) names the feature it provides.
                            let by_module = facts::FEATURES.iter().find(|f| {
                                f.prosody.contains(&w.value.as_str()) || f.ejabberd.contains(&w.value.as_str())
                            });
                            match by_module
                                .map(|f| f.name)
                                .or_else(|| nearest(&w.value, facts::FEATURES.iter().map(|f| f.name)))
                            {
                                Some(n) => d.hint(format!("try `{n}`")),
                                None => d.hint(format!(
                                    "try one of {}",
                                    facts::FEATURES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                                )),
                            }
                        }
                    }
                }
            }
            DomainItem::Profile(span) => {
                for f in facts::PROFILE_MODERN {
                    sink.used(Construct::Feature(*f), *span, facts::feature_info(*f).name);
                }
                if once(&mut seen, "profile", *span, sink) {
                    out.features.extend(facts::PROFILE_MODERN);
                    if out.archive.is_none() && !seen.contains_key("archive") {
                        out.archive = Some(ir::Archive { default: ir::ArchivePolicy::DEFAULT, retention: None });
                    }
                }
            }
            DomainItem::Groupchat { name, settings, span } => {
                if once(&mut seen, "groupchat", *span, sink)
                    && let Some(host) = service_host(name, &out.name, &mut hosts, sink)
                {
                    out.groupchat = Some(check_groupchat(host, &name.value, settings.as_ref(), sink));
                }
            }
            DomainItem::Upload { name, settings, span } => {
                sink.used(Construct::Upload, *span, "");
                if let Some(q) = settings.as_ref().and_then(|s| s.items.iter().find(|i| i.key.value == "quota")) {
                    sink.used(Construct::UploadQuota, q.span, "");
                }
                if once(&mut seen, "upload", *span, sink)
                    && let Some(host) = service_host(name, &out.name, &mut hosts, sink)
                {
                    out.upload = check_upload(host, &name.value, settings.as_ref(), sink);
                }
            }
            DomainItem::Proxy { name, settings, span } => {
                if once(&mut seen, "proxy", *span, sink)
                    && let Some(host) = service_host(name, &out.name, &mut hosts, sink)
                {
                    out.proxy = check_proxy(host, &name.value, settings.as_ref(), sink);
                    // Its port, for the checks once the listeners are known.
                    let port = out.proxy.as_ref().map_or(String::new(), |p| p.port.to_string());
                    sink.used(Construct::Proxy, *span, &port);
                }
            }
            DomainItem::Pubsub(name) => {
                if once(&mut seen, "pubsub", name.span, sink) {
                    out.pubsub = service_host(name, &out.name, &mut hosts, sink);
                }
            }
            DomainItem::Contact(settings) => {
                if once(&mut seen, "contact", settings.span, sink) {
                    let f = Fields::new(settings, "contact", facts::CONTACT_KINDS, sink);
                    out.contact = facts::CONTACT_KINDS
                        .iter()
                        .filter_map(|k| f.strings(k, sink).map(|v| (k.to_string(), v)))
                        .collect();
                }
            }
            DomainItem::MaxSessions(v) => {
                sink.used(Construct::MaxSessions, v.span, "");
                if once(&mut seen, "max-sessions", v.span, sink) {
                    out.max_sessions = integer(v, "max-sessions", 1, 1_000_000, sink);
                }
            }
        }
    }
    services.extend(hosts);
    Some(out)
}

/// `conference` in domain `chat.example.com` is `conference.chat.example.com`.
fn service_host(
    label: &Spanned<String>,
    domain: &str,
    hosts: &mut BTreeMap<String, Span>,
    sink: &mut Sink,
) -> Option<String> {
    let ok = !label.value.contains('.') && is_domain_name(&label.value);
    if !ok {
        sink.error(Code::BadDomain, label.span, format!("`{}` is not a service name", label.value))
            .hint("try one lower-case label such as \"conference\"; the domain is appended");
        return None;
    }
    let host = format!("{}.{domain}", label.value);
    if hosts.insert(host.clone(), label.span).is_some() {
        sink.error(Code::Duplicate, label.span, format!("`{host}` is already used by another service"));
        return None;
    }
    Some(host)
}

fn check_registration(
    mode: &Spanned<ast::RegistrationMode>,
    settings: Option<&Settings>,
    sink: &mut Sink,
) -> ir::Registration {
    let allowed: &[&str] = if mode.value == ast::RegistrationMode::Open { &["interval"] } else { &[] };
    let empty = Settings::default();
    let f = Fields::new(settings.unwrap_or(&empty), "registration", allowed, sink);
    match mode.value {
        ast::RegistrationMode::Closed => ir::Registration::Closed,
        ast::RegistrationMode::Open => ir::Registration::Open { interval: f.duration("interval", sink) },
        ast::RegistrationMode::Invite => {
            sink.used(Construct::InviteRegistration, mode.span, "");
            ir::Registration::Invite
        }
    }
}

fn check_groupchat(host: String, label: &str, settings: Option<&Settings>, sink: &mut Sink) -> ir::Groupchat {
    let empty = Settings::default();
    let f = Fields::new(
        settings.unwrap_or(&empty),
        "groupchat",
        &["history", "archive", "create", "persistent", "public", "members-only"],
        sink,
    );
    let create = match f.word("create", &["admins", "local", "anyone"], sink).as_deref() {
        Some("admins") => ir::Creators::Admins,
        Some("anyone") => ir::Creators::Anyone,
        _ => ir::Creators::Local,
    };
    ir::Groupchat {
        host,
        label: label.to_string(),
        history: f.integer("history", 0, 10_000, sink).unwrap_or(20),
        archive: f.switch("archive", sink).unwrap_or(false),
        create,
        persistent: f.switch("persistent", sink).unwrap_or(true),
        public: f.switch("public", sink).unwrap_or(true),
        members_only: f.switch("members-only", sink).unwrap_or(false),
    }
}

fn check_upload(host: String, label: &str, settings: Option<&Settings>, sink: &mut Sink) -> Option<ir::Upload> {
    let empty = Settings::default();
    let f = Fields::new(settings.unwrap_or(&empty), "upload", &["max-size", "expire", "quota", "url", "signed"], sink);
    let url = f.string("url", sink);
    let signed = f.secret("signed", sink);
    if let (Some(_), Some(v)) = (&signed, f.get("signed")) {
        sink.used(Construct::SignedUpload, v.span, "");
    }
    if let (Some(u), Some(v)) = (&url, f.get("url")) {
        let name = ir::url_host(u);
        let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !(u.starts_with("https://") || u.starts_with("http://")) || !is_name {
            sink.error(Code::BadValue, v.span, format!("`{u}` is not an http(s) URL with a host name"))
                .hint(format!("try \"https://{host}\""));
        }
    }
    Some(ir::Upload {
        host,
        label: label.to_string(),
        max_size: f.size("max-size", sink).unwrap_or(10 << 20),
        expire: f.duration("expire", sink),
        quota: f.size("quota", sink),
        url,
        signed,
    })
}

fn check_proxy(host: String, label: &str, settings: Option<&Settings>, sink: &mut Sink) -> Option<ir::Proxy> {
    let empty = Settings::default();
    let f = Fields::new(settings.unwrap_or(&empty), "proxy", &["port", "address"], sink);
    let address = match (f.string("address", sink), f.get("address")) {
        (Some(a), Some(v)) => check_address(&a, v.span, sink)?,
        _ => facts::DEFAULT_ADDRESS.to_string(),
    };
    Some(ir::Proxy { host, label: label.to_string(), port: f.port("port", sink).unwrap_or(facts::PROXY_PORT), address })
}

fn check_auth(auth: &Spanned<ast::AuthKind>, sink: &mut Sink) -> (ir::Auth, ir::ScramHash) {
    let auth = match &auth.value {
        ast::AuthKind::Internal(settings) => return (ir::Auth::Internal, check_scram(settings.as_ref(), sink)),
        ast::AuthKind::Sql(settings) => {
            sink.used(Construct::AuthSql, auth.span, "");
            return (ir::Auth::Internal, check_scram(settings.as_ref(), sink));
        }
        ast::AuthKind::External(program) => {
            sink.used(Construct::AuthExternal, auth.span, "");
            absolute_path(program, sink);
            ir::Auth::External { program: program.value.clone() }
        }
        ast::AuthKind::Ldap(settings) => {
            sink.used(Construct::AuthLdap, auth.span, "");
            let f = Fields::new(settings, "ldap", &["server", "port", "base", "bind", "password", "uid"], sink);
            let servers = f.strings("server", sink).unwrap_or_default();
            let base = f.string("base", sink);
            if servers.is_empty() || base.is_none() {
                sink.error(Code::MissingSetting, settings.span, "an ldap block needs `server` and `base`")
                    .hint("try `ldap { server \"ldap.example.com\"; base \"ou=users,dc=example,dc=com\" }`");
            }
            // Server names are joined by blanks for Prosody, the attribute goes into a search filter.
            if let (Some(bad), Some(v)) =
                (servers.iter().find(|s| !is_domain_name(s) && s.parse::<IpAddr>().is_err()), f.get("server"))
            {
                sink.error(Code::BadDomain, v.span, format!("`{bad}` is not a host name or IP address"))
                    .hint("try \"ldap.example.com\"");
            }
            let uid = f.string("uid", sink).unwrap_or_else(|| facts::LDAP_UID.to_string());
            let attribute = uid.starts_with(|c: char| c.is_ascii_alphabetic())
                && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if let (false, Some(v)) = (attribute, f.get("uid")) {
                sink.error(Code::BadValue, v.span, format!("`{uid}` is not an LDAP attribute name"))
                    .hint(format!("try \"{}\"", facts::LDAP_UID));
            }
            ir::Auth::Ldap(ir::Ldap {
                servers,
                port: f.port("port", sink).unwrap_or(facts::LDAP_PORT),
                base: base.unwrap_or_default(),
                bind: f.string("bind", sink),
                password: f.secret("password", sink),
                uid,
            })
        }
    };
    (auth, ir::ScramHash::default())
}

/// `{ scram sha-256 }` after `auth internal` or `auth sql`.
fn check_scram(settings: Option<&Settings>, sink: &mut Sink) -> ir::ScramHash {
    let Some(settings) = settings else { return ir::ScramHash::default() };
    let f = Fields::new(settings, "auth", &["scram"], sink);
    match f.word("scram", &["sha-1", "sha-256", "sha-512"], sink).as_deref() {
        Some("sha-256") => ir::ScramHash::Sha256,
        Some("sha-512") => {
            if let Some(v) = f.get("scram") {
                sink.used(Construct::ScramSha512, v.span, "");
            }
            ir::ScramHash::Sha512
        }
        _ => ir::ScramHash::Sha1,
    }
}

fn check_storage(storage: &Spanned<ast::StorageKind>, sink: &mut Sink) -> ir::Storage {
    let ast::StorageKind::Sql(kind, settings) = &storage.value else {
        return ir::Storage::Internal;
    };
    let keys: &[&str] = match kind {
        ast::SqlKind::Sqlite => &["database", "only"],
        _ => &["host", "port", "database", "user", "password", "only"],
    };
    let f = Fields::new(settings, "storage", keys, sink);
    let database = f.string("database", sink);
    if database.is_none() {
        let example = if *kind == ast::SqlKind::Sqlite { "\"/var/lib/xmpp/xmpp.db\"" } else { "\"xmpp\"" };
        sink.error(Code::MissingSetting, settings.span, "a storage block needs `database`")
            .hint(format!("try `database {example}`"));
    }
    let mut only = BTreeSet::new();
    if let Some(values) = f.get_all("only") {
        for v in values {
            let word = match &v.value {
                Value::Word(w) => Some(w.as_str()),
                _ => None,
            };
            match word.and_then(|w| facts::STORES.iter().find(|s| s.1 == w)) {
                Some(s) => {
                    only.insert(s.0);
                }
                None => {
                    let e = sink.error(Code::UnknownWord, v.span, "`only` takes kinds of data");
                    let hint = word.and_then(|w| nearest(w, facts::STORES.iter().map(|s| s.1)));
                    match hint {
                        Some(n) => e.hint(format!("try `{n}`")),
                        None => e.hint(format!(
                            "try one of {}",
                            facts::STORES.iter().map(|s| s.1).collect::<Vec<_>>().join(", ")
                        )),
                    }
                }
            }
        }
    }
    ir::Storage::Sql(ir::Sql {
        kind: *kind,
        host: f.string("host", sink),
        port: f.port("port", sink),
        database: database.unwrap_or_default(),
        user: f.string("user", sink),
        password: f.secret("password", sink),
        only,
    })
}

fn check_turn(host: &Spanned<String>, settings: Option<&Settings>, span: Span, sink: &mut Sink) -> Option<ir::Turn> {
    let empty = Settings::default();
    let f = Fields::new(settings.unwrap_or(&empty), "turn", &["secret", "port", "tls-port"], sink);
    if !is_domain_name(&host.value) {
        sink.error(Code::BadDomain, host.span, format!("`{}` is not a host name", host.value));
    }
    let secret = f.secret("secret", sink);
    if secret.is_none() && f.get("secret").is_none() {
        sink.error(Code::MissingSetting, span, "a turn block needs the shared `secret`")
            .hint("try `turn \"turn.example.com\" { secret env(\"TURN_SECRET\") }`");
    }
    Some(ir::Turn {
        host: host.value.clone(),
        port: f.port("port", sink).unwrap_or(3478),
        tls_port: f.port("tls-port", sink),
        secret: secret?,
    })
}

fn admin_jid(jid: &Spanned<String>, domain: &str, sink: &mut Sink) -> Option<String> {
    let (local, host) = match jid.value.split_once('@') {
        Some((l, h)) => (l, h),
        None => (jid.value.as_str(), domain),
    };
    let local_ok = !local.is_empty()
        && local.len() <= 1023
        && !local.chars().any(|c| {
            // RFC 7622 (PRECIS IdentifierClass): no blanks, controls or invisible formatting characters.
            c.is_whitespace() || c.is_control() || ast::is_invisible(c) || "\"&'/:<>@".contains(c)
        });
    if !local_ok || !is_domain_name(host) {
        sink.error(Code::BadJid, jid.span, format!("`{}` is not a user name or JID", jid.value))
            .hint(format!("try `alice` or `alice@{domain}`"));
        return None;
    }
    Some(format!("{local}@{host}"))
}

fn is_domain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn check_listen(listen: &ast::Listen, sink: &mut Sink) -> Option<ir::Listener> {
    let port = match listen.port.value.parse::<u16>() {
        Ok(p) if p > 0 => Some(p),
        _ => {
            sink.error(Code::BadPort, listen.port.span, format!("{} is not a port", listen.port.value))
                .hint("try a number from 1 to 65535");
            None
        }
    };
    let address = match &listen.address {
        None => Some(facts::DEFAULT_ADDRESS.to_string()),
        Some(a) => check_address(&a.value, a.span, sink),
    };
    let kind = listen.kind.value;
    let mut tls = ir::TlsMode::Required;
    let mut peers = ir::PeerAuth::Certificate;
    let mut trust = None;
    let mut http = ir::Http::default();
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    // Each path one handler: ejabberd keeps one handler per path, Prosody one module.
    let mut paths: BTreeMap<String, &str> = BTreeMap::new();
    for item in &listen.items {
        let span = item.span;
        let (name, only_http) = match &item.value {
            ListenItem::Tls(m) if m.value == ir::TlsMode::Terminated => ("tls terminated", true),
            // HTTPS from the first byte: on any listener.
            ListenItem::Tls(m) if m.value == ir::TlsMode::Direct => ("tls direct", kind == ListenerKind::Http),
            ListenItem::Tls(m) if m.value == ir::TlsMode::Optional => ("tls optional", false),
            ListenItem::Tls(_) => ("tls required", false),
            ListenItem::Websocket(_) => ("websocket", true),
            ListenItem::Bosh(_) => ("bosh", true),
            ListenItem::Upload(_) => ("upload", true),
            ListenItem::Api { .. } => ("api", true),
            ListenItem::Verify(_) => ("verify", false),
            ListenItem::Trust(_) => ("trust", false),
        };
        if matches!(item.value, ListenItem::Verify(_) | ListenItem::Trust(_)) && kind != ListenerKind::Federation {
            sink.error(Code::MisplacedOption, span, format!("`{name}` belongs on a `federation` listener"));
            continue;
        }
        if only_http != (kind == ListenerKind::Http) {
            let belongs = if only_http { "an `http` listener" } else { "a `client` or `federation` listener" };
            let e = sink.error(Code::MisplacedOption, span, format!("`{name}` belongs on {belongs}"));
            if kind == ListenerKind::Http && name.starts_with("tls") {
                e.hint("on an http listener, try `tls direct` (HTTPS) or `tls terminated` (TLS ends in front)");
            }
            continue;
        }
        if seen.insert(if name.starts_with("tls") { "tls" } else { name }, span).is_some() {
            sink.error(Code::Duplicate, span, format!("`{name}` is given twice on this listener"));
            continue;
        }
        if let ListenItem::Websocket(p) | ListenItem::Bosh(p) | ListenItem::Upload(p) | ListenItem::Api { path: p, .. } =
            &item.value
            && let Some(other) = paths.insert(p.value.trim_end_matches('/').to_string(), name)
        {
            sink.error(Code::Duplicate, p.span, format!("`{}` is served by both `{other}` and `{name}`", p.value))
                .hint("try a path of its own for each, e.g. \"/xmpp-websocket\" and \"/http-bind\"");
            continue;
        }
        match &item.value {
            ListenItem::Tls(m) if kind == ListenerKind::Http => {
                http.tls = if m.value == ir::TlsMode::Direct { ir::HttpTls::Direct } else { ir::HttpTls::Terminated };
            }
            ListenItem::Tls(m) => tls = m.value,
            ListenItem::Verify(v) => peers = v.value,
            ListenItem::Trust(path) => {
                if absolute_path(path, sink) {
                    trust = Some(path.value.clone());
                }
            }
            ListenItem::Websocket(p) => http.websocket = check_path(p, sink),
            ListenItem::Bosh(p) => http.bosh = check_path(p, sink),
            ListenItem::Upload(p) => http.upload = check_path(p, sink),
            ListenItem::Api { path, allow } => {
                sink.used(Construct::AdminApi, span, "");
                let path = check_path(path, sink);
                let allow: Vec<String> = allow.iter().filter_map(|n| check_network(n, sink)).collect();
                http.api = path.map(|path| ir::Api { path, allow });
            }
        }
    }
    let service = match kind {
        ListenerKind::Client => ir::Service::Client { tls },
        ListenerKind::Federation => ir::Service::Federation { tls, peers, trust },
        ListenerKind::Http => ir::Service::Http(http),
    };
    Some(ir::Listener { port: port?, address: address?, service })
}

/// An IP address to bind to, written canonically.
fn check_address(value: &str, span: Span, sink: &mut Sink) -> Option<String> {
    let ip = value.parse::<IpAddr>().ok();
    if ip.is_none() {
        sink.error(Code::BadAddress, span, format!("`{value}` is not an IP address"))
            .hint("try 0.0.0.0 for every IPv4 address, or 127.0.0.1");
    }
    ip.map(|ip| ip.to_string())
}

fn check_path(path: &Spanned<String>, sink: &mut Sink) -> Option<String> {
    let p = &path.value;
    if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
        sink.error(Code::BadPath, path.span, format!("`{p}` is not an HTTP path"))
            .hint(format!("try \"/{}\"", p.trim_start_matches('/').trim()));
        return None;
    }
    Some(p.clone())
}

fn check_network(net: &Spanned<String>, sink: &mut Sink) -> Option<String> {
    let parsed = net.value.split_once('/').and_then(|(ip, bits)| {
        let ip: IpAddr = ip.parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (bits <= max).then(|| format!("{ip}/{bits}"))
    });
    if parsed.is_none() {
        sink.error(Code::BadNetwork, net.span, format!("`{}` is not an IP network", net.value))
            .hint("try an address and a prefix length, e.g. `10.0.0.0/8`");
    }
    parsed
}
