//! `ejabberd.yml`, written through serde (serde_yaml_ng) from a mapping built in a fixed order.

use serde_yaml_ng::{Mapping, Value};

use crate::facts::{self, EJABBERD_API, EJABBERD_API_COMMANDS};
use crate::ir::{ArchivePolicy, Deployment, Domain, Http, LogLevel, Service, TlsMode};

pub const FILE_NAME: &str = "ejabberd.yml";

pub(crate) fn emit(d: &Deployment, header: &str) -> String {
    let mut top = Mapping::new();
    put(&mut top, "hosts", strings(d.domains.iter().map(|dom| dom.name.as_str())));
    put(&mut top, "loglevel", s(loglevel(d.log_level)));

    let certfiles: Vec<&str> = d
        .domains
        .iter()
        .filter_map(|dom| dom.certificate.as_ref())
        .flat_map(|c| [c.cert.as_str(), c.key.as_str()])
        .collect();
    if !certfiles.is_empty() {
        put(&mut top, "certfiles", strings(dedup(certfiles)));
    }

    put(&mut top, "listen", Value::Sequence(d.listeners.iter().map(listener).collect()));
    if let Some(tls) = d.listeners.iter().find_map(|l| match l.service {
        Service::Federation { tls } => Some(tls),
        _ => None,
    }) {
        put(&mut top, "s2s_use_starttls", s(if tls == TlsMode::Required { "required" } else { "optional" }));
    }

    let admins: Vec<&str> = d.domains.iter().flat_map(|dom| dom.admins.iter().map(String::as_str)).collect();
    if !admins.is_empty() {
        put(&mut top, "acl", map([("admin", map([("user", strings(admins))]))]));
        put(&mut top, "access_rules", map([("configure", map([("allow", s("admin"))]))]));
    }

    let api = http(d).and_then(|h| h.api.as_ref());
    if let Some(api) = api {
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

    let mut modules = Mapping::new();
    for m in facts::CORE {
        put(&mut modules, m.ejabberd, Value::Mapping(Mapping::new()));
    }
    let archive = super::split(d, |dom| dom.archive.as_ref());
    if let Some(a) = archive.global {
        put(&mut modules, facts::ARCHIVE.ejabberd, mam(a.default));
    }
    if http(d).is_some_and(|h| h.bosh.is_some()) {
        put(&mut modules, facts::BOSH.ejabberd, Value::Mapping(Mapping::new()));
    }
    if api.is_some() {
        put(&mut modules, EJABBERD_API, Value::Mapping(Mapping::new()));
        put(&mut modules, EJABBERD_API_COMMANDS, Value::Mapping(Mapping::new()));
    }
    put(&mut top, "modules", Value::Mapping(modules));

    let mut per_host: Vec<(&str, Mapping)> = Vec::new();
    for (dom, a) in &archive.per_domain {
        put(host_modules(&mut per_host, dom), facts::ARCHIVE.ejabberd, mam(a.default));
    }
    if !per_host.is_empty() {
        let hosts = per_host.into_iter().map(|(h, m)| (s(h), map([("modules", Value::Mapping(m))])));
        put(&mut top, "append_host_config", Value::Mapping(hosts.collect()));
    }

    let body = serde_yaml_ng::to_string(&Value::Mapping(top)).unwrap_or_default();
    format!("# {header}\n{body}")
}

/// The module options of one host in `append_host_config`, created on first use.
fn host_modules<'m, 'd>(per_host: &'m mut Vec<(&'d str, Mapping)>, dom: &'d Domain) -> &'m mut Mapping {
    let i = match per_host.iter().position(|(h, _)| *h == dom.name) {
        Some(i) => i,
        None => {
            per_host.push((&dom.name, Mapping::new()));
            per_host.len() - 1
        }
    };
    &mut per_host[i].1
}

fn http(d: &Deployment) -> Option<&Http> {
    d.listeners.iter().find_map(|l| match &l.service {
        Service::Http(h) => Some(h),
        _ => None,
    })
}

fn listener(l: &crate::ir::Listener) -> Value {
    let mut m = Mapping::new();
    put(&mut m, "port", Value::Number(l.port.into()));
    put(&mut m, "ip", s(&l.address));
    match &l.service {
        Service::Client { tls } => {
            put(&mut m, "module", s("ejabberd_c2s"));
            match tls {
                TlsMode::Required => put(&mut m, "starttls_required", Value::Bool(true)),
                TlsMode::Optional => put(&mut m, "starttls", Value::Bool(true)),
            }
        }
        Service::Federation { .. } => put(&mut m, "module", s("ejabberd_s2s_in")),
        Service::Http(h) => {
            put(&mut m, "module", s("ejabberd_http"));
            let mut handlers = Mapping::new();
            if let Some(p) = &h.websocket {
                put(&mut handlers, p, s(facts::WEBSOCKET.ejabberd));
            }
            if let Some(p) = &h.bosh {
                put(&mut handlers, p, s(facts::BOSH.ejabberd));
            }
            if let Some(api) = &h.api {
                put(&mut handlers, &api.path, s(EJABBERD_API));
            }
            put(&mut m, "request_handlers", Value::Mapping(handlers));
        }
    }
    Value::Mapping(m)
}

fn mam(default: ArchivePolicy) -> Value {
    let policy = match default {
        ArchivePolicy::Always => "always",
        ArchivePolicy::Roster => "roster",
        ArchivePolicy::Never => "never",
    };
    map([("default", s(policy))])
}

fn loglevel(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
    }
}

fn dedup(items: Vec<&str>) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
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
