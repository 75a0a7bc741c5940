//! The real Helm 3 and Helm 4 (built by tests/setup): the plugin installs from this repository,
//! and `helm xmpp render` injects exactly what `helm-xmpp compile` writes.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::process::Command;

use common::*;
use serde_norway::Value;

/// The `data` of the first ConfigMap in rendered manifests.
fn configmap_data(manifests: &str) -> Value {
    documents(manifests)
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap")
        .map(|d| d["data"].clone())
        .unwrap_or_else(|| panic!("no ConfigMap in:\n{manifests}"))
}

fn plugin_renders_the_compiled_configs(helm_name: &str) {
    let helm = Helm::new(helm_name);
    let o = run(helm.cmd().arg("plugin").arg("install").arg(root()));
    assert!(o.status.success(), "plugin install: {}{}", text(&o.stdout), text(&o.stderr));
    let o = run(helm.cmd().args(["plugin", "list"]));
    assert!(text(&o.stdout).lines().any(|l| l.starts_with("xmpp")), "{}", text(&o.stdout));
    // `helm xmpp <TAB>` and `helm xmpp check --<TAB>` complete from the plugin's completion.yaml.
    let complete = |args: &[&str]| text(&run(helm.cmd().arg("__complete").args(args)).stdout);
    let subcommands = complete(&["xmpp", ""]);
    for sub in ["compile", "check", "render", "upgrade", "completion"] {
        assert!(
            subcommands.lines().any(|l| l.split('\t').next() == Some(sub)),
            "{helm_name}: no {sub} in\n{subcommands}"
        );
    }
    let flags = complete(&["xmpp", "check", "--"]);
    assert!(flags.lines().any(|l| l.starts_with("--format")), "{helm_name}: no --format in\n{flags}");

    let expected = compiled("examples/site.xmpp");
    for (server, file) in [("ejabberd", "ejabberd.yml"), ("prosody", "prosody.cfg.lua")] {
        let o = run(helm
            .cmd()
            .args(["xmpp", "render", "charts/xmpp", "-f", "examples/site.xmpp", "--set"])
            .arg(format!("server={server}")));
        assert!(o.status.success(), "{helm_name} xmpp render: {}", text(&o.stderr));
        let data = configmap_data(&text(&o.stdout));
        let want = fs::read_to_string(expected.0.join(file)).unwrap();
        assert_eq!(
            data[file].as_str(),
            Some(want.as_str()),
            "{helm_name}: the ConfigMap's {file} differs from compile's"
        );
        assert_eq!(data.as_mapping().map(|m| m.len()), Some(1), "only the selected server's config");
    }
}

#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn helm_3_installs_the_plugin_and_renders_the_compiled_configs() {
    plugin_renders_the_compiled_configs("helm3");
}

#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn helm_4_installs_the_plugin_and_renders_the_compiled_configs() {
    plugin_renders_the_compiled_configs("helm4");
}

