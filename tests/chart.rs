//! The chart, rendered by the real Helm 3 and Helm 4 through `helm xmpp`: every values file lints
//! and renders, the manifests validate against Kubernetes' schemas, the pods are restricted, each
//! optional part comes and goes with its value, and the post-renderer feeds charts that are not ours.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::process::Output;

use common::*;
use serde_norway::Value;

const HELMS: [&str; 2] = ["helm3", "helm4"];
const EXAMPLES: [&str; 4] = ["minimal", "site", "team", "production"];
/// Each values file, and the layering the GKE one is written for.
const VALUES: [&[&str]; 4] = [
    &[],
    &["charts/xmpp/values-dev.yaml"],
    &["charts/xmpp/values-prod.yaml"],
    &["charts/xmpp/values-prod.yaml", "charts/xmpp/values-gke.yaml"],
];

/// `helm-xmpp SUBCOMMAND ARGS…` with the given Helm, from the repository root.
fn helm_xmpp(helm: &str, args: &[&str]) -> Output {
    run(bin().env("HELM_BIN", tool(helm)).current_dir(root()).args(args))
}

/// Renders the chart with a DSL file and extra arguments; panics with Helm's message on failure.
fn render(helm: &str, dsl: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["render", "charts/xmpp", "-f", dsl, "--set", "secrets.existingSecret=xmpp-secrets"];
    args.extend_from_slice(extra);
    let o = helm_xmpp(helm, &args);
    assert!(o.status.success(), "{helm} render {args:?}: {}", text(&o.stderr));
    documents(&text(&o.stdout))
}

fn find<'a>(docs: &'a [Value], kind: &str, suffix: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"].as_str().unwrap_or("").ends_with(suffix))
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| format!("{}/{}", d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap()))
        .collect()
}

/// The pod specs in the manifests: workloads' templates and bare pods (the test hook).
fn pod_specs(docs: &[Value]) -> Vec<(String, &Value)> {
    docs.iter()
        .filter_map(|d| {
            let name = format!("{}/{}", d["kind"].as_str()?, d["metadata"]["name"].as_str()?);
            match d["kind"].as_str()? {
                "Pod" => Some((name, &d["spec"])),
                "StatefulSet" | "Deployment" => Some((name, &d["spec"]["template"]["spec"])),
                "CronJob" => Some((name, &d["spec"]["jobTemplate"]["spec"]["template"]["spec"])),
                "Job" => Some((name, &d["spec"]["template"]["spec"])),
                _ => None,
            }
        })
        .collect()
}

#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn every_values_file_lints_renders_and_validates_on_helm_3_and_4() {
    let out = TempDir::new("hx-chart-validate").unwrap();
    let mut rendered = Vec::new();
    for helm in HELMS {
        for (i, values) in VALUES.iter().enumerate() {
            for example in EXAMPLES {
                if values.contains(&"charts/xmpp/values-prod.yaml") && example == "minimal" {
                    continue; // the production values put an Ingress in front of the HTTP listener minimal lacks
                }
                let dsl = format!("examples/{example}.xmpp");
                let mut args = vec!["lint", "charts/xmpp", "--strict", "-f", &dsl];
                for v in *values {
                    args.extend(["-f", v]);
                }
                args.extend(["--set", "secrets.existingSecret=xmpp-secrets"]);
                let o = helm_xmpp(helm, &args);
                assert!(o.status.success(), "{helm} {args:?}:\n{}{}", text(&o.stdout), text(&o.stderr));

                args[0] = "render";
                args.remove(2); // --strict is lint's
                let o = helm_xmpp(helm, &args);
                assert!(o.status.success(), "{helm} {args:?}: {}", text(&o.stderr));
                let file = out.0.join(format!("{helm}-{i}-{example}.yaml"));
                fs::write(&file, &o.stdout).unwrap();
                rendered.push(file);
            }
        }
    }
    validate(&rendered);
}

/// Validates manifests against the Kubernetes 1.37 schemas (kubernetes-validate, offline, strict:
/// unknown fields are errors). Custom resources (Certificate, ServiceMonitor) have no schema there.
fn validate(files: &[std::path::PathBuf]) {
    let o = run(kubernetes_validate().args(files));
    let report = format!("{}{}", text(&o.stdout), text(&o.stderr));
    let problems: Vec<&str> = report.lines().filter(|l| !l.contains("Couldn't find schema for kind")).collect();
    assert!(o.status.success() && problems.is_empty(), "{}", problems.join("\n"));
}

/// The validator as every check here runs it.
fn kubernetes_validate() -> std::process::Command {
    let mut c = std::process::Command::new(venv_tool("kubernetes-validate"));
    c.args(["--strict", "--quiet", "-k", "1.37.0"]);
    c
}

/// A tool in tests/setup's Python virtualenv.
fn venv_tool(name: &str) -> std::path::PathBuf {
    tool(&format!("../venv/bin/{name}"))
}

