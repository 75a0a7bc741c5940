//! Helm integration: compile first, then run Helm with the compiled files injected as values.
//!
//! `helm xmpp render CHART -f site.xmpp [helm flags…]` runs `$HELM_BIN template CHART [helm flags…]
//! -f <compiled values>`. A `-f`/`--values` argument naming a `.xmpp` file is the DSL; every other
//! argument goes to Helm untouched. Helm's global flags arrive as `HELM_*` variables, which the
//! child Helm inherits.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use serde::Serialize;

use crate::engine::Compiled;
use crate::{Error, Result};

/// The chart values for a successful compile, as YAML: the compile result itself under `compiled`
/// (its includes still to read and its diagnostics are for the plugin and people, not for the chart).
pub fn values_yaml(c: &Compiled) -> Result<String> {
    #[derive(Serialize)]
    struct Values<'a> {
        compiled: &'a Compiled,
    }
    let compiled = Compiled { needs: Vec::new(), diagnostics: Vec::new(), ..c.clone() };
    serde_norway::to_string(&Values { compiled: &compiled })
        .map_err(|e| Error::new(format!("cannot write values: {e}")))
}

/// A ConfigMap holding the compiled files, for GitOps and kustomize users (`helm xmpp configmap`).
pub fn configmap_yaml(c: &Compiled, name: &str, namespace: Option<&str>) -> Result<String> {
    use serde_norway::{Mapping, Value};
    let s = |v: &str| Value::String(v.to_string());
    let mut metadata = Mapping::new();
    metadata.insert(s("name"), s(name));
    if let Some(ns) = namespace {
        metadata.insert(s("namespace"), s(ns));
    }
    let mut labels = Mapping::new();
    labels.insert(s("app.kubernetes.io/managed-by"), s("helm-xmpp"));
    metadata.insert(s("labels"), Value::Mapping(labels));
    let data: Mapping = c.files.iter().map(|f| (s(&f.name), s(&f.text))).collect();
    let mut cm = Mapping::new();
    cm.insert(s("apiVersion"), s("v1"));
    cm.insert(s("kind"), s("ConfigMap"));
    cm.insert(s("metadata"), Value::Mapping(metadata));
    cm.insert(s("data"), Value::Mapping(data));
    to_yaml(&Value::Mapping(cm))
}

