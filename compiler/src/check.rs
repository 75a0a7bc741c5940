//! Checking: the AST of every file to one server-neutral [`Deployment`], with every error found.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::ast::{self, DomainItem, ListenItem, ListenerKind, Span, Spanned, Statement};
use crate::diagnostic::{Code, Sink};
use crate::facts::{self, Version};
use crate::ir::{self, Deployment, LogLevel, TimeUnit};

pub(crate) fn check(files: &[ast::File], sink: &mut Sink) -> Deployment {
    let mut d = Deployment {
        ejabberd: Some(facts::EJABBERD_CURRENT),
        prosody: Some(facts::PROSODY_CURRENT),
        log_level: LogLevel::Info,
        domains: Vec::new(),
        listeners: Vec::new(),
    };
    let mut targets_seen: Option<Span> = None;
    let mut domains: BTreeSet<String> = BTreeSet::new();
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    let mut first_span = None;
    for statement in files.iter().flat_map(|f| &f.statements) {
        match statement {
            Statement::Targets(targets) => {
                let span = targets.first().map(|t| t.server.span);
                if let (Some(_), Some(span)) = (targets_seen, span) {
                    sink.error(Code::Duplicate, span, "`targets` is given twice").hint("try one `targets` line");
                }
                targets_seen = span.or(targets_seen);
                check_targets(targets, &mut d, sink);
            }
            Statement::Log(level) => d.log_level = level.value,
            Statement::Domain(domain) => {
                first_span.get_or_insert(domain.span);
                if let Some(domain) = check_domain(domain, sink) {
                    if domains.contains(&domain.name) {
                        sink.error(
                            Code::Duplicate,
                            span_of(statement),
                            format!("domain `{}` is declared twice", domain.name),
                        )
                        .hint("try merging the two blocks");
                    } else {
                        domains.insert(domain.name.clone());
                        d.domains.push(domain);
                    }
                }
            }
            Statement::Listen(listen) => {
                if let Some(listener) = check_listen(listen, sink) {
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
        }
    }
    if d.domains.is_empty() && !sink.has_errors() {
        let span = first_span.unwrap_or(Span { file: 0, start: 0, end: 0 });
        sink.error(Code::NoDomain, span, "no `domain` is declared")
            .hint("try `domain \"chat.example.com\" { admins alice }`");
    }
    not_on_server(files, &d, sink);
    d
}

fn span_of(statement: &Statement) -> Span {
    match statement {
        Statement::Domain(d) => d.name.span,
        Statement::Listen(l) => l.span,
        Statement::Log(l) => l.span,
        Statement::Targets(t) => t.first().map_or(Span { file: 0, start: 0, end: 0 }, |t| t.server.span),
    }
}

fn check_targets(targets: &[ast::Target], d: &mut Deployment, sink: &mut Sink) {
    d.ejabberd = None;
    d.prosody = None;
    for t in targets {
        let (slot, oldest, name) = match t.server.value {
            ast::Server::Ejabberd => (&mut d.ejabberd, facts::EJABBERD_OLDEST, "ejabberd"),
            ast::Server::Prosody => (&mut d.prosody, facts::PROSODY_OLDEST, "prosody"),
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

fn check_domain(domain: &ast::Domain, sink: &mut Sink) -> Option<ir::Domain> {
    let name = domain.name.value.clone();
    if !is_domain_name(&name) {
        sink.error(Code::BadDomain, domain.name.span, format!("`{name}` is not a domain name"))
            .hint("try lower-case letters, digits, `-` and dots, e.g. \"chat.example.com\"");
        return None;
    }
    let mut out = ir::Domain { name, admins: Vec::new(), certificate: None, archive: None };
    let mut seen_cert = None;
    let mut seen_archive = None;
    for item in &domain.items {
        match item {
            DomainItem::Admins(jids) => {
                for jid in jids {
                    if let Some(full) = admin_jid(jid, &out.name, sink)
                        && !out.admins.contains(&full)
                    {
                        out.admins.push(full);
                    }
                }
            }
            DomainItem::Certificate { cert, key, span } => {
                if once(&mut seen_cert, *span, "certificate", sink) {
                    out.certificate = Some(ir::Certificate { cert: cert.value.clone(), key: key.value.clone() });
                }
            }
            DomainItem::Archive(a) => {
                if once(&mut seen_archive, a.span, "archive", sink) && a.enabled {
                    out.archive = Some(ir::Archive {
                        default: a.default.as_ref().map_or(ir::ArchivePolicy::Roster, |p| p.value),
                        retention: a.retention.as_ref().map(|r| r.value),
                    });
                }
            }
        }
    }
    Some(out)
}

/// True the first time a setting is seen; reports the second.
fn once(seen: &mut Option<Span>, span: Span, what: &str, sink: &mut Sink) -> bool {
    if seen.is_some() {
        sink.error(Code::Duplicate, span, format!("`{what}` is given twice in this block")).hint("try keeping one");
        return false;
    }
    *seen = Some(span);
    true
}

fn admin_jid(jid: &Spanned<String>, domain: &str, sink: &mut Sink) -> Option<String> {
    let (local, host) = match jid.value.split_once('@') {
        Some((l, h)) => (l, h),
        None => (jid.value.as_str(), domain),
    };
    let local_ok = !local.is_empty()
        && local.len() <= 1023
        && !local.chars().any(|c| c.is_whitespace() || "\"&'/:<>@".contains(c));
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
        Some(a) => match a.value.parse::<IpAddr>() {
            Ok(ip) => Some(ip.to_string()),
            Err(_) => {
                sink.error(Code::BadAddress, a.span, format!("`{}` is not an IP address", a.value))
                    .hint("try `0.0.0.0` for every IPv4 address, or `127.0.0.1`");
                None
            }
        },
    };
    let kind = listen.kind.value;
    let mut tls = ir::TlsMode::Required;
    let mut http = ir::Http::default();
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for item in &listen.items {
        let span = item.span;
        let (name, only_http) = match &item.value {
            ListenItem::Tls(_) => ("tls", false),
            ListenItem::Websocket(_) => ("websocket", true),
            ListenItem::Bosh(_) => ("bosh", true),
            ListenItem::Api { .. } => ("api", true),
        };
        if only_http != (kind == ListenerKind::Http) {
            let belongs = if only_http { "an `http` listener" } else { "a `client` or `federation` listener" };
            sink.error(Code::MisplacedOption, span, format!("`{name}` belongs on {belongs}"));
            continue;
        }
        if seen.insert(name, span).is_some() {
            sink.error(Code::Duplicate, span, format!("`{name}` is given twice on this listener"));
            continue;
        }
        match &item.value {
            ListenItem::Tls(m) => tls = m.value,
            ListenItem::Websocket(p) => http.websocket = check_path(p, sink),
            ListenItem::Bosh(p) => http.bosh = check_path(p, sink),
            ListenItem::Api { path, allow, .. } => {
                let path = check_path(path, sink);
                let allow: Vec<String> = allow.iter().filter_map(|n| check_network(n, sink)).collect();
                http.api = path.map(|path| ir::Api { path, allow });
            }
        }
    }
    let service = match kind {
        ListenerKind::Client => ir::Service::Client { tls },
        ListenerKind::Federation => ir::Service::Federation { tls },
        ListenerKind::Http => ir::Service::Http(http),
    };
    Some(ir::Listener { port: port?, address: address?, service })
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

/// Features a target cannot express are said, never silently dropped.
fn not_on_server(files: &[ast::File], d: &Deployment, sink: &mut Sink) {
    for statement in files.iter().flat_map(|f| &f.statements) {
        match statement {
            Statement::Listen(l) if d.prosody.is_some() => {
                for item in &l.items {
                    if let ListenItem::Api { .. } = item.value {
                        sink.warning(
                            Code::NotOnServer,
                            item.span,
                            "prosody has no admin REST API; `api` is rendered for ejabberd only",
                        );
                    }
                }
            }
            Statement::Domain(dom) => {
                for item in &dom.items {
                    let DomainItem::Archive(a) = item else {
                        continue;
                    };
                    let Some(r) = &a.retention else { continue };
                    if d.ejabberd.is_some() {
                        sink.warning(Code::NotOnServer, r.span, "ejabberd cannot expire archived messages by itself; `retention` is rendered for prosody only")
                            .hint(format!("try running `ejabberdctl delete_old_mam_messages all {}` daily", r.value.seconds().div_ceil(86_400)));
                    }
                    if d.prosody.is_some() && prosody_period(r.value).is_none() {
                        sink.error(Code::NotOnServer, r.span, "prosody counts archive retention in whole days")
                            .hint(format!("try `{}d`", r.value.seconds().div_ceil(86_400).max(1)));
                    }
                }
            }
            _ => {}
        }
    }
}

/// A retention period as Prosody writes it (`1y`, `2w`, `30d`), if it can.
pub(crate) fn prosody_period(d: ir::Duration) -> Option<String> {
    match d.unit {
        TimeUnit::Year => Some(format!("{}y", d.amount)),
        TimeUnit::Week => Some(format!("{}w", d.amount)),
        _ if d.seconds().is_multiple_of(86_400) && d.seconds() > 0 => Some(format!("{}d", d.seconds() / 86_400)),
        _ => None,
    }
}