/// GKE: what its load balancers need in front of the HTTP listener (a BackendConfig for the Ingress, a
/// GCPBackendPolicy and a HealthCheckPolicy for the Gateway) is valid against the schemas of GKE's
/// CRDs, which reach this machine through npm's @kubernetes-models/gke (generated from them; the CRDs
/// themselves are published nowhere this machine reaches); a mistyped object is refused, so the check
/// can fail. The health check's path is the DSL's BOSH path, which both servers answer with 200.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, node with @kubernetes-models/gke"]
fn gke_objects_are_valid_against_gkes_schemas() {
    let gke_kinds = ["BackendConfig", "GCPBackendPolicy", "HealthCheckPolicy"];
    let check = |objects: &[Value]| -> Output {
        let json = serde_json::to_string(objects).unwrap();
        let mut child = std::process::Command::new("node")
            .arg(root().join("tests/chart/gke-validate.cjs"))
            .env("NODE_PATH", tool("../npm/node_modules"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), json.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    for helm in HELMS {
        let values = ["-f", "charts/xmpp/values-prod.yaml", "-f", "charts/xmpp/values-gke.yaml"];
        let gateway = ["--set", "gateway.enabled=true", "--set", "gateway.parentRef.name=gke-gateway"];
        let docs = render(helm, "examples/production.xmpp", &[&values[..], &gateway[..]].concat());
        let objects: Vec<Value> = docs.iter().filter(|d| gke_kinds.iter().any(|k| d["kind"] == *k)).cloned().collect();
        assert_eq!(objects.len(), 3, "{helm}: {:?}", kinds(&docs));
        let o = check(&objects);
        assert!(o.status.success(), "{helm}: {}", text(&o.stdout));
        assert_eq!(text(&o.stdout).matches("valid: ").count(), 3, "{}", text(&o.stdout));
        let backend = find(&objects, "BackendConfig", "-http").unwrap();
        assert_eq!(backend["spec"]["healthCheck"]["requestPath"], "/http-bind");
        assert_eq!(backend["spec"]["timeoutSec"], 3600);
        let http = find(&docs, "Service", "-http").unwrap();
        assert_eq!(
            http["metadata"]["annotations"]["cloud.google.com/backend-config"],
            r#"{"default": "release-name-xmpp-http"}"#
        );

        let mut wrong = objects.clone();
        wrong[1]["spec"]["default"]["sessionAffinity"]["type"] = Value::from("COOKIE");
        let o = check(&wrong);
        assert!(!o.status.success() && text(&o.stdout).contains("allowed values"), "{}", text(&o.stdout));
    }
}

/// The validator really rejects a broken manifest: the check above can fail.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn the_validator_rejects_a_mistyped_manifest() {
    let dir = TempDir::new("hx-bad-manifest").unwrap();
    let file = dir.0.join("bad.yaml");
    fs::write(
        &file,
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: \"many\"}], bogus: 1}\n",
    )
    .unwrap();
    let o = run(kubernetes_validate().arg(&file));
    assert!(!o.status.success(), "{}", text(&o.stdout));
}

#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn every_example_reaches_the_configmap_byte_for_byte() {
    for example in EXAMPLES {
        let dsl = format!("examples/{example}.xmpp");
        let out = compiled(&dsl);
        for helm in HELMS {
            for (server, file) in [("ejabberd", "ejabberd.yml"), ("prosody", "prosody.cfg.lua")] {
                let docs = render(helm, &dsl, &["--set", &format!("server={server}")]);
                let cm = find(&docs, "ConfigMap", "-config").unwrap();
                let want = fs::read_to_string(out.0.join(file)).unwrap();
                assert_eq!(cm["data"][file].as_str(), Some(want.as_str()), "{helm} {example} {file}");
            }
        }
    }
}

