//! The compiled files as Kubernetes sees them: chart values, a ConfigMap, and a stream of rendered
//! manifests with the files injected (the post-renderer). Pure text in, text out: the plugin reads
//! and writes, Helm renders. Every YAML is written by [`crate::yaml`]; whatever Kubernetes would
//! refuse (a name, a ConfigMap past 1 MiB) is refused here first.

use serde::Serialize;

use crate::Output;

/// The chart values for a successful compile, as YAML: the compile result itself under `compiled`
/// (its includes still to read and its diagnostics are for the plugin and people, not for the chart).
pub fn values_yaml(c: &Output) -> Result<String, String> {
    #[derive(Serialize)]
    struct Values<'a> {
        compiled: &'a Output,
    }
    fits_a_configmap(c.files.iter().map(|f| (f.name.as_str(), f.text.as_str())))?;
    let compiled = Output { needs: Vec::new(), diagnostics: Vec::new(), omitted: 0, ..c.clone() };
    serde_norway::to_value(Values { compiled: &compiled })
        .map(|v| crate::yaml::to_string(&v))
        .map_err(|e| format!("cannot write values: {e}"))
}

/// Kubernetes refuses a ConfigMap whose keys and values together pass 1 MiB (its `MaxSecretSize`).
pub const MAX_CONFIGMAP_BYTES: usize = 1 << 20;

/// Refuses data Kubernetes would refuse in one ConfigMap, before Helm or a cluster sees it.
fn fits_a_configmap<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> Result<(), String> {
    let mut sizes: Vec<(&str, usize)> = entries.map(|(k, v)| (k, k.len() + v.len())).collect();
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    if total <= MAX_CONFIGMAP_BYTES {
        return Ok(());
    }
    sizes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let mib = |n: usize| format!("{:.2} MiB", n as f64 / f64::from(1 << 20));
    let parts: Vec<String> = sizes.iter().map(|(k, n)| format!("{k} {}", mib(*n))).collect();
    Err(format!(
        "the config is {} ({}), and Kubernetes holds at most 1 MiB in one ConfigMap; \
         split the domains across releases, or drop what the servers need not read",
        mib(total),
        parts.join(", ")
    ))
}

/// Checks a name Kubernetes must accept: a DNS-1123 subdomain (a ConfigMap's name) or, with
/// `label`, a DNS-1123 label (a namespace): lower-case letters, digits and `-` (and `.` in a
/// subdomain), starting and ending with a letter or digit, at most 253 (63) characters.
pub fn check_name(what: &str, name: &str, label: bool) -> Result<(), String> {
    let max = if label { 63 } else { 253 };
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !name.is_empty()
        && name.len() <= max
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || (c == '.' && !label));
    if ok {
        return Ok(());
    }
    let shown: String = name.escape_debug().take(80).collect();
    Err(format!(
        "{what} \"{shown}\" is not a name Kubernetes accepts: at most {max} lower-case letters, digits{} and `-`, \
         starting and ending with a letter or digit (e.g. `xmpp-config`)",
        if label { "" } else { ", `.`" }
    ))
}

/// A ConfigMap holding the compiled files, for GitOps and kustomize users (`helm xmpp configmap`).
pub fn configmap_yaml(c: &Output, name: &str, namespace: Option<&str>) -> Result<String, String> {
    use serde_norway::{Mapping, Value};
    check_name("the ConfigMap name", name, false)?;
    if let Some(ns) = namespace {
        check_name("the namespace", ns, true)?;
    }
    fits_a_configmap(c.files.iter().map(|f| (f.name.as_str(), f.text.as_str())))?;
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
    Ok(crate::yaml::to_string(&Value::Mapping(cm)))
}

