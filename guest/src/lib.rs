//! The compiler exported through `wit/compiler.wit`: a translation of types, nothing more.
#![allow(unsafe_code, missing_debug_implementations)] // generated export glue

wit_bindgen::generate!({ world: "compiler", path: "wit" });

use xmpp_compiler as c;

struct Component;

impl Guest for Component {
    fn compile(sources: Vec<Source>) -> Output {
        let sources: Vec<c::Source> = sources.into_iter().map(|s| c::Source { path: s.path, text: s.text }).collect();
        let out = c::compile(&sources);
        Output {
            files: out.files.into_iter().map(|f| OutFile { name: f.name, text: f.text }).collect(),
            ports: out.ports.into_iter().map(port).collect(),
            secret_env: out.secret_env,
            macros_file: out.macros_file,
            domains: out.domains,
            needs: out.needs,
            diagnostics: out.diagnostics.into_iter().map(diagnostic).collect(),
        }
    }

    fn format(text: String) -> Result<String, Vec<Diagnostic>> {
        c::format::format(&text).map_err(|ds| ds.into_iter().map(diagnostic).collect())
    }
}

fn port(p: c::Port) -> Port {
    let routes = p.routes.into_iter().map(|r| Route { kind: r.kind, path: r.path }).collect();
    Port { name: p.name, port: p.port, routes }
}

fn diagnostic(d: c::Diagnostic) -> Diagnostic {
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Diagnostic {
        code: d.code.as_str().to_string(),
        severity: match d.severity {
            c::Severity::Error => Severity::Error,
            c::Severity::Warning => Severity::Warning,
        },
        message: d.message,
        hint: d.hint,
        file: n(d.span.file),
        start: n(d.span.start),
        end: n(d.span.end),
        line: d.line,
        col: d.col,
    }
}

export!(Component);