/// The post-renderer: injects the compiled files into a stream of rendered manifests.
///
/// A ConfigMap named `name` in the stream gets the files in its `data` (other keys kept); when there is
/// none, one is appended. Every workload whose pod template mounts that ConfigMap gets a
/// `checksum/helm-xmpp` annotation, so its pods roll when the config changes. Documents that need no
/// change are passed through byte for byte.
pub fn postrender(manifests: &str, c: &Compiled, name: &str) -> Result<String> {
    use serde_norway::Value;
    let checksum = xmpp_compiler::sha256_hex(c.files.iter().flat_map(|f| [f.name.as_bytes(), f.text.as_bytes()]));
    let mut out = String::new();
    let mut injected = false;
    for doc in split_documents(manifests) {
        let parsed: Option<Value> = serde_norway::from_str(doc).ok();
        let changed = match parsed {
            Some(mut v) if is_configmap(&v, name) => {
                injected = true;
                if !v["data"].is_mapping() {
                    v["data"] = Value::Mapping(Default::default());
                }
                for f in &c.files {
                    v["data"][f.name.as_str()] = Value::String(f.text.clone());
                }
                Some(v)
            }
            Some(mut v) if mounts_configmap(&v, name) => {
                let template = &mut v["spec"]["template"]["metadata"];
                if !template["annotations"].is_mapping() {
                    template["annotations"] = Value::Mapping(Default::default());
                }
                template["annotations"]["checksum/helm-xmpp"] = Value::String(checksum.clone());
                Some(v)
            }
            _ => None,
        };
        out.push_str("---\n");
        match changed {
            Some(v) => out.push_str(&to_yaml(&v)?),
            None => out.push_str(doc.trim_start_matches('\n')),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    if !injected {
        out.push_str("---\n");
        out.push_str(&configmap_yaml(c, name, None)?);
    }
    Ok(out)
}

/// The documents of a YAML stream, split at `---` lines, without the separators; empty ones dropped.
fn split_documents(stream: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in stream.split_inclusive('\n') {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push(&stream[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&stream[start..]);
    docs.into_iter().filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))).collect()
}

fn is_configmap(v: &serde_norway::Value, name: &str) -> bool {
    v["kind"] == "ConfigMap" && v["metadata"]["name"] == name
}

fn mounts_configmap(v: &serde_norway::Value, name: &str) -> bool {
    let volumes = v["spec"]["template"]["spec"]["volumes"].as_sequence();
    volumes.is_some_and(|vs| vs.iter().any(|vol| vol["configMap"]["name"] == name))
}

fn to_yaml(v: &serde_norway::Value) -> Result<String> {
    serde_norway::to_string(v).map_err(|e| Error::new(format!("cannot write a manifest: {e}")))
}

/// Splits the DSL file out of Helm's arguments.
pub fn split_args(args: &[String]) -> Result<(PathBuf, Vec<String>)> {
    let mut dsl = None;
    let mut rest = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let value = match arg.as_str() {
            "-f" | "--values" | "--dsl" => it.peek().filter(|v| arg == "--dsl" || is_dsl(v)).map(|v| v.to_string()),
            a => a
                .strip_prefix("--values=")
                .or_else(|| a.strip_prefix("--dsl="))
                .or_else(|| a.strip_prefix("-f").filter(|v| !v.is_empty() && !v.starts_with('-')))
                .filter(|v| a.starts_with("--dsl=") || is_dsl(v))
                .map(str::to_string),
        };
        match value {
            Some(v) => {
                if dsl.replace(PathBuf::from(&v)).is_some() {
                    return Err(Error::new("only one DSL file may be given; try `include` in the root file"));
                }
                if matches!(arg.as_str(), "-f" | "--values" | "--dsl") {
                    it.next();
                }
            }
            None => rest.push(arg.clone()),
        }
    }
    let dsl = dsl.ok_or_else(|| Error::new("no DSL file given; try `-f site.xmpp`"))?;
    Ok((dsl, rest))
}

fn is_dsl(v: &str) -> bool {
    Path::new(v).extension().is_some_and(|e| e == "xmpp")
}

/// The Helm binary: `$HELM_BIN` when run as a plugin, else `helm` from `PATH`.
pub fn helm_bin() -> String {
    std::env::var("HELM_BIN").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| "helm".to_string())
}

/// Runs `helm SUBCOMMAND ARGS… -f VALUES` with inherited standard streams.
pub fn run(subcommand: &str, args: &[String], values: &Path) -> Result<ExitStatus> {
    let bin = helm_bin();
    Command::new(&bin)
        .arg(subcommand)
        .args(args)
        .arg("-f")
        .arg(values)
        .status()
        .map_err(|e| Error::new(format!("cannot run {bin}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_xmpp_file_is_taken_and_the_rest_passed_through() {
        let (dsl, rest) =
            split_args(&strings(&["charts/xmpp", "-f", "a.xmpp", "-f", "v.yaml", "--set", "x=1"])).unwrap_or_default();
        assert_eq!(dsl, PathBuf::from("a.xmpp"));
        assert_eq!(rest, strings(&["charts/xmpp", "-f", "v.yaml", "--set", "x=1"]));
        let (dsl, rest) = split_args(&strings(&["--values=b.xmpp", "c", "-fd.yaml"])).unwrap_or_default();
        assert_eq!(dsl, PathBuf::from("b.xmpp"));
        assert_eq!(rest, strings(&["c", "-fd.yaml"]));
        assert!(split_args(&strings(&["c", "-f", "v.yaml"])).is_err());
        assert!(split_args(&strings(&["-f", "a.xmpp", "--dsl", "b.xmpp"])).is_err());
    }
}
