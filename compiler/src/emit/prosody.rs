//! `prosody.cfg.lua`: global options first, then one `VirtualHost` section per domain.

use super::lua::{Lua, Writer};
use crate::check::prosody_period;
use crate::facts;
use crate::ir::{ArchivePolicy, Deployment, Http, LogLevel, Service, TlsMode};

pub const FILE_NAME: &str = "prosody.cfg.lua";

pub(crate) fn emit(d: &Deployment, header: &str) -> String {
    let mut w = Writer::default();
    w.comment("", header);
    w.line("");

    let level = match d.log_level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warn",
        LogLevel::Error => "error",
    };
    w.set("", "log", &Lua::Table(vec![(level.into(), Lua::str("*console"))]));

    let http = d.listeners.iter().find_map(|l| match &l.service {
        Service::Http(h) => Some(h),
        _ => None,
    });
    let archive = super::split(d, |dom| dom.archive.as_ref());
    let mut modules: Vec<&str> = facts::CORE.iter().map(|m| m.prosody).collect();
    modules.extend(facts::PROSODY_CORE);
    if archive.global.is_some() {
        modules.push(facts::ARCHIVE.prosody);
    }
    if http.is_some_and(|h| h.websocket.is_some()) {
        modules.push(facts::WEBSOCKET.prosody);
    }
    if http.is_some_and(|h| h.bosh.is_some()) {
        modules.push(facts::BOSH.prosody);
    }
    w.set("", "modules_enabled", &Lua::strings(modules));
    w.line("");

    // Every port list is written, even empty, so Prosody never opens a default port nobody asked for.
    listeners(&mut w, d, "c2s", |s| matches!(s, Service::Client { .. }));
    listeners(&mut w, d, "s2s", |s| matches!(s, Service::Federation { .. }));
    listeners(&mut w, d, "http", |s| matches!(s, Service::Http(_)));
    for name in ["c2s_direct_tls_ports", "s2s_direct_tls_ports", "https_ports"] {
        w.set("", name, &Lua::List(Vec::new()));
    }
    for l in &d.listeners {
        match l.service {
            Service::Client { tls } => w.set("", "c2s_require_encryption", &Lua::Bool(tls == TlsMode::Required)),
            Service::Federation { tls } => w.set("", "s2s_require_encryption", &Lua::Bool(tls == TlsMode::Required)),
            Service::Http(_) => {}
        }
    }
    if let Some(h) = http {
        http_paths(&mut w, h);
    }
    if let Some(a) = archive.global {
        archive_options(&mut w, "", a);
    }

    for dom in &d.domains {
        w.line("");
        w.line(&format!("VirtualHost {}", super::lua::quote(&dom.name)));
        let indent = "\t";
        if !dom.admins.is_empty() {
            w.set(indent, "admins", &Lua::strings(dom.admins.iter().map(String::as_str)));
        }
        if let Some(c) = &dom.certificate {
            w.set(
                indent,
                "ssl",
                &Lua::Table(vec![("certificate".into(), Lua::str(&c.cert)), ("key".into(), Lua::str(&c.key))]),
            );
        }
        if let Some((_, a)) = archive.per_domain.iter().find(|(d2, _)| d2.name == dom.name) {
            w.set(indent, "modules_enabled", &Lua::strings([facts::ARCHIVE.prosody]));
            archive_options(&mut w, indent, a);
        }
    }
    w.out
}

fn listeners(w: &mut Writer, d: &Deployment, prefix: &str, is: impl Fn(&Service) -> bool) {
    let chosen: Vec<_> = d.listeners.iter().filter(|l| is(&l.service)).collect();
    let ports = chosen.iter().map(|l| Lua::Int(l.port.into())).collect();
    w.set("", &format!("{prefix}_ports"), &Lua::List(ports));
    if !chosen.is_empty() {
        let mut addresses: Vec<&str> = chosen.iter().map(|l| l.address.as_str()).collect();
        addresses.dedup();
        w.set("", &format!("{prefix}_interfaces"), &Lua::strings(addresses));
    }
}

fn http_paths(w: &mut Writer, h: &Http) {
    let mut paths = Vec::new();
    if let Some(p) = &h.websocket {
        paths.push((facts::WEBSOCKET.prosody.to_string(), Lua::str(p)));
    }
    if let Some(p) = &h.bosh {
        paths.push((facts::BOSH.prosody.to_string(), Lua::str(p)));
    }
    if !paths.is_empty() {
        w.set("", "http_paths", &Lua::Table(paths));
    }
    if h.api.is_some() {
        w.comment("", "The admin REST API (`api`) has no Prosody equivalent; it is rendered for ejabberd only.");
    }
}

fn archive_options(w: &mut Writer, indent: &str, a: &crate::ir::Archive) {
    let policy = match a.default {
        ArchivePolicy::Always => Lua::Bool(true),
        ArchivePolicy::Never => Lua::Bool(false),
        ArchivePolicy::Roster => Lua::str("roster"),
    };
    w.set(indent, "default_archive_policy", &policy);
    if let Some(period) = a.retention.and_then(prosody_period) {
        w.set(indent, "archive_expires_after", &Lua::str(period));
    }
}
