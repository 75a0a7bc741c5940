//! Every YAML file helm-xmpp writes (ejabberd.yml, the chart values, `configmap`, the post-renderer's
//! stream) reads back as the same types under YAML 1.1 and YAML 1.2. The YAML 1.1 reader is PyYAML on
//! libyaml, as ejabberd's own (fast_yaml) is: `on`, `yes`, `1_000`, `0o17`, `190:20:30`, a date or `<<`
//! written plain would come back there as a boolean, a number, a date or a merge.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use helm_xmpp::engine::{self, Kind, Limits};
use xmpp_compiler::manifests;

/// Strings that YAML 1.1 (or 1.2) reads as something else when they stand unquoted.
const TRICKY: &[&str] = &[
    "on",
    "On",
    "ON",
    "off",
    "yes",
    "Yes",
    "no",
    "NO",
    "y",
    "Y",
    "n",
    "N",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "1_000",
    "0o17",
    "017",
    "0x1F",
    "0b101",
    "+1",
    "-1",
    "1.5",
    "1e3",
    "1_0.5",
    ".5",
    "+.5",
    ".inf",
    "-.Inf",
    ".NaN",
    "190:20:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "<<",
    "=",
    "",
    " ",
    "#",
    "- x",
    "a: b",
    "'",
    "\"",
    "!x",
    "&a",
    "*a",
    "%x",
    "@x",
    "`x",
    "[x]",
    "{x}",
    "?",
    "|",
    ">",
    "x #y",
    "x\ty",
];

/// PyYAML (libyaml's safe loader) on each stream, as JSON; a value JSON has no type for (a date, a
/// set) comes back as `{"!date": "…"}`, which equals no string.
fn yaml11(streams: &[&str]) -> Vec<serde_json::Value> {
    let script = "import sys, json, yaml\n\
        load = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n\
        enc = lambda o: {'!' + type(o).__name__: str(o)}\n\
        out = [list(yaml.load_all(s, Loader=load)) for s in json.load(sys.stdin)]\n\
        print(json.dumps(out, default=enc))";
    let python = tool("../venv/bin/python");
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &streams).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    match serde_json::from_slice(&o.stdout).unwrap() {
        serde_json::Value::Array(items) => items,
        other => panic!("{other}"),
    }
}

/// serde_norway (YAML 1.2) on one stream, as JSON.
fn yaml12(stream: &str) -> serde_json::Value {
    use serde::Deserialize;
    let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(stream)
        .map(|d| serde_json::to_value(serde_norway::Value::deserialize(d).unwrap()).unwrap())
        .collect();
    serde_json::Value::Array(docs)
}

fn assert_same_types(streams: &[(String, String)]) {
    let texts: Vec<&str> = streams.iter().map(|(_, t)| t.as_str()).collect();
    for ((what, text), old) in streams.iter().zip(yaml11(&texts)) {
        assert_eq!(old, yaml12(text), "{what} reads differently under YAML 1.1:\n{text}");
    }
}

/// A DSL file with each tricky string in every place a string reaches ejabberd.yml: contact
/// addresses, storage settings, and a raw block's keys, values and lists.
fn tricky_source() -> String {
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    // Contact addresses are non-empty single lines (tabs are control characters there).
    let list: Vec<String> = TRICKY.iter().filter(|s| !s.is_empty() && !s.contains('\t')).map(|s| quoted(s)).collect();
    let mut raw = String::from("ejabberd {\n");
    for (i, s) in TRICKY.iter().enumerate() {
        let yaml = serde_json::to_string(s).unwrap(); // a JSON string is a YAML double-quoted scalar
        raw.push_str(&format!("  k{i}: {yaml}\n  {yaml}: [{yaml}, {{ {yaml}: {yaml} }}]\n"));
    }
    raw.push_str("}\n");
    format!(
        "targets ejabberd >= 24.12\n\
         domain \"example.org\" {{\n  admins on, yes, y, off, null\n  contact {{ abuse {} }}\n}}\n\
         storage postgres {{ host \"on\"; database \"2001-12-14\"; user \"1_000\"; password env(\"DB\") }}\n\
         listen client 5222 {{ tls required }}\n{raw}",
        list.join(", ")
    )
}

#[test]
#[ignore = "needs tests/setup: PyYAML in the tests' virtualenv"]
fn every_yaml_written_reads_back_as_the_same_types_under_yaml_1_1() {
    let mut sources = vec![("tricky.xmpp".to_string(), tricky_source())];
    for e in fs::read_dir(root().join("examples")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "xmpp") {
            sources.push((path.display().to_string(), String::new()));
        }
    }
    let mut streams = Vec::new();
    for (path, text) in &sources {
        let (_, compiled) = if text.is_empty() {
            engine::compile_file(Kind::Native, std::path::Path::new(path), Limits::default()).unwrap()
        } else {
            let c = engine::compile(Kind::Native, &[(path.clone(), text.clone())], Limits::default()).unwrap();
            (Vec::new(), c)
        };
        assert!(!compiled.has_errors(), "{path}: {:?}", compiled.diagnostics);
        for f in compiled.files.iter().filter(|f| f.name.ends_with(".yml")) {
            streams.push((format!("{path}: {}", f.name), f.text.clone()));
        }
        streams.push((format!("{path}: values"), manifests::values_yaml(&compiled).unwrap()));
        streams.push((
            format!("{path}: configmap"),
            manifests::configmap_yaml(&compiled, "xmpp-config", Some("on")).unwrap(),
        ));
        let chart = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: xmpp-config, labels: {a: 'on'}}\ndata: {k: 'yes'}\n\
            ---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: 'no'}\n\
            spec: {template: {metadata: {annotations: {x: '0o17'}}, spec: {volumes: [{name: c, configMap: {name: xmpp-config}}]}}}\n";
        streams.push((format!("{path}: postrender"), manifests::postrender(chart, &compiled, "xmpp-config").unwrap()));
    }
    assert_same_types(&streams);
    // The tricky strings reached the file at all (the test would be empty otherwise).
    let ejabberd = &streams[0].1;
    for s in ["'on'", "'2001-12-14'", "'1_000'", "'<<'", "'190:20:30'"] {
        assert!(ejabberd.contains(s), "{s} not in\n{ejabberd}");
    }
}