#[test]
fn a_compile_error_stops_before_helm_runs() {
    let tmp = TempDir::new("hx-bad").unwrap();
    let bad = tmp.0.join("bad.xmpp");
    fs::write(&bad, "domain \"chat.example.com\" {\n  admins alice\n  archiv on\n}\n").unwrap();
    // A stand-in Helm that only records that it ran.
    let marker = tmp.0.join("helm-ran");
    let fake = tmp.0.join("helm");
    fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    run(Command::new("chmod").arg("+x").arg(&fake));

    let chart = root().join("charts/xmpp");
    for args in [vec!["render"], vec!["install", "chat"], vec!["upgrade", "chat"], vec!["lint"]] {
        let o = run(bin().env("HELM_BIN", &fake).args(&args).arg(&chart).arg("-f").arg(&bad));
        assert!(!o.status.success());
        assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(err.contains("error[E001]") && err.contains(":3:3") && err.contains("try `archive`"), "{err}");
        assert!(!marker.exists(), "helm {args:?} ran despite the compile error");
    }

    // And with a good file, the same stand-in does run: the check above can fail.
    let o = run(bin().env("HELM_BIN", &fake).current_dir(root()).args([
        "render",
        "charts/xmpp",
        "-f",
        "examples/site.xmpp",
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(marker.exists());
}

#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn the_chart_refuses_to_render_without_a_compiled_config() {
    let helm = Helm::new("helm4");
    let o = run(helm.cmd().args(["template", "charts/xmpp"]));
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("compiled.files is empty"), "{}", text(&o.stderr));
}

/// Secrets the DSL references come from an existing Secret into the pod's environment; their values
/// are never in the manifests, and the chart refuses to render without the Secret's name.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn secrets_come_from_a_secret_and_never_from_the_configmap() {
    let helm4 = tool("helm4");
    let render = |extra: &[&str]| {
        run(bin()
            .env("HELM_BIN", &helm4)
            .current_dir(root())
            .args(["render", "charts/xmpp", "-f", "examples/production.xmpp"])
            .args(extra))
    };
    let o = render(&[]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("the DSL reads secrets from TURN_SECRET, XMPP_DB_PASSWORD"),
        "{}",
        text(&o.stderr)
    );

    let o = render(&["--set", "secrets.existingSecret=xmpp-secrets"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let docs = documents(&text(&o.stdout));
    let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    let env = sts["spec"]["template"]["spec"]["containers"][0]["env"].as_sequence().unwrap();
    let from_secret = |e: &&Value| e["valueFrom"]["secretKeyRef"]["name"] == "xmpp-secrets";
    let names: Vec<&str> = env.iter().filter(from_secret).map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["TURN_SECRET", "EJABBERD_MACRO_TURN_SECRET", "XMPP_DB_PASSWORD", "EJABBERD_MACRO_XMPP_DB_PASSWORD"]
    );
    // Nothing else carries a value that looks like a secret: only the cookie comes from another Secret.
    for e in env.iter().filter(|e| !from_secret(e)) {
        assert!(e["value"].as_str().is_none_or(|v| !v.contains("secret")), "{e:?}");
    }
    let cm = configmap_data(&text(&o.stdout));
    let config = cm["ejabberd.yml"].as_str().unwrap();
    assert!(config.contains("sql_password: XMPP_DB_PASSWORD"), "the config names the macro, not a value");
}

/// The ConfigMap, and with it the pods' checksum annotation, change when the DSL does.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn a_changed_dsl_changes_the_configmap_and_the_checksum() {
    let tmp = TempDir::new("hx-checksum").unwrap();
    let helm4 = tool("helm4");
    let render = |file: &std::path::Path| {
        let o =
            run(bin().env("HELM_BIN", &helm4).current_dir(root()).arg("render").arg("charts/xmpp").arg("-f").arg(file));
        assert!(o.status.success(), "{}", text(&o.stderr));
        let docs = documents(&text(&o.stdout));
        let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap().clone();
        let sum = sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"].as_str().unwrap().to_string();
        (configmap_data(&text(&o.stdout)), sum)
    };
    let a = tmp.0.join("a.xmpp");
    fs::write(&a, "domain \"chat.example.com\" { }\nlisten client 5222\n").unwrap();
    let b = tmp.0.join("b.xmpp");
    fs::write(&b, "domain \"chat.example.com\" { groupchat \"conference\" }\nlisten client 5222\n").unwrap();
    let (data_a, sum_a) = render(&a);
    let (data_a2, sum_a2) = render(&a);
    let (data_b, sum_b) = render(&b);
    assert_eq!((&data_a, &sum_a), (&data_a2, &sum_a2), "the same DSL renders the same");
    assert_ne!(data_a, data_b);
    assert_ne!(sum_a, sum_b);
    assert!(data_b["ejabberd.yml"].as_str().unwrap().contains("mod_muc"));
}

/// The chart's schema refuses unknown and mistyped values with a message naming them.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn the_schema_refuses_bad_values() {
    let helm4 = tool("helm4");
    for (set, says) in [("bogus=1", "bogus"), ("server=openfire", "server"), ("replicaCount=0", "replicaCount")] {
        let o = run(bin().env("HELM_BIN", &helm4).current_dir(root()).args([
            "render",
            "charts/xmpp",
            "-f",
            "examples/site.xmpp",
            "--set",
            set,
        ]));
        assert!(!o.status.success(), "{set} was accepted");
        let err = text(&o.stderr);
        assert!(
            err.contains("values don't meet the specifications of the schema") && err.contains(says),
            "{set}: {err}"
        );
    }
}