/// The largest manifest stream the post-renderer reads: far beyond any chart's output.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The post-renderer: injects the compiled files into a stream of rendered manifests.
///
/// A ConfigMap named `name` in the stream gets the files in its `data` (other keys kept); when there is
/// none, one is appended. Every workload whose pod template mounts that ConfigMap gets a
/// `checksum/helm-xmpp` annotation, so its pods roll when the config changes. Documents that need no
/// change are passed through byte for byte. Every document must be a YAML mapping (a Kubernetes
/// object): anything else is an error naming the document and its first line, so garbage never
/// reaches Helm as if it were a release.
pub fn postrender(manifests: &str, c: &Output, name: &str) -> Result<String, String> {
    use serde_norway::Value;
    check_name("the ConfigMap name", name, false)?;
    let checksum = crate::sha256_hex(c.files.iter().flat_map(|f| [f.name.as_bytes(), f.text.as_bytes()]));
    let mut out = String::new();
    let mut injected = false;
    for (n, doc) in split_documents(manifests).into_iter().enumerate() {
        let place = format!("manifest document {} (line {})", n + 1, doc.line);
        let parsed: Value = serde_norway::from_str(doc.text).map_err(|e| format!("{place} is not YAML: {e}"))?;
        if !parsed.is_mapping() {
            return Err(format!("{place} is not a Kubernetes object (a YAML mapping with apiVersion and kind)"));
        }
        let changed = match parsed {
            mut v if is_configmap(&v, name) => {
                injected = true;
                if !v["data"].is_mapping() {
                    v["data"] = Value::Mapping(Default::default());
                }
                for f in &c.files {
                    v["data"][f.name.as_str()] = Value::String(f.text.clone());
                }
                if let Some(data) = v["data"].as_mapping() {
                    fits_a_configmap(data.iter().filter_map(|(k, v)| Some((k.as_str()?, v.as_str()?))))?;
                }
                Some(v)
            }
            mut v if mounts_configmap(&v, name) => {
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
            Some(v) => out.push_str(&crate::yaml::to_string(&v)),
            None => out.push_str(doc.text.trim_start_matches('\n')),
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

/// One document of a YAML stream: its text, and the line of the stream it starts on.
struct Document<'a> {
    text: &'a str,
    line: usize,
}

/// The documents of a YAML stream, split at `---` markers (a document may start on the marker's own
/// line: `--- {kind: ConfigMap, …}`) and `...` ends; documents holding only comments are dropped.
fn split_documents(stream: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let (mut start, mut offset, mut first_line) = (0, 0, 1);
    for (i, line) in stream.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = bare == "---"
            || bare == "..."
            || bare.starts_with("--- ")
            || bare.starts_with("---\t")
            || bare.starts_with("... ")
            || bare.starts_with("...\t");
        if marker {
            docs.push(Document { text: &stream[start..offset], line: first_line });
            // What follows `--- ` on the marker line is the next document's start (`... ` takes none).
            start = match bare.strip_prefix("---") {
                Some(rest) => {
                    offset + line.len() - rest.trim_start_matches([' ', '\t']).len() - (line.len() - bare.len())
                }
                None => offset + line.len(),
            };
            first_line = i + 1;
        }
        offset += line.len();
    }
    docs.push(Document { text: &stream[start..], line: first_line });
    docs.retain(|d| d.text.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    docs
}

fn is_configmap(v: &serde_norway::Value, name: &str) -> bool {
    v["kind"] == "ConfigMap" && v["metadata"]["name"] == name
}

fn mounts_configmap(v: &serde_norway::Value, name: &str) -> bool {
    let volumes = v["spec"]["template"]["spec"]["volumes"].as_sequence();
    volumes.is_some_and(|vs| vs.iter().any(|vol| vol["configMap"]["name"] == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled() -> Output {
        let file = |server: &str, name: &str| crate::OutFile {
            server: server.into(),
            name: name.into(),
            text: format!("# {name}\non: yes\n"),
        };
        Output {
            files: vec![file("ejabberd", "ejabberd.yml"), file("prosody", "prosody.cfg.lua")],
            ..Default::default()
        }
    }

    fn documents(stream: &str) -> Vec<serde_norway::Value> {
        use serde::Deserialize;
        serde_norway::Deserializer::from_str(stream)
            .map(|d| serde_norway::Value::deserialize(d).unwrap_or_default())
            .collect()
    }

    /// A document may start on its `---` line, flow style: it is read, not dropped, and the chart's
    /// own keys in the ConfigMap stay beside the compiled files.
    #[test]
    fn a_document_on_the_marker_line_is_kept_with_its_keys() {
        let stream = "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: xmpp-config}, data: {other: kept}}\n\
                      --- # Source: svc\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n...\n";
        let out = postrender(stream, &compiled(), "xmpp-config").unwrap_or_default();
        let docs = documents(&out);
        assert_eq!(docs.len(), 2, "{out}");
        assert_eq!(docs[0]["data"]["other"], "kept");
        assert_eq!(docs[0]["data"]["ejabberd.yml"], "# ejabberd.yml\non: yes\n");
        assert_eq!(docs[1]["kind"], "Service");
        assert!(out.contains("# Source: svc\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"), "{out}");
    }

    /// What is not a stream of Kubernetes objects is an error naming the document, never passed on.
    #[test]
    fn garbage_is_refused_with_the_document_named() {
        for (stream, want) in [
            ("hello\n", "document 1 (line 1) is not a Kubernetes object"),
            ("apiVersion: v1\nkind: Service\n---\n- a\n", "document 2 (line 3) is not a Kubernetes object"),
            ("kind: [\n", "document 1 (line 1) is not YAML"),
            ("a: b\n--- \u{1}\u{2}\n", "document 2 (line 2) is not YAML"),
            ("kind: x\nkind: y\n", "is not YAML"),
        ] {
            match postrender(stream, &compiled(), "xmpp-config") {
                Err(e) => assert!(e.contains(want), "{stream:?}: {e}"),
                Ok(out) => panic!("{stream:?} passed as\n{out}"),
            }
        }
    }
}