/// Every pod of every part passes the `restricted` Pod Security level, with a read-only root.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn every_pod_is_restricted() {
    let everything = [
        "--set",
        "postgresql.enabled=true",
        "--set",
        "coturn.enabled=true",
        "--set",
        "tests.enabled=true",
        "--set",
        "backup.enabled=true",
        "--set",
        "backup.volume.persistentVolumeClaim.claimName=backups",
        "--set",
        "restore.from=team/xmpp-xmpp/20261202T010203Z",
        "--set",
        "restore.volume.persistentVolumeClaim.claimName=backups",
    ];
    // tests/chart/old-ejabberd.xmpp: ejabberd < 24.12 gets the init container that writes the macros file.
    let cases = [
        ("ejabberd", "examples/production.xmpp"),
        ("ejabberd", "tests/chart/old-ejabberd.xmpp"),
        ("prosody", "examples/production.xmpp"),
    ];
    for (server, dsl) in cases {
        let replicas = if server == "prosody" { "replicaCount=1" } else { "replicaCount=2" };
        let mut args = everything.to_vec();
        args.extend(["--set", replicas, "--set"]);
        let server_arg = format!("server={server}");
        args.push(&server_arg);
        let docs = render("helm4", dsl, &args);
        let pods = pod_specs(&docs);
        assert!(pods.len() >= 6, "{server}: {:?}", kinds(&docs));
        for (name, spec) in pods {
            let pod = &spec["securityContext"];
            assert_eq!(pod["runAsNonRoot"], true, "{name}");
            assert_eq!(pod["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            assert_ne!(pod["runAsUser"], 0, "{name}");
            assert_eq!(spec["automountServiceAccountToken"], false, "{name}");
            assert!(spec["hostNetwork"].is_null() && spec["hostPID"].is_null(), "{name}");
            let containers = spec["containers"].as_sequence().unwrap().iter();
            let init = spec["initContainers"].as_sequence().into_iter().flatten();
            for c in containers.chain(init) {
                let at = format!("{name} container {}", c["name"].as_str().unwrap());
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
                assert_eq!(sc["runAsNonRoot"], true, "{at}");
                assert_eq!(sc["capabilities"]["drop"], Value::Sequence(vec!["ALL".into()]), "{at}");
                assert!(sc["capabilities"]["add"].is_null() && sc["privileged"].is_null(), "{at}");
            }
        }
    }
}

/// Each optional part is there when its value says so, and only then.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn optional_parts_come_and_go_with_their_values() {
    // (values that turn it on, the kind and name suffix that appears)
    let dsl = "examples/production.xmpp";
    let cases: &[(&[&str], &str, &str)] = &[
        (&["ingress.enabled=true"], "Ingress", "-xmpp"),
        (&["gateway.enabled=true", "gateway.className=traefik"], "HTTPRoute", "-xmpp"),
        (&["gateway.enabled=true", "gateway.className=traefik"], "Gateway", "-xmpp"),
        (&["tls.certManager.enabled=true", "tls.certManager.issuerRef.name=le"], "Certificate", "-xmpp"),
        (&["postgresql.enabled=true"], "StatefulSet", "-postgresql"),
        (&["postgresql.enabled=true"], "Service", "-postgresql"),
        (&["coturn.enabled=true"], "Deployment", "-coturn"),
        (&["networkPolicy.enabled=true"], "NetworkPolicy", "-xmpp"),
        (&["autoscaling.enabled=true"], "HorizontalPodAutoscaler", "-xmpp"),
        (&["server=prosody", "metrics.serviceMonitor.enabled=true"], "ServiceMonitor", "-xmpp"),
        (&["metrics.serviceMonitor.enabled=true"], "ServiceMonitor", "-xmpp"),
        (&["metrics.dashboard.enabled=true"], "ConfigMap", "-dashboard"),
    ];
    fn set<'a>(values: &[&'a str]) -> Vec<&'a str> {
        values.iter().flat_map(|v| ["--set", v]).collect()
    }
    for (on, kind, suffix) in cases {
        let with = render("helm4", dsl, &set(on));
        assert!(find(&with, kind, suffix).is_some(), "{on:?}: no {kind} *{suffix} in {:?}", kinds(&with));
        let off: Vec<&str> = on.iter().copied().filter(|v| v.starts_with("server=")).collect();
        let without = render("helm4", dsl, &set(&off));
        assert!(find(&without, kind, suffix).is_none(), "{kind} *{suffix} without {on:?}");
    }

    // The edge routes the HTTP hosts the DSL names (the domains and their upload hosts); an HTTPRoute
    // attaches to the operator's Gateway when one is named, and the chart then creates none.
    let hosts = ["chat.example.com", "upload.chat.example.com", "example.net"];
    let ingress = render("helm4", dsl, &["--set", "ingress.enabled=true"]);
    let rules = find(&ingress, "Ingress", "-xmpp").unwrap()["spec"]["rules"].as_sequence().unwrap().clone();
    assert_eq!(rules.iter().map(|r| r["host"].as_str().unwrap()).collect::<Vec<_>>(), hosts);
    let theirs = render(
        "helm4",
        dsl,
        &set(&["gateway.enabled=true", "gateway.parentRef.name=edge", "gateway.parentRef.namespace=infra"]),
    );
    assert!(find(&theirs, "Gateway", "").is_none(), "{:?}", kinds(&theirs));
    let route = &find(&theirs, "HTTPRoute", "-xmpp").unwrap()["spec"];
    assert_eq!(route["parentRefs"][0]["name"], "edge");
    assert_eq!(route["parentRefs"][0]["namespace"], "infra");
    assert_eq!(
        route["hostnames"].as_sequence().unwrap().iter().map(|h| h.as_str().unwrap()).collect::<Vec<_>>(),
        hosts
    );
    let paths: Vec<&str> = route["rules"][0]["matches"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["path"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/xmpp-websocket", "/http-bind", "/upload"], "gateway.routes by default");
    let http = find(&ingress, "Service", "-http").unwrap();
    assert_eq!(http["metadata"]["annotations"]["traefik.ingress.kubernetes.io/service.sticky.cookie"], "true");

    // Signed uploads: the upload service beside each ejabberd pod, with the key from the Secret, its
    // port on the HTTP Service, and the upload route sent there by the Ingress and the HTTPRoute (the
    // rest of the routes to the listener); nothing of it for unsigned uploads or for Prosody.
    let tmp = TempDir::new("hx-chart-signed").unwrap();
    let signed = tmp.0.join("signed.xmpp");
    let source = fs::read_to_string(root().join("tests/cluster/fixtures/edge.xmpp")).unwrap();
    assert!(source.contains("signed env(\"XMPP_UPLOAD_KEY\")"));
    fs::write(&signed, &source).unwrap();
    let unsigned = tmp.0.join("unsigned.xmpp");
    fs::write(&unsigned, source.replace(" { signed env(\"XMPP_UPLOAD_KEY\") }", "")).unwrap();
    let edge = ["ingress.enabled=true", "gateway.enabled=true", "gateway.className=traefik"];
    let docs = render("helm4", signed.to_str().unwrap(), &set(&edge));
    let pod = &find(&docs, "StatefulSet", "-xmpp").unwrap()["spec"]["template"]["spec"];
    let service = pod["containers"].as_sequence().unwrap().iter().find(|c| c["name"] == "uploads").unwrap();
    assert_eq!(service["command"][4], "/upload");
    assert_eq!(service["command"][5], "env:XMPP_UPLOAD_KEY");
    assert_eq!(service["env"][0]["valueFrom"]["secretKeyRef"]["key"], "XMPP_UPLOAD_KEY");
    let ports = &find(&docs, "Service", "-http").unwrap()["spec"]["ports"];
    assert_eq!((&ports[1]["name"], &ports[1]["port"]), (&Value::from("uploads"), &Value::from(5290)));
    let backend = |path: &str| {
        let rule = &find(&docs, "Ingress", "-xmpp").unwrap()["spec"]["rules"][0]["http"]["paths"];
        let p = rule.as_sequence().unwrap().iter().find(|p| p["path"] == path).unwrap();
        p["backend"]["service"]["port"]["name"].as_str().unwrap().to_string()
    };
    assert_eq!((backend("/upload"), backend("/http-bind")), ("uploads".into(), "http".into()));
    let rules = find(&docs, "HTTPRoute", "-xmpp").unwrap()["spec"]["rules"].as_sequence().unwrap().clone();
    let upload_rule = rules.iter().find(|r| r["matches"][0]["path"]["value"] == "/upload").unwrap();
    assert_eq!(upload_rule["backendRefs"][0]["port"], 5290);
    assert!(find(&docs, "ConfigMap", "-files").unwrap()["data"]["ejabberd-upload.escript"].is_string());
    for (dsl, extra) in [(&unsigned, &[][..]), (&signed, &["server=prosody"][..])] {
        let docs = render("helm4", dsl.to_str().unwrap(), &set(&[&edge[..], extra].concat()));
        let pod = &find(&docs, "StatefulSet", "-xmpp").unwrap()["spec"]["template"]["spec"];
        assert!(pod["containers"].as_sequence().unwrap().iter().all(|c| c["name"] != "uploads"), "{dsl:?} {extra:?}");
        assert_eq!(find(&docs, "Service", "-http").unwrap()["spec"]["ports"].as_sequence().unwrap().len(), 1);
    }

    // Metrics: Prosody's on its HTTP listener; ejabberd's from the exporter beside it, reading the admin
    // API on the loopback; the pods say where to scrape; only metricsFrom reaches the exporter's port.
    let ejabberd = render(
        "helm4",
        dsl,
        &set(&["networkPolicy.enabled=true", "networkPolicy.metricsFrom[0].podSelector.matchLabels.app=prometheus"]),
    );
    let pod = &find(&ejabberd, "StatefulSet", "-xmpp").unwrap()["spec"]["template"];
    let exporter = pod["spec"]["containers"].as_sequence().unwrap().iter().find(|c| c["name"] == "metrics").unwrap();
    assert_eq!(exporter["command"][3], "http://127.0.0.1:5280/api");
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "9150");
    assert!(
        find(&ejabberd, "ConfigMap", "-files").unwrap()["data"]["ejabberd-exporter.escript"]
            .as_str()
            .unwrap()
            .contains("registeredusers")
    );
    let rules = find(&ejabberd, "NetworkPolicy", "-xmpp").unwrap()["spec"]["ingress"].as_sequence().unwrap().clone();
    let with_9150: Vec<&Value> =
        rules.iter().filter(|r| r["ports"].as_sequence().unwrap().iter().any(|p| p["port"] == 9150)).collect();
    assert_eq!(with_9150.len(), 1, "the exporter's port in one rule");
    assert_eq!(with_9150[0]["from"][0]["podSelector"]["matchLabels"]["app"], "prometheus");
    let closed = render("helm4", dsl, &set(&["networkPolicy.enabled=true"]));
    let rules = find(&closed, "NetworkPolicy", "-xmpp").unwrap()["spec"]["ingress"].as_sequence().unwrap().clone();
    assert!(
        !rules.iter().any(|r| r["ports"].as_sequence().unwrap().iter().any(|p| p["port"] == 9150)),
        "closed without metricsFrom"
    );
    let prosody = render("helm4", dsl, &set(&["server=prosody"]));
    let pod = &find(&prosody, "StatefulSet", "-xmpp").unwrap()["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "5280");
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/path"], "/metrics");
    // Prosody runs no exporter: its accounts are counted by the chart's module, mounted where the
    // compiled config's plugin_paths looks.
    let files = find(&prosody, "ConfigMap", "-files").unwrap()["data"].as_mapping().unwrap().clone();
    assert_eq!(files.keys().map(|k| k.as_str().unwrap()).collect::<Vec<_>>(), ["mod_helm_xmpp_accounts.lua"]);
    let mounts = pod["spec"]["containers"][0]["volumeMounts"].as_sequence().unwrap();
    let module = mounts.iter().find(|m| m["subPath"] == "mod_helm_xmpp_accounts.lua").unwrap();
    assert_eq!(module["mountPath"], "/usr/local/lib/helm-xmpp/prosody/mod_helm_xmpp_accounts.lua");
    let config =
        find(&prosody, "ConfigMap", "-config").unwrap()["data"]["prosody.cfg.lua"].as_str().unwrap().to_string();
    assert!(config.contains(r#"plugin_paths = { "/usr/local/lib/helm-xmpp/prosody" }"#), "{config}");

    // The dashboards: Grafana JSON whose every query selects this release's pods in its namespace.
    for server in ["ejabberd", "prosody"] {
        let docs = render("helm4", dsl, &set(&[&format!("server={server}"), "metrics.dashboard.enabled=true"]));
        let cm = find(&docs, "ConfigMap", "-dashboard").unwrap();
        assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
        let board: serde_json::Value =
            serde_json::from_str(cm["data"][format!("{server}.json").as_str()].as_str().unwrap()).unwrap();
        let exprs: Vec<&str> = board["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().unwrap())
            .map(|t| t["expr"].as_str().unwrap())
            .collect();
        assert!(exprs.len() >= 6, "{server}: {exprs:?}");
        for e in exprs {
            assert!(e.contains(r#"namespace="default", pod=~"release-name-xmpp-[0-9]+""#), "{server}: {e}");
        }
    }

    // On by default, off by value.
    let defaults = render("helm4", dsl, &[]);
    for (kind, value) in [
        ("PodDisruptionBudget", "podDisruptionBudget.enabled=false"),
        ("ServiceAccount", "serviceAccount.create=false"),
        ("Pod", "tests.enabled=false"),
    ] {
        assert!(find(&defaults, kind, "").is_some(), "{kind} by default: {:?}", kinds(&defaults));
        assert!(find(&render("helm4", dsl, &["--set", value]), kind, "").is_none(), "{value}");
    }

    // Persistence: a claim per pod, or an emptyDir.
    let sts = |docs: &[Value]| find(docs, "StatefulSet", "-xmpp").unwrap().clone();
    let claims = sts(&defaults)["spec"]["volumeClaimTemplates"].clone();
    assert_eq!(claims[0]["metadata"]["name"], "data");
    let ephemeral = sts(&render("helm4", dsl, &["--set", "persistence.enabled=false"]));
    assert!(ephemeral["spec"]["volumeClaimTemplates"].is_null());
    let volumes = ephemeral["spec"]["template"]["spec"]["volumes"].as_sequence().unwrap();
    assert!(volumes.iter().any(|v| v["name"] == "data" && v["emptyDir"].is_mapping()));

    // The HPA owns the replica count: the chart renders the live one, or minReplicas without one (never
    // nothing, which Kubernetes reads as 1); clustering appears with a second node.
    let scaled = sts(&render("helm4", dsl, &["--set", "autoscaling.enabled=true,autoscaling.minReplicas=3"]));
    assert_eq!(scaled["spec"]["replicas"], 3);

    // Every ejabberd pod drains in its preStop and reads its StatefulSet's scale (one node too: a scale-in
    // to one node renders that release while the pods that leave need it), with a token mounted in the
    // server's container alone and a Role for that one object; Prosody's pods have neither.
    let drains = |s: &Value| {
        s["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][2]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let clustered = render("helm4", dsl, &["--set", "replicaCount=3", "--set", "tls.existingSecret=tls"]);
    assert!(drains(&sts(&defaults)).contains("stop_listeners"));
    assert!(drains(&sts(&defaults)).contains("/scale"));
    assert!(drains(&sts(&clustered)).contains("statefulsets/release-name-xmpp/scale"), "{}", drains(&sts(&clustered)));
    let mounts = |s: &Value, c: usize| -> Vec<String> {
        s["spec"]["template"]["spec"]["containers"][c]["volumeMounts"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(mounts(&sts(&clustered), 0).contains(&"kube-api".to_string()));
    assert!(!mounts(&sts(&clustered), 1).contains(&"kube-api".to_string()), "the sidecar has no token");
    let prosody = render("helm4", dsl, &["--set", "server=prosody"]);
    assert!(!mounts(&sts(&prosody), 0).contains(&"kube-api".to_string()));
    assert!(find(&prosody, "Role", "").is_none());
    assert!(drains(&sts(&prosody)).is_empty());

    // The pre-upgrade check: the new image on the new config, from a hook ConfigMap holding it.
    let check = find(&defaults, "Job", "-config-check").unwrap();
    assert_eq!(check["metadata"]["annotations"]["helm.sh/hook"], "pre-upgrade");
    let data = &find(&defaults, "ConfigMap", "-config-check").unwrap()["data"]["ejabberd.yml"];
    assert_eq!(data, &find(&defaults, "ConfigMap", "-xmpp-config").unwrap()["data"]["ejabberd.yml"]);
    let unchecked = render("helm4", dsl, &["--set", "upgradeCheck.enabled=false"]);
    assert!(find(&unchecked, "Job", "").is_none());
    let role = find(&clustered, "Role", "-xmpp").unwrap();
    assert_eq!(role["rules"][0]["resources"][0], "statefulsets/scale");
    assert_eq!(role["rules"][0]["resourceNames"][0], "release-name-xmpp");
    assert_eq!(role["rules"][0]["verbs"].as_sequence().unwrap().len(), 1);
    let env_names = |s: &Value| -> Vec<String> {
        s["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!env_names(&sts(&defaults)).contains(&"CTL_ON_CREATE".to_string()));
    let two = sts(&render("helm4", dsl, &["--set", "replicaCount=2"]));
    assert!(env_names(&two).contains(&"CTL_ON_CREATE".to_string()));

    // ejabberd < 24.12: the secrets reach it through an init container writing the macros file.
    let old = sts(&render("helm4", "tests/chart/old-ejabberd.xmpp", &[]));
    let init = &old["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], "macros");
    assert!(init["command"][2].as_str().unwrap().contains("/run/helm-xmpp/ejabberd-secrets.yml"));
    assert!(!env_names(&old).iter().any(|n| n.starts_with("EJABBERD_MACRO_")), "23.01 ignores them");
    assert!(sts(&defaults)["spec"]["template"]["spec"]["initContainers"].is_null());
}

/// Values that contradict each other or the DSL stop the render with a message saying what to do.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn inconsistent_values_are_refused_with_a_reason() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("examples/site.xmpp", &["server=prosody", "replicaCount=2"], "Prosody cannot cluster"),
        ("examples/site.xmpp", &["server=prosody", "autoscaling.enabled=true"], "Prosody cannot cluster"),
        ("tests/chart/dsl/metrics-without-api.xmpp", &[], "add `api \"/api\" allow 127.0.0.1/8`"),
        ("examples/minimal.xmpp", &["ingress.enabled=true"], "needs an HTTP listener"),
        ("examples/production.xmpp", &["gke.enabled=true"], "enable ingress or gateway"),
        (
            "tests/chart/dsl/ejabberd-only.xmpp",
            &["gke.enabled=true", "ingress.enabled=true", "ingress.routes={websocket}"],
            "GKE's health check needs a path",
        ),
        ("examples/minimal.xmpp", &["gateway.enabled=true", "gateway.className=x"], "needs an HTTP listener"),
        ("examples/production.xmpp", &["gateway.enabled=true"], "set gateway.className"),
        ("examples/site.xmpp", &["tls.certManager.enabled=true"], "needs tls.certManager.issuerRef.name"),
        (
            "examples/minimal.xmpp",
            &["postgresql.enabled=true", "secrets.existingSecret="],
            "needs secrets.existingSecret",
        ),
        ("examples/site.xmpp", &["persistence.size=big"], "persistence/size"),
        ("examples/site.xmpp", &["ingress.routes={chat}"], "ingress/routes"),
        ("examples/site.xmpp", &["service.type=Headless"], "service/type"),
        ("tests/chart/dsl/ejabberd-only.xmpp", &["server=prosody"], "the DSL targets only ejabberd"),
        ("examples/production.xmpp", &["image.ejabberd.tag=24.10"], "is older than the DSL's targets"),
        ("examples/site.xmpp", &["terminationGracePeriodSeconds=10"], "too short for the drain"),
        ("examples/site.xmpp", &["backup.enabled=true"], "needs backup.volume"),
        (
            "examples/site.xmpp",
            &["backup.enabled=true", "backup.volume.emptyDir.medium=", "persistence.enabled=false"],
            "needs persistence.enabled",
        ),
        ("examples/site.xmpp", &["restore.from=team/xmpp-xmpp/20261202T010203Z"], "needs restore.volume"),
        ("examples/site.xmpp", &["restore.from=../../etc"], "restore/from"),
        (
            "examples/production.xmpp",
            &["coturn.enabled=true", "coturn.relayPorts.expose=true", "coturn.relayPorts.max=50000"],
            "keep the range to 1-200 ports",
        ),
    ];
    for (dsl, sets, says) in cases {
        let mut args = vec!["render", "charts/xmpp", "-f", dsl, "--set", "secrets.existingSecret=s"];
        for s in *sets {
            args.extend(["--set", s]);
        }
        for helm in HELMS {
            let o = helm_xmpp(helm, &args);
            assert!(!o.status.success(), "{helm} {sets:?} was accepted");
            assert!(text(&o.stderr).contains(says), "{helm} {sets:?}: {}", text(&o.stderr));
        }
    }
}

/// coturn serves TURN over TLS and DTLS with the release's certificate when there is one, and lists
/// its relay ports on its Service when asked (a Service cannot carry a range).
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn coturn_serves_tls_and_can_expose_its_relay_ports() {
    let ports = |docs: &[Value]| -> Vec<(String, u64, String)> {
        let service = find(docs, "Service", "-coturn").unwrap();
        let ports = service["spec"]["ports"].as_sequence().unwrap().iter();
        ports
            .map(|p| {
                let name = p["name"].as_str().unwrap().to_string();
                (name, p["port"].as_u64().unwrap(), p["protocol"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let args = |docs: &[Value]| serde_norway::to_string(&find(docs, "Deployment", "-coturn").unwrap()["spec"]).unwrap();
    for helm in HELMS {
        let plain = render(helm, "examples/production.xmpp", &["--set", "coturn.enabled=true"]);
        assert!(ports(&plain).iter().all(|p| p.1 == 3478), "{helm}: {:?}", ports(&plain));
        assert!(args(&plain).contains("--no-tls --no-dtls"), "{helm}");

        let tls = ["--set", "coturn.enabled=true", "--set", "tls.existingSecret=chat-tls"];
        let docs = render(helm, "examples/production.xmpp", &tls);
        let p = ports(&docs);
        assert!(p.contains(&("turns-tcp".into(), 5349, "TCP".into())), "{helm}: {p:?}");
        assert!(p.contains(&("turns-udp".into(), 5349, "UDP".into())), "{helm}: {p:?}");
        assert!(args(&docs).contains("--tls-listening-port=5349 --cert=/etc/xmpp/tls/tls.crt"), "{helm}");
        assert!(args(&docs).contains("secretName: chat-tls"), "{helm}");

        let exposed = [&tls[..], &["--set", "coturn.relayPorts.expose=true,coturn.relayPorts.min=50000"]].concat();
        let exposed = [&exposed[..], &["--set", "coturn.relayPorts.max=50009,coturn.externalIP=203.0.113.7"]].concat();
        let docs = render(helm, "examples/production.xmpp", &exposed);
        let relays: Vec<u64> = ports(&docs).iter().filter(|p| p.0.starts_with("relay-")).map(|p| p.1).collect();
        assert_eq!(relays, (50000..=50009).collect::<Vec<u64>>(), "{helm}");
        assert!(args(&docs).contains("--external-ip=203.0.113.7"), "{helm}");
    }
}

/// The server follows the DSL's `targets` when `server` is not set; the config's file name comes from
/// the compiler; listeners of one kind get distinct port names, the HTTPS listener and the proxy are
/// on the Service; and a DSL without `targets` renders
/// with the default images (the compiler's default releases are theirs).
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn the_server_and_its_ports_follow_the_dsl() {
    for helm in HELMS {
        let docs = render(helm, "tests/chart/dsl/prosody-only.xmpp", &[]);
        let cm = find(&docs, "ConfigMap", "-config").unwrap();
        assert!(cm["data"]["prosody.cfg.lua"].is_string(), "{helm}: {:?}", cm["data"]);
        assert_eq!(
            find(&docs, "StatefulSet", "-xmpp").unwrap()["metadata"]["labels"]["helm-xmpp.io/server"],
            "prosody"
        );

        let docs = render(helm, "tests/chart/dsl/ejabberd-only.xmpp", &[]);
        let service = find(&docs, "Service", "-xmpp").unwrap();
        let names: Vec<&str> =
            service["spec"]["ports"].as_sequence().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["client", "client-5422", "federation", "http", "https", "client-tls", "proxy65"], "{helm}");
        let ports = &find(&docs, "StatefulSet", "-xmpp").unwrap()["spec"]["template"]["spec"]["containers"][0]["ports"];
        let mut names: Vec<&str> = ports.as_sequence().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ports.as_sequence().unwrap().len(), "{helm}: duplicate container port names");

        // Every listener by its kind: both STARTTLS client ports are tested, both HTTP ports are
        // reachable only from networkPolicy.httpFrom.
        let docs = render(
            helm,
            "tests/chart/dsl/ejabberd-only.xmpp",
            &["--set", "networkPolicy.enabled=true", "--set", "networkPolicy.httpFrom[0].podSelector.matchLabels.a=b"],
        );
        let test = serde_norway::to_string(find(&docs, "Pod", "-test").unwrap()).unwrap();
        assert!(test.contains("features 5222 jabber:client") && test.contains("features 5422 jabber:client"), "{helm}");
        assert!(!test.contains("features 5223"), "{helm}: a direct-TLS listener offers no STARTTLS");
        let policy = find(&docs, "NetworkPolicy", "-xmpp").unwrap();
        let rules = policy["spec"]["ingress"].as_sequence().unwrap();
        let ports = |rule: &Value| -> Vec<u64> {
            rule["ports"].as_sequence().unwrap().iter().map(|p| p["port"].as_u64().unwrap()).collect()
        };
        assert_eq!(ports(&rules[0]), [5222, 5422, 5269, 5223, 7777], "{helm}: open to all");
        assert_eq!(ports(&rules[1]), [5280, 5443], "{helm}: only from httpFrom");
        assert!(rules[1]["from"].is_sequence(), "{helm}");

        let docs = render(helm, "tests/chart/dsl/no-targets.xmpp", &[]);
        let config = find(&docs, "ConfigMap", "-config").unwrap()["data"]["ejabberd.yml"].as_str().unwrap();
        assert!(config.contains("new_sql_schema: true") && !config.contains("sql_schema_multihost"), "{helm}");
    }
}

/// Secret hygiene: with the secrets' values in the environment (as in CI), rendering every example
/// for each server puts none of them in a manifest or a log line; the manifests name the Secret only.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn no_secret_value_reaches_a_manifest_or_a_log_line() {
    let secrets = [
        ("XMPP_DB_PASSWORD", "db-Value-4711"),
        ("TURN_SECRET", "turn-Value-0815"),
        ("LDAP_PASSWORD", "ldap-Value-1234"),
    ];
    for example in EXAMPLES {
        for server in ["ejabberd", "prosody"] {
            let dsl = format!("examples/{example}.xmpp");
            let server = format!("server={server}");
            let mut cmd = bin();
            cmd.env("HELM_BIN", tool("helm4")).current_dir(root()).args(["render", "charts/xmpp", "-f", &dsl]).args([
                "--set",
                "secrets.existingSecret=xmpp-secrets",
                "--set",
                &server,
                "--set",
                "postgresql.enabled=true",
                "--set",
                "coturn.enabled=true",
            ]);
            for (k, v) in secrets {
                cmd.env(k, v).env(format!("EJABBERD_MACRO_{k}"), v);
            }
            let o = run(&mut cmd);
            assert!(o.status.success(), "{dsl} {server}: {}", text(&o.stderr));
            let (out, err) = (text(&o.stdout), text(&o.stderr));
            for (k, v) in secrets {
                assert!(!out.contains(v) && !err.contains(v), "{dsl} {server}: the value of {k} leaked");
            }
            if example == "production" {
                assert!(out.contains("name: xmpp-secrets") && out.contains("key: XMPP_DB_PASSWORD"), "{out}");
            }
        }
    }
}

/// The chart's NOTES name the Service, the port-forward and `helm test`.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn notes_say_how_to_reach_and_test_the_server() {
    let o = helm_xmpp(
        "helm4",
        &[
            "install",
            "chat",
            "charts/xmpp",
            "-f",
            "examples/site.xmpp",
            "--dry-run=client",
            "--set",
            "secrets.existingSecret=s",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let notes = &out[out.find("NOTES:").expect("NOTES printed")..];
    for want in ["port-forward svc/chat-xmpp", "helm test chat", "ejabberdctl list_cluster", "chat.example.com"] {
        assert!(notes.contains(want), "{want} not in {notes}");
    }
}

/// Helm strips its global flags from a plugin's arguments and passes them as `HELM_*` variables;
/// the Helm that `helm xmpp` runs inherits them: `--namespace team` reaches every manifest.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn helm_global_flags_reach_the_helm_that_runs() {
    for helm in HELMS {
        let h = Helm::new(helm);
        let o = run(h.cmd().args(["plugin", "install", "."]));
        assert!(o.status.success(), "{helm}: {}", text(&o.stderr));
        let o = run(h.cmd().args(["--namespace", "team", "xmpp", "render", "charts/xmpp", "-f", "examples/site.xmpp"]));
        assert!(o.status.success(), "{helm}: {}", text(&o.stderr));
        let docs = documents(&text(&o.stdout));
        assert!(docs.len() > 5);
        for d in &docs {
            assert_eq!(d["metadata"]["namespace"], "team", "{helm}: {d:?}");
        }
    }
}

/// A chart that is not ours (`tests/chart/foreign`), fed through the post-renderer: Helm 3 runs the
/// script as an executable, Helm 4 runs it as the `xmpp-postrender` plugin.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4, kubernetes-validate"]
fn the_post_renderer_injects_the_configs_into_a_foreign_chart() {
    let dsl = "examples/site.xmpp";
    let out = compiled(dsl);
    let want = fs::read_to_string(out.0.join("ejabberd.yml")).unwrap();

    let (helm3, helm4) = (Helm::new("helm3"), Helm::new("helm4"));
    let helm_cmd = |helm: &Helm| {
        let mut c = helm.cmd();
        c.env("HELM_XMPP_BIN", env!("CARGO_BIN_EXE_helm-xmpp"));
        c
    };
    let o = run(helm_cmd(&helm4).args(["plugin", "install", "plugin/postrender"]));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let bad = out.0.join("bad.xmpp");
    fs::write(&bad, "domian \"x\" { }\n").unwrap();

    let script = root().join("plugin/postrender/postrender.sh");
    let script = script.to_str().unwrap();
    for (helm, h, renderer) in [("helm3", &helm3, script), ("helm4", &helm4, "xmpp-postrender")] {
        let rendered = |dsl: &str| {
            run(helm_cmd(h)
                .args(["template", "x", "tests/chart/foreign", "--post-renderer", renderer])
                .args(["--post-renderer-args", &format!("--dsl={dsl}")]))
        };
        let o = rendered(dsl);
        assert!(o.status.success(), "{helm}: {}", text(&o.stderr));
        let docs = documents(&text(&o.stdout));
        let cm = find(&docs, "ConfigMap", "xmpp-config").unwrap();
        assert_eq!(cm["data"]["ejabberd.yml"].as_str(), Some(want.as_str()), "{helm}");
        assert_eq!(cm["data"]["other"], "kept", "{helm}: the chart's own keys stay");
        let deploy = find(&docs, "Deployment", "ejabberd").unwrap();
        let sum = &deploy["spec"]["template"]["metadata"]["annotations"]["checksum/helm-xmpp"];
        assert_eq!(sum.as_str().map(str::len), Some(64), "{helm}: {deploy:?}");
        let untouched = find(&docs, "Service", "ejabberd").unwrap();
        assert!(untouched["metadata"]["annotations"].is_null());

        // A compile error fails the render; Helm prints nothing.
        let o = rendered(bad.to_str().unwrap());
        assert!(!o.status.success(), "{helm} rendered a broken DSL");
        assert!(o.stdout.is_empty());
        assert!(text(&o.stderr).contains("E001"), "{helm}: {}", text(&o.stderr));
    }
}

/// With no `targets` line the compiler assumes the releases the chart's default images run.
#[test]
fn the_default_images_run_the_compilers_default_releases() {
    use xmpp_compiler::facts::Server;
    let values: Value =
        serde_norway::from_str(&fs::read_to_string(root().join("charts/xmpp/values.yaml")).unwrap()).unwrap();
    for server in Server::ALL {
        let tag = values["image"][server.name()]["tag"].as_str().unwrap();
        assert_eq!(tag, server.default_target().to_string(), "image.{}.tag", server.name());
    }
}

/// The chart's README documents every value in values.yaml: its table is helm-docs' (the ecosystem's
/// tool), written from values.yaml's `# --` comments through README.md.gotmpl (UPDATE_DOCS=1 rewrites
/// README.md), and every leaf of values.yaml has a row.
#[test]
#[ignore = "needs tests/setup: helm-docs"]
fn the_chart_readme_documents_every_value() {
    let o = run(std::process::Command::new(tool("helm-docs"))
        .current_dir(root())
        .args(["--chart-search-root", "charts", "--sort-values-order", "file", "--log-level", "warning"])
        .arg(if std::env::var_os("UPDATE_DOCS").is_some() { "--output-file=README.md" } else { "--dry-run" }));
    assert!(o.status.success() && o.stderr.is_empty(), "helm-docs: {}", text(&o.stderr));
    let readme = fs::read_to_string(root().join("charts/xmpp/README.md")).unwrap();
    if std::env::var_os("UPDATE_DOCS").is_none() {
        assert!(
            readme == text(&o.stdout),
            "charts/xmpp/README.md differs from what helm-docs writes from README.md.gotmpl: edit the template, then run UPDATE_DOCS=1 cargo test --test chart -- --include-ignored readme"
        );
    }
    let keys: Vec<&str> =
        readme.lines().filter_map(|l| l.strip_prefix("| ")?.split(" | ").next()).filter(|k| *k != "Key").collect();
    let parsed: Value =
        serde_norway::from_str(&fs::read_to_string(root().join("charts/xmpp/values.yaml")).unwrap()).unwrap();
    let mut leaves_ = Vec::new();
    leaves(&parsed, "", &mut leaves_);
    for leaf in leaves_ {
        let documented = keys.iter().any(|k| leaf == *k || leaf.starts_with(&format!("{k}.")));
        assert!(
            documented,
            "{leaf} is not documented in charts/xmpp/README.md (a `# --` comment above it in values.yaml)"
        );
    }
}

fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v.as_mapping() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let key = if prefix.is_empty() {
                    k.as_str().unwrap().to_string()
                } else {
                    format!("{prefix}.{}", k.as_str().unwrap())
                };
                leaves(child, &key, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// The chart as a package: `helm package` with both Helms, its metadata for chart hubs (appVersion the
/// default ejabberd release, the Artifact Hub image list the defaults of values.yaml, kubeVersion,
/// sources, maintainers, licence), and the package renders as the folder does.
#[test]
#[ignore = "needs tests/setup: real Helm 3 and 4"]
fn the_chart_packages_with_the_metadata_hubs_read() {
    let chart: Value =
        serde_norway::from_str(&fs::read_to_string(root().join("charts/xmpp/Chart.yaml")).unwrap()).unwrap();
    let values: Value =
        serde_norway::from_str(&fs::read_to_string(root().join("charts/xmpp/values.yaml")).unwrap()).unwrap();
    assert_eq!(chart["appVersion"], values["image"]["ejabberd"]["tag"], "appVersion is the default server release");
    let images: Value =
        serde_norway::from_str(chart["annotations"]["artifacthub.io/images"].as_str().unwrap()).unwrap();
    let want = |part: &Value| format!("{}:{}", part["repository"].as_str().unwrap(), part["tag"].as_str().unwrap());
    let listed: Vec<&str> = images.as_sequence().unwrap().iter().map(|i| i["image"].as_str().unwrap()).collect();
    for part in [
        &values["image"]["ejabberd"],
        &values["image"]["prosody"],
        &values["postgresql"]["image"],
        &values["coturn"]["image"],
    ] {
        assert!(listed.contains(&want(part).as_str()), "{} not in artifacthub.io/images {listed:?}", want(part));
    }
    for key in ["kubeVersion", "home", "sources", "maintainers"] {
        assert!(!chart[key].is_null(), "Chart.yaml has no {key}");
    }
    let tmp = TempDir::new("hx-package").unwrap();
    for helm in ["helm3", "helm4"] {
        let dest = tmp.0.join(helm);
        let o = run(std::process::Command::new(tool(helm))
            .current_dir(root())
            .args(["package", "charts/xmpp", "-d"])
            .arg(&dest));
        assert!(o.status.success(), "{helm} package: {}", text(&o.stderr));
        let package = dest.join(format!("xmpp-{}.tgz", chart["version"].as_str().unwrap()));
        let o = run(std::process::Command::new(tool(helm)).arg("show").arg("chart").arg(&package));
        let shown: Value = serde_norway::from_str(&text(&o.stdout)).unwrap();
        assert_eq!(shown["annotations"], chart["annotations"], "{helm}");
        let o = helm_xmpp(helm, &["render", package.to_str().unwrap(), "-f", "examples/site.xmpp"]);
        assert!(o.status.success(), "{helm} render of the package: {}", text(&o.stderr));
    }
}

/// chart-testing's `ct lint` passes with Helm 3 and Helm 4: Chart.yaml against ct's schema, yamllint over
/// Chart.yaml and values.yaml, and `helm lint` with each `ci/*-values.yaml`, here the values every
/// example compiles to. A values file the chart's schema refuses makes it fail.
#[test]
#[ignore = "needs tests/setup: chart-testing, yamllint, yamale, real Helm 3 and 4"]
fn ct_lint_passes_with_the_values_of_every_example() {
    let tmp = TempDir::new("hx-ct").unwrap();
    let chart = tmp.0.join("charts/xmpp");
    fs::create_dir(tmp.0.join("charts")).unwrap();
    let o = run(std::process::Command::new("cp").arg("-r").arg(root().join("charts/xmpp")).arg(tmp.0.join("charts")));
    assert!(o.status.success(), "{}", text(&o.stderr));
    fs::create_dir(chart.join("ci")).unwrap();
    for example in EXAMPLES {
        let values = chart.join(format!("ci/{example}-values.yaml"));
        let o = run(bin().arg("values").arg(root().join(format!("examples/{example}.xmpp"))).arg("-o").arg(&values));
        assert!(o.status.success(), "{}", text(&o.stderr));
        let mut text_ = fs::read_to_string(&values).unwrap();
        text_.push_str("secrets:\n  existingSecret: xmpp-secrets\n");
        fs::write(&values, text_).unwrap();
    }
    let path = tmp.0.join("path");
    fs::create_dir(&path).unwrap();
    let ct = |helm: &str| {
        let _ = fs::remove_file(path.join("helm"));
        std::os::unix::fs::symlink(tool(helm), path.join("helm")).unwrap();
        let search = format!(
            "{}:{}:{}",
            path.display(),
            venv_tool("yamllint").parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        );
        run(std::process::Command::new(tool("ct"))
            .current_dir(&tmp.0)
            .env("PATH", search)
            .args([
                "lint",
                "--charts",
                "charts/xmpp",
                "--validate-maintainers=false",
                "--check-version-increment=false",
            ])
            .arg("--chart-yaml-schema")
            .arg(tool("../ct/chart_schema.yaml"))
            .arg("--lint-conf")
            .arg(tool("../ct/lintconf.yaml")))
    };
    for helm in HELMS {
        let o = ct(helm);
        let out = text(&o.stdout);
        assert!(o.status.success(), "{helm}: ct lint:\n{out}{}", text(&o.stderr));
        for example in EXAMPLES {
            assert!(out.contains(&format!("ci/{example}-values.yaml")), "{helm}: {example} not linted:\n{out}");
        }
    }
    fs::write(chart.join("ci/bad-values.yaml"), "replicaCount: many\n").unwrap();
    let o = ct("helm4");
    assert!(!o.status.success(), "ct lint passed a values file the schema refuses");
    assert!(text(&o.stdout).contains("replicaCount"), "{}", text(&o.stdout));
}