/// `configmap` prints a ConfigMap holding exactly what `compile` writes.
#[test]
fn configmap_prints_the_compiled_files() {
    let expected = compiled("examples/site.xmpp");
    let o = run(bin().current_dir(root()).args([
        "configmap",
        "examples/site.xmpp",
        "--name",
        "chat",
        "--namespace",
        "xmpp",
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let doc = &documents(&text(&o.stdout))[0];
    assert_eq!((doc["kind"].as_str(), doc["metadata"]["name"].as_str()), (Some("ConfigMap"), Some("chat")));
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("xmpp"));
    for file in ["ejabberd.yml", "prosody.cfg.lua"] {
        assert_eq!(doc["data"][file].as_str(), Some(fs::read_to_string(expected.0.join(file)).unwrap().as_str()));
    }
}

/// Why the compiler does not ship as a Helm 4 Wasm post-renderer (issue 20, item 5): in Helm 4's
/// `extism/v1` runtime a post-renderer's manifests are a `*bytes.Buffer` in the JSON messages
/// (`internal/plugin/schema/postrenderer.go`), which `encoding/json` writes as `{}` and cannot read a
/// string into (helm/helm#31832). A minimal Wasm post-renderer (`tests/helm4-wasm/probe.wat`) shows
/// both halves on the real Helm 4: what it is given holds no manifest, and a manifest it returns is
/// refused. When a Helm release fixes this, this test fails: then the Wasm plugin can be built.
#[test]
#[ignore = "needs tests/setup: real Helm 4, wat2wasm"]
fn helm_4_wasm_post_renderers_can_neither_read_nor_return_manifests() {
    let helm = Helm::new("helm4");
    let dir = helm.home.0.join("probe");
    for (name, entry) in [("echo", "echo"), ("manifest", "manifest")] {
        let plugin = dir.join(name);
        fs::create_dir_all(&plugin).unwrap();
        let o = run(Command::new("wat2wasm")
            .arg(root().join("tests/helm4-wasm/probe.wat"))
            .arg("-o")
            .arg(plugin.join("plugin.wasm")));
        assert!(o.status.success(), "wat2wasm: {}", text(&o.stderr));
        let manifest = format!(
            "apiVersion: v1\ntype: postrenderer/v1\nname: probe-{name}\nversion: 0.1.0\nruntime: extism/v1\nruntimeConfig:\n  entryFuncName: {entry}\n"
        );
        fs::write(plugin.join("plugin.yaml"), manifest).unwrap();
        let o = run(helm.cmd().args(["plugin", "install"]).arg(&plugin));
        assert!(o.status.success(), "plugin install: {}", text(&o.stderr));
    }
    let template = |renderer: &str| {
        run(helm.cmd().args(["template", "x", "tests/chart/foreign", "--debug", "--post-renderer", renderer]))
    };
    let plain = run(helm.cmd().args(["template", "x", "tests/chart/foreign"]));
    assert!(plain.status.success() && text(&plain.stdout).contains("kind: Deployment"));

    // Given: the rendered manifests reach the plugin as an empty JSON object.
    let o = template("probe-echo");
    let err = text(&o.stderr);
    assert!(!o.status.success(), "a Wasm post-renderer rendered: {}", text(&o.stdout));
    assert!(err.contains(r#"inputData="{\"manifests\":{},\"extraArgs\":[]}""#), "{err}");
    assert!(err.contains(r#"post-renderer "probe-echo" produced empty output"#), "{err}");

    // Returned: a manifest as a JSON string is refused.
    let o = template("probe-manifest");
    let err = text(&o.stderr);
    assert!(!o.status.success(), "a Wasm post-renderer rendered: {}", text(&o.stdout));
    assert!(
        err.contains("cannot unmarshal string into Go struct field OutputMessagePostRendererV1.manifests"),
        "{err}"
    );
}
