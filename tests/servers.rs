//! Real servers on loopback: Debian's ejabberd and Prosody, started with the configs that
//! helm-xmpp generates (never hand-written ones), checked, and always stopped.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const DOMAIN: &str = "chat.test";

/// The unpacked bookworm-backports tree (tests/setup).
fn backports() -> PathBuf {
    let base =
        std::env::var_os("HELM_XMPP_SERVERS").map_or_else(|| PathBuf::from("/opt/helm-xmpp/servers"), PathBuf::from);
    let root = base.join("root");
    assert!(root.join("usr/sbin/ejabberdctl").exists(), "{} is missing: run tests/setup", root.display());
    root
}

/// ejabberd releases under test: (version, ejabberdctl).
fn ejabberds() -> Vec<(&'static str, PathBuf)> {
    vec![("23.01", PathBuf::from("/usr/sbin/ejabberdctl")), ("24.12", backports().join("usr/sbin/ejabberdctl"))]
}

/// Prosody releases under test: (version, prosody, prosodyctl).
fn prosodies() -> Vec<(&'static str, PathBuf, PathBuf)> {
    let new = backports();
    vec![
        ("0.12", PathBuf::from("/usr/bin/prosody"), PathBuf::from("/usr/bin/prosodyctl")),
        ("13.0", new.join("usr/bin/prosody"), new.join("usr/bin/prosodyctl")),
    ]
}

/// The oldest version of `server` an example's `targets` line allows (none: every version).
fn target_min(dsl: &str, server: &str) -> Option<(u32, u32)> {
    let line = dsl.lines().find(|l| l.trim_start().starts_with("targets"))?;
    let after = line.split(server).nth(1)?.trim_start().strip_prefix(">=")?.trim_start();
    let version: String = after.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    Some((parts.next()?, parts.next().unwrap_or(0)))
}

fn allows(dsl: &str, server: &str, version: &str) -> bool {
    let Some(min) = target_min(dsl, server) else {
        // No line: the compiler's default release and later. A line without this server: none.
        let no_line = !dsl.lines().any(|l| l.trim_start().starts_with("targets"));
        let default = xmpp_compiler::facts::Server::ALL.into_iter().find(|s| s.name() == server);
        let default = default
            .map(|s| s.default_target())
            .and_then(|v| xmpp_compiler::facts::Version::parse(version).map(|t| t >= v));
        return no_line && default.unwrap_or(false);
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= min
}

/// Secret values the tests hand the servers through the environment.
const TEST_SECRETS: &[(&str, &str)] = &[
    ("XMPP_DB_PASSWORD", "db-s3cret-for-tests"),
    ("TURN_SECRET", "turn-s3cret-for-tests"),
    ("LDAP_PASSWORD", "ldap-s3cret-for-tests"),
    ("XMPP_UPLOAD_KEY", "upload-s3cret-for-tests"),
];

/// The value the tests hand the servers for the secret `name`.
fn test_secret(name: &str) -> &'static str {
    TEST_SECRETS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap()
}

/// An example adapted to this machine: its listeners on free loopback ports, a test certificate,
/// and the secrets folder in the test's own folder. Returns the DSL and the client port.
fn adapt(example: &str, dir: &Path, db_port: u16) -> (String, u16, String) {
    let domain = example
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("domain \"")?.split('"').next())
        .unwrap_or(DOMAIN)
        .to_string();
    let (crt, key) = certificate(dir, &domain);
    let mut client = 0;
    let mut out = String::new();
    for line in example.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"listen") && words.len() >= 3 {
            let port = free_port();
            if words[1] == "client" && client == 0 && !line.contains("direct") {
                client = port;
            }
            let rest = line.splitn(4, ' ').nth(3).unwrap_or("");
            out.push_str(&format!("listen {} {port} on 127.0.0.1 {rest}\n", words[1]));
        } else if line.contains("proxy \"proxy\" { port 7777 }") {
            let proxy = format!("proxy \"proxy\" {{ port {}; address \"127.0.0.1\" }}", free_port());
            out.push_str(&line.replace("proxy \"proxy\" { port 7777 }", &proxy));
            out.push('\n');
        } else {
            out.push_str(&rewrite(line, &crt, &key, db_port));
            out.push('\n');
        }
    }
    out.push_str(&format!("secrets-dir \"{}\"\n", dir.display()));
    // Included files get the same certificate and database.
    for e in fs::read_dir(dir.join("common")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "xmpp") {
            let t: String =
                fs::read_to_string(&p).unwrap().lines().map(|l| rewrite(l, &crt, &key, db_port) + "\n").collect();
            fs::write(&p, t).unwrap();
        }
    }
    // ejabberd < 24.12 reads secrets from this macros file, which the chart writes in a pod.
    let macros: String = TEST_SECRETS.iter().map(|(k, v)| format!("  {k}: \"{v}\"\n")).collect();
    fs::write(dir.join("ejabberd-secrets.yml"), format!("define_macro:\n{macros}")).unwrap();
    (out, client, domain)
}

/// The examples, and a file without `targets` that keeps its data in PostgreSQL (the compiler's
/// default releases must be ones that run it: no option newer than the chart's default images).
fn examples() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xmpp"))
        .chain([root().join("tests/chart/dsl/no-targets.xmpp")])
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), fs::read_to_string(&p).unwrap()))
        .collect();
    all.sort();
    all
}

/// A line with the certificate paths and the database address of this machine.
fn rewrite(line: &str, crt: &Path, key: &Path, db_port: u16) -> String {
    line.replace("/etc/xmpp/tls/tls.crt", &crt.display().to_string())
        .replace("/etc/xmpp/tls/tls.key", &key.display().to_string())
        .replace("host \"postgres-rw\"", "host \"127.0.0.1\"")
        .replace("port 5432", &format!("port {db_port}"))
}

/// Whether the example (or a file it includes) keeps its data in PostgreSQL.
fn needs_db(source: &str) -> bool {
    source.contains("storage postgres")
        || source.lines().filter_map(|l| l.trim().strip_prefix("include \"")?.split('"').next()).any(|inc| {
            fs::read_to_string(root().join("examples").join(inc)).is_ok_and(|t| t.contains("storage postgres"))
        })
}

/// Copies the examples' included files (`examples/common/`) beside the adapted copy, so `include` resolves.
fn copy_includes(dir: &Path) {
    let common = dir.join("common");
    fs::create_dir_all(&common).unwrap();
    for e in fs::read_dir(root().join("examples/common")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, common.join(p.file_name().unwrap())).unwrap();
    }
}

/// An example adapted to this machine in a folder of its own, with a database when it uses one.
struct Prepared {
    tmp: TempDir,
    path: PathBuf,
    client: u16,
    domain: String,
    db: Option<Postgres>,
}

fn prepare(name: &str, source: &str) -> Prepared {
    let tmp = TempDir::new("hx-example").unwrap();
    copy_includes(&tmp.0);
    let db = needs_db(source).then(|| Postgres::start("xmpp", "xmpp", test_secret("XMPP_DB_PASSWORD")));
    let (dsl, client, domain) = adapt(source, &tmp.0, db.as_ref().map_or(5432, |d| d.port));
    let path = tmp.0.join(format!("{name}.xmpp"));
    fs::write(&path, dsl).unwrap();
    Prepared { tmp, path, client, domain, db }
}

/// Every example whose targets allow a release makes that ejabberd start and accept clients.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn every_example_starts_ejabberd() {
    let mut ran = 0;
    for (name, source) in examples() {
        for (version, ctl) in ejabberds() {
            if !allows(&source, "ejabberd", version) {
                continue;
            }
            let Prepared { tmp, path, client, domain, db: _db } = prepare(&name, &source);
            let out = tmp.0.join("out");
            compile_into(&path, &out);
            fs::copy(out.join("ejabberd.yml"), tmp.0.join("ejabberd.yml")).unwrap();
            eprintln!("{name} on ejabberd {version}");
            let node = Ejabberd::start(&ctl, &tmp.0);
            let status = run(node.ctl().arg("status"));
            assert!(status.status.success(), "{name} on ejabberd {version}: {}", text(&status.stdout));
            assert!(text(&status.stdout).contains(&format!("ejabberd {version}")), "{}", text(&status.stdout));
            let features = stream_features(client, &domain).unwrap();
            assert!(features.contains("<starttls"), "{name} on ejabberd {version}: {features}");
            ran += 1;
        }
    }
    assert!(ran >= 4, "only {ran} example runs");
}

/// The ejabberd.yml Debian ships with each release, imported (`helm-xmpp import`), compiled, and run by
/// that release's ejabberd, in a network namespace of its own (the config's ports are fixed ones).
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn imported_debian_configs_start_ejabberd() {
    for (version, ctl) in ejabberds() {
        let shipped = match version {
            "23.01" => PathBuf::from("/etc/ejabberd/ejabberd.yml"),
            _ => backports().join("usr/share/ejabberd/ejabberd.yml.example"),
        };
        let tmp = TempDir::new("hx-imported").unwrap();
        let dsl = tmp.0.join("imported.xmpp");
        let o = run(bin().arg("import").arg(&shipped).arg("-o").arg(&dsl));
        assert!(o.status.success(), "import {}: {}", shipped.display(), text(&o.stderr));
        let out = tmp.0.join("out");
        compile_into(&dsl, &out);
        fs::copy(out.join("ejabberd.yml"), tmp.0.join("ejabberd.yml")).unwrap();
        let netns = Netns::new("hximp", &[]);
        let node = Ejabberd::start_in(&ctl, &tmp.0, Some(&netns));
        let status = run(node.ctl().arg("status"));
        assert!(text(&status.stdout).contains(&format!("ejabberd {version}")), "{}", text(&status.stdout));
        let o = run(node.ctl().args(["register", "alice", "localhost", "imported-pw"]));
        assert!(
            o.status.success(),
            "{version}: register on the imported config: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        assert!(netns.listening("127.0.0.1", 5222) || netns.listening("::1", 5222), "{version}: nothing on 5222");
    }
}

/// The prosody.cfg.lua Debian ships with each release, imported (`helm-xmpp import`), compiled, checked
/// and run by that release with an account registered, in a network namespace of its own (the
/// config's ports are fixed ones). Its `Include "conf.d/*.cfg.lua"` finds an empty folder.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn imported_debian_configs_start_prosody() {
    for (version, prosody, prosodyctl) in prosodies() {
        let shipped = match version {
            "0.12" => PathBuf::from("/etc/prosody/prosody.cfg.lua"),
            _ => backports().join("etc/prosody/prosody.cfg.lua"),
        };
        let tmp = TempDir::new("hx-imported-prosody").unwrap();
        let dsl = tmp.0.join("imported.xmpp");
        let o = run(bin().arg("import").arg(&shipped).arg("-o").arg(&dsl));
        assert!(o.status.success(), "import {}: {}", shipped.display(), text(&o.stderr));
        compile_into(&dsl, &tmp.0);
        fs::create_dir_all(tmp.0.join("conf.d")).unwrap();
        let netns = Netns::new("hximpp", &[]);
        let what = format!("Debian's config imported, on prosody {version}");
        let users = [("alice", "localhost", "imported-pw")];
        let server = Prosody::start_in(&prosody, &prosodyctl, &tmp.0, ("127.0.0.1", 5222), &what, &users, Some(&netns));
        assert!(netns.listening("127.0.0.1", 5269), "{what}: nothing on 5269");
        drop(server);
    }
}

/// Every example whose targets allow a release passes that Prosody's `check config` and starts it.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn every_example_checks_and_starts_prosody() {
    let mut ran = 0;
    for (name, source) in examples() {
        for (version, prosody, prosodyctl) in prosodies() {
            if !allows(&source, "prosody", version) {
                continue;
            }
            let Prepared { tmp, path, client, domain, db: _db } = prepare(&name, &source);
            compile_into(&path, &tmp.0);
            let server = Prosody::start(&prosody, &prosodyctl, &tmp.0, client, &format!("{name} on prosody {version}"));
            let features = stream_features(client, &domain).unwrap();
            assert!(features.contains("<starttls"), "{name} on prosody {version}: {features}");
            drop(server);
            ran += 1;
        }
    }
    assert!(ran >= 4, "only {ran} example runs");
}

/// The loopback listeners of one server under test.
struct Ports {
    client: u16,
    federation: u16,
    http: u16,
}

impl Ports {
    fn free() -> Ports {
        Ports { client: free_port(), federation: free_port(), http: free_port() }
    }
}

/// The DSL under test: the bundled example's features on loopback ports with a test certificate.
fn site(dir: &Path, ports: &Ports, targets: &str) -> PathBuf {
    let (crt, key) = certificate(dir, DOMAIN);
    let dsl = format!(
        r#"targets {targets}
log info
domain "{DOMAIN}" {{
  admins admin
  certificate "{crt}" key "{key}"
  archive {{ default roster }}
}}
listen client {c2s} on 127.0.0.1 {{ tls required }}
listen federation {s2s} on 127.0.0.1 {{ tls required }}
listen http {http} on 127.0.0.1 {{
  websocket "/xmpp-websocket"
  bosh "/http-bind"
  api "/api" allow 127.0.0.1/8
}}
"#,
        crt = crt.display(),
        key = key.display(),
        c2s = ports.client,
        s2s = ports.federation,
        http = ports.http,
    );
    let path = dir.join("site.xmpp");
    fs::write(&path, dsl).unwrap();
    path
}

/// An ejabberd node in its own folder; stopped (and its logs printed on failure) when dropped.
struct Ejabberd {
    dir: PathBuf,
    ctl: PathBuf,
    /// The network namespace it runs in, if not the machine's.
    netns: Option<String>,
}

impl Ejabberd {
    fn ctl(&self) -> Command {
        let mut c = command_in(self.netns.as_deref(), &self.ctl);
        c.arg("--config-dir").arg(&self.dir).env_remove("EJABBERD_CONFIG_PATH");
        c
    }

    fn start(ctl: &Path, dir: &Path) -> Ejabberd {
        Ejabberd::start_in(ctl, dir, None)
    }

    fn start_in(ctl: &Path, dir: &Path, netns: Option<&Netns>) -> Ejabberd {
        let node = format!("hx{}", free_port());
        let dist = free_port();
        fs::create_dir_all(dir.join("spool")).unwrap();
        fs::create_dir_all(dir.join("logs")).unwrap();
        fs::copy("/etc/ejabberd/inetrc", dir.join("inetrc")).unwrap();
        fs::write(
            dir.join("ejabberdctl.cfg"),
            format!(
                "ERLANG_NODE={node}@localhost\nERL_DIST_PORT={dist}\nINET_DIST_INTERFACE=127.0.0.1\n\
                 ERL_OPTIONS=\"-setcookie {node}cookie\"\nEJABBERD_PID_PATH={d}/ejabberd.pid\n\
                 SPOOL_DIR={d}/spool\nLOGS_DIR={d}/logs\n",
                d = dir.display()
            ),
        )
        .unwrap();
        chown(dir, "ejabberd");
        let e = Ejabberd { dir: dir.to_path_buf(), ctl: ctl.to_path_buf(), netns: netns.map(|n| n.name.clone()) };
        let mut start = e.ctl();
        for (k, v) in TEST_SECRETS {
            start.env(format!("EJABBERD_MACRO_{k}"), v);
        }
        let out = run(start.arg("start"));
        assert!(out.status.success(), "ejabberdctl start failed: {}{}", text(&out.stdout), text(&out.stderr));
        // Poll `status` rather than `ejabberdctl started`, which waits out its whole timeout on a failed start.
        let up = wait_until(Duration::from_secs(60), || {
            run(e.ctl().arg("status")).status.success() || e.logs().contains("[critical]")
        });
        assert!(up && !e.logs().contains("[critical]"), "ejabberd did not start: {}", e.logs());
        e
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["ejabberd.log", "error.log", "crash.log"] {
            if let Ok(t) = fs::read_to_string(self.dir.join("logs").join(f)) {
                s.push_str(&format!("--- {f}\n{t}"));
            }
        }
        s
    }
}

/// After a server has stopped: its logs when the test failed, else the check that no secret value the
/// tests supply appears in them (asserted last, so a failing check never leaves the server running).
fn after_stop(what: &str, logs: &str) {
    if std::thread::panicking() {
        eprintln!("{what} logs:\n{logs}");
        return;
    }
    for (name, value) in TEST_SECRETS {
        assert!(!logs.contains(value), "{what}: the value of {name} is in the logs:\n{logs}");
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        let _ = self.ctl().arg("stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.ctl().arg("stopped").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Ok(pid) = fs::read_to_string(self.dir.join("ejabberd.pid")) {
            let _ = Command::new("kill").arg("-9").arg(pid.trim()).stderr(Stdio::null()).status();
        }
        after_stop("ejabberd", &self.logs());
    }
}

#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn ejabberd_23_01_runs_the_generated_config_and_answers_the_admin_api() {
    let tmp = TempDir::new("hx-ejabberd").unwrap();
    let ports = Ports::free();
    let dsl = site(&tmp.0, &ports, "ejabberd >= 23.01");
    compile_into(&dsl, &tmp.0);
    assert!(!tmp.0.join("prosody.cfg.lua").exists(), "prosody was not a target");

    let node = Ejabberd::start(Path::new("/usr/sbin/ejabberdctl"), &tmp.0);
    let status = run(node.ctl().arg("status"));
    assert!(status.status.success(), "status failed: {}", text(&status.stdout));
    assert!(text(&status.stdout).contains("ejabberd 23.01"), "{}", text(&status.stdout));

    let (code, body) = http(ports.http, "POST", "/api/status", "{}").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("is started"), "{body}");
    let (code, body) = http(ports.http, "POST", "/api/registered_users", &format!(r#"{{"host":"{DOMAIN}"}}"#)).unwrap();
    assert_eq!((code, body.as_str()), (200, "[]"));
    // `stop` is excluded from what the allow-listed callers may run.
    let (code, body) = http(ports.http, "POST", "/api/stop", "{}").unwrap();
    assert_eq!(code, 403, "{body}");

    let features = stream_features(ports.client, DOMAIN).unwrap();
    assert!(features.contains("<starttls") && features.contains("<required/>"), "{features}");
    let (code, _) = http(ports.http, "GET", "/http-bind", "").unwrap();
    assert_eq!(code, 200, "BOSH answers on its path");
}

/// A Prosody process in the foreground; killed (and its log printed on failure) when dropped.
struct Prosody {
    child: Child,
    log: PathBuf,
}

impl Prosody {
    /// Checks the generated `dir/prosody.cfg.lua` and starts it as the prosody user, with data and pid
    /// in `dir` (set by a wrapper that includes the generated file), and waits for the client port.
    fn start(prosody: &Path, prosodyctl: &Path, dir: &Path, client: u16, what: &str) -> Prosody {
        Prosody::start_with_users(prosody, prosodyctl, dir, client, what, &[])
    }

    /// As `start`, with accounts `(user, domain, password)` registered before the server starts.
    fn start_with_users(
        prosody: &Path,
        prosodyctl: &Path,
        dir: &Path,
        client: u16,
        what: &str,
        users: &[(&str, &str, &str)],
    ) -> Prosody {
        Prosody::start_in(prosody, prosodyctl, dir, ("127.0.0.1", client), what, users, None)
    }

    /// As `start_with_users`, in a network namespace when one is given, with the client port on `ip`.
    /// There the domains' addresses come from its hosts file, as DNS would give them elsewhere.
    fn start_in(
        prosody: &Path,
        prosodyctl: &Path,
        dir: &Path,
        (ip, client): (&str, u16),
        what: &str,
        users: &[(&str, &str, &str)],
        netns: Option<&Netns>,
    ) -> Prosody {
        let config = dir.join("prosody.cfg.lua");
        let mut check = Command::new(prosodyctl);
        check.arg("--config").arg(&config).args(["check", "config"]);
        for (k, v) in TEST_SECRETS {
            check.env(k, v);
        }
        let check = run(&mut check);
        assert!(
            check.status.success(),
            "{what}: prosodyctl check config failed:\n{}{}",
            text(&check.stdout),
            text(&check.stderr)
        );
        fs::create_dir_all(dir.join("data")).unwrap();
        let wrapper = dir.join("run.cfg.lua");
        fs::write(
            &wrapper,
            format!(
                "data_path = \"{d}/data\"\n{hosts}Include \"{}\"\n\
                 -- The chart's modules, from the checkout rather than where the chart mounts them; the pid\n\
                 -- file here whatever the config says (Debian's own puts it in /run/prosody).\n\
                 plugin_paths = {{ \"{}\" }}\npidfile = \"{d}/prosody.pid\"\n",
                config.display(),
                root().join("charts/xmpp/files").display(),
                d = dir.display(),
                hosts = if netns.is_some() { "unbound = { hoststxt = true }\n" } else { "" },
            ),
        )
        .unwrap();
        chown(dir, "prosody");
        for (user, domain, password) in users {
            let mut reg = Command::new("runuser");
            reg.args(["-u", "prosody", "--"]).arg(prosodyctl).arg("--config").arg(&wrapper);
            reg.args(["register", user, domain, password]);
            for (k, v) in TEST_SECRETS {
                reg.env(k, v);
            }
            let o = run(&mut reg);
            assert!(o.status.success(), "{what}: prosodyctl register failed: {}{}", text(&o.stdout), text(&o.stderr));
        }
        let log = dir.join("prosody.log");
        let mut cmd = command_in(netns.map(|n| n.name.as_str()), "runuser");
        cmd.args(["-u", "prosody", "--"]).arg(prosody).args(["-F", "--config"]).arg(&wrapper);
        for (k, v) in TEST_SECRETS {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::from(fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .unwrap();
        let server = Prosody { child, log };
        let up = || match netns {
            Some(ns) => ns.listening(ip, client),
            None => std::net::TcpStream::connect((ip, client)).is_ok(),
        };
        assert!(
            wait_until(Duration::from_secs(15), up),
            "{what}: prosody does not accept connections on its client port"
        );
        let started = fs::read_to_string(&server.log).unwrap_or_default();
        assert!(!started.contains("Unable to load module"), "{what}: a module failed to load:\n{started}");
        server
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        if !wait_until(Duration::from_secs(5), || self.child.try_wait().ok().flatten().is_some()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        after_stop("prosody", &fs::read_to_string(&self.log).unwrap_or_default());
    }
}

#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn prosody_0_12_checks_and_runs_the_generated_config() {
    let tmp = TempDir::new("hx-prosody").unwrap();
    let ports = Ports::free();
    let dsl = site(&tmp.0, &ports, "prosody >= 0.12");
    compile_into(&dsl, &tmp.0);
    assert!(!tmp.0.join("ejabberd.yml").exists(), "ejabberd was not a target");
    let server = Prosody::start(Path::new("prosody"), Path::new("prosodyctl"), &tmp.0, ports.client, "site");
    let features = stream_features(ports.client, DOMAIN).unwrap();
    assert!(features.contains("<starttls") && features.contains("<required/>"), "{features}");
    let (code, _) = http(ports.http, "GET", "/http-bind", "").unwrap();
    assert_eq!(code, 200, "BOSH answers on its path");
    drop(server);
}

// ---------------------------------------------------------------- client scenarios

const PASSWORD: &str = "client-pass-4-tests";
const USERS: &[&str] = &["alice", "bob", "carol", "admin"];

/// The DSL the client scenarios run against: every feature they exercise, on loopback.
fn client_site(dir: &Path, targets: &str, v: &Variant, ports: &ClientPorts, db: Option<u16>) -> PathBuf {
    client_site_with_api(dir, targets, v, ports, "127.0.0.1/8", db)
}

/// What one server run of the client site varies, and the SASL mechanism a client is then led to
/// over TLS 1.2 (where slixmpp can bind to the channel).
struct Variant {
    registration: &'static str,
    auth: String,
    sasl: &'static str,
    /// The accounts live in an LDAP directory: none are registered with the server.
    ldap: bool,
}

impl Variant {
    /// The main run: open registration, and the strongest SCRAM each server offers, with `-PLUS`.
    fn open(server: &str) -> Variant {
        let (hash, sasl) = if server.starts_with("ejabberd") {
            ("sha-512", "SCRAM-SHA-512-PLUS")
        } else {
            ("sha-256", "SCRAM-SHA-256-PLUS")
        };
        Variant { registration: "open", auth: format!("auth internal {{ scram {hash} }}"), sasl, ldap: false }
    }

    /// Registration closed, and SCRAM's default hash, SHA-1.
    fn closed() -> Variant {
        Variant { registration: "closed", auth: "auth internal".into(), sasl: "SCRAM-SHA-1-PLUS", ldap: false }
    }

    /// On PostgreSQL: SHA-256 with channel binding.
    fn sql() -> Variant {
        Variant {
            registration: "open",
            auth: "auth sql { scram sha-256 }".into(),
            sasl: "SCRAM-SHA-256-PLUS",
            ldap: false,
        }
    }

    /// The accounts in an LDAP directory: the server only checks passwords there (SASL PLAIN, over TLS).
    fn ldap(ldap: &Slapd) -> Variant {
        let auth = format!(
            "auth ldap {{ server \"127.0.0.1\"; port {}; base \"ou=people,{s}\"; bind \"cn=admin,{s}\"; password env(\"LDAP_PASSWORD\") }}",
            ldap.port,
            s = ldap.suffix
        );
        Variant { registration: "closed", auth, sasl: "PLAIN", ldap: true }
    }
}

/// The loopback ports of the client site: STARTTLS, plain HTTP (TLS ends in front), HTTPS, and the
/// file-transfer proxy.
struct ClientPorts {
    client: u16,
    http: u16,
    https: u16,
    proxy: u16,
    /// Where the TURN server the DSL names listens (no one, unless a test started coturn there).
    turn: u16,
}

impl ClientPorts {
    fn free() -> ClientPorts {
        let [client, http, https, proxy, turn] = free_ports();
        ClientPorts { client, http, https, proxy, turn }
    }
}

fn client_site_with_api(
    dir: &Path,
    targets: &str,
    v: &Variant,
    ports: &ClientPorts,
    allow: &str,
    db: Option<u16>,
) -> PathBuf {
    let storage = db.map_or(String::new(), |port| {
        format!(
            "storage postgres {{ host \"127.0.0.1\"; port {port}; database \"xmpp\"; user \"xmpp\"; password env(\"XMPP_DB_PASSWORD\") }}\n"
        )
    });
    let macros: String = TEST_SECRETS.iter().map(|(k, v)| format!("  {k}: \"{v}\"\n")).collect();
    fs::write(dir.join("ejabberd-secrets.yml"), format!("define_macro:\n{macros}")).unwrap();
    let (crt, key) = certificate(dir, DOMAIN);
    let dsl = format!(
        r#"targets {targets}
domain "{DOMAIN}" {{
  admins admin
  certificate "{crt}" key "{key}"
  registration {registration}
  profile modern
  groupchat "conference" {{ archive on; create anyone }}
  upload "upload" {{ max-size 10MB }}
  proxy "proxy" {{ port {proxy}; address "127.0.0.1" }}
}}
turn "turn.{DOMAIN}" {{ secret env("TURN_SECRET"); port {turn} }}
listen client {client} on 127.0.0.1 {{ tls required }}
listen http {http} on 127.0.0.1 {{
  tls terminated
  websocket "/xmpp-websocket"
  bosh "/http-bind"
  api "/api" allow {allow}
}}
listen http {https} on 127.0.0.1 {{
  tls direct
  upload "/upload"
}}
secrets-dir "{d}"
{auth}
{storage}"#,
        registration = v.registration,
        auth = v.auth,
        crt = crt.display(),
        key = key.display(),
        d = dir.display(),
        client = ports.client,
        http = ports.http,
        https = ports.https,
        proxy = ports.proxy,
        turn = ports.turn,
    );
    let path = dir.join("clients.xmpp");
    fs::write(&path, dsl).unwrap();
    path
}

/// `(scenario, ok, detail)`.
type Outcome = (String, bool, String);
/// A column of the matrix: a server (and storage), and its outcomes.
type Column = (String, Vec<Outcome>);

/// Runs tests/clients/scenarios.py (slixmpp) and returns the outcome of each scenario.
fn scenarios(dir: &Path, ports: &ClientPorts, v: &Variant, only: Option<&str>) -> Vec<Outcome> {
    let python = tool("../venv/bin/python");
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tests/clients/scenarios.py"))
        .args(["--port", &ports.client.to_string(), "--domain", DOMAIN, "--password", PASSWORD])
        .args(["--muc", &format!("conference.{DOMAIN}"), "--upload", &format!("upload.{DOMAIN}")])
        .args(["--proxy", &format!("proxy.{DOMAIN}"), "--turn-secret", test_secret("TURN_SECRET")])
        .args(["--registration", v.registration, "--sasl", v.sasl, "--http", &ports.http.to_string()])
        .arg("--ca")
        .arg(dir.join("ca.crt"));
    if let Some(only) = only {
        cmd.args(["--only", only]);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "scenarios.py failed: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["scenario"].as_str().unwrap().to_string(),
                v["ok"].as_bool().unwrap(),
                v["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// One server run: compile the client site, start the server, register the users, run the scenarios.
fn client_run(server: &str, sql: bool, v: &Variant, only: Option<&str>, turn: &Coturn) -> Vec<Outcome> {
    let tmp = TempDir::new("hx-clients").unwrap();
    let ports = ClientPorts { turn: turn.port, ..ClientPorts::free() };
    let (name, version) = server.split_once(' ').unwrap();
    let targets = format!("{name} >= {version}");
    let db = sql.then(|| Postgres::start("xmpp", "xmpp", test_secret("XMPP_DB_PASSWORD")));
    let dsl = client_site(&tmp.0, &targets, v, &ports, db.as_ref().map(|d| d.port));
    compile_into(&dsl, &tmp.0);
    if name == "ejabberd" {
        if let (Some(db), true) = (&db, version == "23.01") {
            // 23.01 cannot create its schema (update_sql_schema came in 23.10): load it as an operator would.
            db.psql(&["-d", "xmpp", "-c", "SET ROLE xmpp", "-f", "/usr/share/ejabberd/sql/pg.new.sql"]);
        }
        let ctl = ejabberds().into_iter().find(|(v, _)| *v == version).unwrap().1;
        let node = Ejabberd::start(&ctl, &tmp.0);
        for user in USERS.iter().filter(|_| !v.ldap) {
            let o = run(node.ctl().args(["register", user, DOMAIN, PASSWORD]));
            assert!(o.status.success(), "register {user}: {}", text(&o.stdout));
        }
        let results = scenarios(&tmp.0, &ports, v, only);
        stored_in_sql(db.as_ref(), "SELECT count(*) FROM archive", server);
        results
    } else {
        let (_, prosody, prosodyctl) = prosodies().into_iter().find(|(v, _, _)| *v == version).unwrap();
        let users: Vec<(&str, &str, &str)> = USERS.iter().filter(|_| !v.ldap).map(|u| (*u, DOMAIN, PASSWORD)).collect();
        let _server = Prosody::start_with_users(&prosody, &prosodyctl, &tmp.0, ports.client, server, &users);
        let results = scenarios(&tmp.0, &ports, v, only);
        stored_in_sql(db.as_ref(), "SELECT count(*) FROM prosodyarchive", server);
        results
    }
}

/// With SQL storage, the archived messages really are in PostgreSQL.
fn stored_in_sql(db: Option<&Postgres>, count: &str, server: &str) {
    if let Some(db) = db {
        let rows: u64 = db.psql(&["-d", "xmpp", "-tAc", count]).trim().parse().unwrap_or(0);
        assert!(rows > 0, "{server}: `{count}` found no rows: the archive is not in PostgreSQL");
    }
}

/// Every scenario on every server release: the DSL's promises, checked with a real client library.
/// Writes the matrix to docs/compatibility.md.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn client_scenarios_work_on_every_server() {
    let servers = ["ejabberd 23.01", "ejabberd 24.12", "prosody 0.12", "prosody 13.0"];
    let users: Vec<(&str, &str)> = USERS.iter().map(|u| (*u, PASSWORD)).collect();
    let directory = Slapd::start("dc=chat,dc=test", test_secret("LDAP_PASSWORD"), &users);
    let turn = Coturn::start(DOMAIN, test_secret("TURN_SECRET"));
    // A server's two columns: internal storage (open, closed and LDAP sites), and SQL.
    let columns = |server: &str| -> Vec<Column> {
        let mut results = client_run(server, false, &Variant::open(server), None, &turn);
        let closed = client_run(server, false, &Variant::closed(), Some("registration,sasl"), &turn);
        results.extend(closed.into_iter().map(|(n, ok, d)| (format!("{n}-closed"), ok, d)));
        let ldap = client_run(server, false, &Variant::ldap(&directory), Some("sasl,password-refused,message"), &turn);
        results.extend(ldap.into_iter().map(|(n, ok, d)| (format!("{n}-ldap"), ok, d)));
        vec![
            (server.to_string(), results),
            (format!("{server} SQL"), client_run(server, true, &Variant::sql(), None, &turn)),
        ]
    };
    // Two lanes side by side, an ejabberd and a Prosody release each: about half the time, and no more
    // servers at once than the two cores keep up with.
    let lanes = [[servers[0], servers[2]], [servers[1], servers[3]]];
    let mut done: Vec<(&str, Vec<Column>)> = std::thread::scope(|s| {
        let running: Vec<_> = lanes
            .iter()
            .map(|lane| s.spawn(|| lane.iter().map(|server| (*server, columns(server))).collect::<Vec<_>>()))
            .collect();
        running.into_iter().flat_map(|lane| lane.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    done.sort_by_key(|(server, _)| servers.iter().position(|s| s == server));
    let matrix: Vec<Column> = done.into_iter().flat_map(|(_, cols)| cols).collect();
    let doc = compatibility_doc(&matrix);
    fs::write(root().join("docs/compatibility.md"), &doc).unwrap();
    let failures: Vec<String> = matrix
        .iter()
        .flat_map(|(server, rs)| rs.iter().filter(|r| !r.1).map(move |r| format!("{server}: {} — {}", r.0, r.2)))
        .collect();
    assert!(failures.is_empty(), "failed cells:\n{}", failures.join("\n"));
}

fn compatibility_doc(matrix: &[Column]) -> String {
    let mut doc = String::from(
        "# Compatibility matrix\n\nGenerated by `tests/servers.rs` (`client_scenarios_work_on_every_server`) from a real run:\n\
         each scenario is a slixmpp client against the server started with the config helm-xmpp compiled from\n\
         the same DSL, with internal storage or (columns marked SQL) PostgreSQL 15. Rows ending `-closed` ran\n\
         against the same site with registration closed and SCRAM's default hash (SHA-1); rows ending `-ldap`\n\
         with the accounts in a real OpenLDAP (`auth ldap`); `turn` against a real coturn; `sasl` over TLS 1.2,\n\
         where the client can bind to the channel. ✅ works, ❌ failed (the detail says why), — not run in\n\
         that column.\n\n| scenario |",
    );
    for (server, _) in matrix {
        doc.push_str(&format!(" {server} |"));
    }
    doc.push_str("\n|---|");
    for _ in matrix {
        doc.push_str("---|");
    }
    doc.push('\n');
    let names: Vec<String> = matrix.first().map(|(_, rs)| rs.iter().map(|r| r.0.clone()).collect()).unwrap_or_default();
    for name in names {
        doc.push_str(&format!("| {name} |"));
        for (_, rs) in matrix {
            let cell = rs.iter().find(|r| r.0 == name).map_or("—".to_string(), |r| {
                let detail = r.2.replace('|', "/");
                if r.1 { format!("✅ {detail}") } else { format!("❌ {detail}") }
            });
            doc.push_str(&format!(" {cell} |"));
        }
        doc.push('\n');
    }
    doc
}

// ---------------------------------------------------------------- the admin API, with Hurl

/// Runs Hurl files against a node's API; panics with Hurl's report when any fails.
fn hurl(files: &[PathBuf], http: u16, what: &str) {
    let o = run(Command::new(tool("../hurl/bin/hurl"))
        .arg("--test")
        .args(["--variable", &format!("api=http://127.0.0.1:{http}/api")])
        .args(["--variable", &format!("host={DOMAIN}")])
        .args(["--variable", &format!("muc=conference.{DOMAIN}")])
        .args(files));
    assert!(o.status.success(), "{what}: hurl failed:\n{}{}", text(&o.stdout), text(&o.stderr));
    eprintln!(
        "{what}: {}",
        text(&o.stderr)
            .lines()
            .filter(|l| l.contains("Executed") || l.contains("Succeeded"))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

fn ejabberd_with_api(version: &str, allow: &str) -> (TempDir, Ejabberd, u16) {
    let tmp = TempDir::new("hx-hurl").unwrap();
    let ports = ClientPorts::free();
    let dsl = client_site_with_api(&tmp.0, &format!("ejabberd >= {version}"), &Variant::closed(), &ports, allow, None);
    compile_into(&dsl, &tmp.0);
    let ctl = ejabberds().into_iter().find(|(v, _)| *v == version).unwrap().1;
    let node = Ejabberd::start(&ctl, &tmp.0);
    let o = run(node.ctl().args(["register", "admin", DOMAIN, PASSWORD]));
    assert!(o.status.success(), "{}", text(&o.stdout));
    (tmp, node, ports.http)
}

/// The Hurl suite in tests/hurl/ passes on both ejabberd releases, and a caller outside the
/// allow-list is refused.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn hurl_suite_passes_on_ejabberd_23_01_and_24_12() {
    let mut suite: Vec<PathBuf> = fs::read_dir(root().join("tests/hurl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hurl"))
        .collect();
    suite.sort();
    assert!(suite.len() >= 5);
    for (version, _) in ejabberds() {
        let (_tmp, _node, http) = ejabberd_with_api(version, "127.0.0.1/8");
        hurl(&suite, http, &format!("ejabberd {version}"));
        drop((_node, _tmp));
        // The same API with an allow-list that leaves the caller (127.0.0.1) out.
        let (_tmp, _node, http) = ejabberd_with_api(version, "10.0.0.0/8");
        hurl(&[root().join("tests/hurl/outside/refused.hurl")], http, &format!("ejabberd {version}, outside"));
    }
}

/// Signed uploads (`upload … { signed env(…) }`), as an ejabberd cluster needs them: ejabberd keeps
/// no slot but signs each PUT URL; the chart's upload service (charts/xmpp/files/ejabberd-upload.escript,
/// run here as in the pod: by the ejabberd user, on ejabberd's docroot) checks the signature, writes
/// the file and serves it, and so does ejabberd from the same folder.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn signed_uploads_are_taken_and_served_by_the_upload_service() {
    for (version, ctl) in ejabberds() {
        let tmp = TempDir::new("hx-signed").unwrap();
        let ports = ClientPorts::free();
        let site = client_site(&tmp.0, &format!("ejabberd >= {version}"), &Variant::closed(), &ports, None);
        let dsl = fs::read_to_string(&site).unwrap().replace(
            "upload \"upload\" { max-size 10MB }",
            "upload \"upload\" { max-size 10MB; signed env(\"XMPP_UPLOAD_KEY\") }",
        );
        fs::write(&site, dsl).unwrap();
        compile_into(&site, &tmp.0);
        let node = Ejabberd::start(&ctl, &tmp.0);
        let o = run(node.ctl().args(["register", "alice", DOMAIN, PASSWORD]));
        assert!(o.status.success(), "register alice: {}", text(&o.stdout));
        let put = free_port();
        let service = UploadService(
            Command::new("runuser")
                .args(["-u", "ejabberd", "--", "env", &format!("XMPP_UPLOAD_KEY={}", test_secret("XMPP_UPLOAD_KEY"))])
                .arg("escript")
                .arg(root().join("charts/xmpp/files/ejabberd-upload.escript"))
                .args([&put.to_string(), "/var/lib/ejabberd/upload", "/upload", "env:XMPP_UPLOAD_KEY"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", put)).is_ok()));
        let out = run(Command::new(tool("../venv/bin/python"))
            .arg(root().join("tests/clients/scenarios.py"))
            .args(["--port", &ports.client.to_string(), "--domain", DOMAIN, "--password", PASSWORD])
            .args(["--upload", &format!("upload.{DOMAIN}"), "--put-port", &put.to_string()])
            .arg("--ca")
            .arg(tmp.0.join("ca.crt"))
            .args(["--only", "signed-upload"]));
        drop(service);
        let line = text(&out.stdout);
        assert!(line.contains("\"ok\": true"), "ejabberd {version}: {line}{}", text(&out.stderr));
    }
}

/// The upload service alone against hostile requests (tests/clients/upload_service.py): forged,
/// stale and missing signatures, paths that would leave the docroot, chunked and short bodies,
/// garbage; nothing written but the signed file.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn the_upload_service_refuses_hostile_requests() {
    let tmp = TempDir::new("hx-upload-service").unwrap();
    let docroot = tmp.0.join("docroot");
    fs::create_dir(&docroot).unwrap();
    let port = free_port();
    let _service = UploadService(
        Command::new("escript")
            .arg(root().join("charts/xmpp/files/ejabberd-upload.escript"))
            .args([&port.to_string(), docroot.to_str().unwrap(), "/upload", "env:HX_UPLOAD_KEY"])
            .env("HX_UPLOAD_KEY", "k3y")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()));
    let out = run(Command::new(tool("../venv/bin/python"))
        .arg(root().join("tests/clients/upload_service.py"))
        .args(["--port", &port.to_string(), "--key", "k3y", "--docroot"])
        .arg(&docroot));
    let report = text(&out.stdout);
    assert!(out.status.success() && report.lines().count() > 20, "{report}{}", text(&out.stderr));
    let failed: Vec<&str> = report.lines().filter(|l| !l.contains("\"ok\": true")).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The upload service, stopped when dropped.
struct UploadService(Child);

impl Drop for UploadService {
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-P", &self.0.id().to_string()]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A deliberately broken config (upload on, but no http listener serving it) is stopped by the
/// compiler: nothing is written, so no server could be started with it.
#[test]
fn a_broken_config_never_reaches_a_server() {
    let tmp = TempDir::new("hx-broken").unwrap();
    let good =
        client_site(&tmp.0, "ejabberd >= 23.01, prosody >= 0.12", &Variant::closed(), &ClientPorts::free(), None);
    let broken = fs::read_to_string(&good).unwrap().replace("  upload \"/upload\"\n", "");
    fs::write(&good, broken).unwrap();
    let out = tmp.0.join("out");
    let o = run(bin().arg("compile").arg(&good).arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error[E017]: `upload` needs an http listener"), "{}", text(&o.stderr));
    assert!(!out.join("ejabberd.yml").exists() && !out.join("prosody.cfg.lua").exists());
}

// ---------------------------------------------------------------- federation

/// One side of a federation test: a domain on its own loopback address inside the namespace.
struct Side {
    domain: &'static str,
    ip: &'static str,
    client: u16,
}

/// The DSL of one side: its certificate from the test CA, STARTTLS for clients and peers, and the
/// federation listener's `verify` (and `trust` when the peers' CA is named).
fn federation_site(
    dir: &Path,
    target: &str,
    side: &Side,
    cert: &(PathBuf, PathBuf),
    verify: &str,
    trust: Option<&Path>,
) -> PathBuf {
    let trust = trust.map_or(String::new(), |ca| format!("; trust \"{}\"", ca.display()));
    let dsl = format!(
        "targets {target}\ndomain \"{d}\" {{\n  certificate \"{crt}\" key \"{key}\"\n}}\n\
         listen client {c} on {ip} {{ tls required }}\n\
         listen federation 5269 on {ip} {{ tls required; verify {verify}{trust} }}\n",
        d = side.domain,
        crt = cert.0.display(),
        key = cert.1.display(),
        c = side.client,
        ip = side.ip,
    );
    let path = dir.join("federation.xmpp");
    fs::write(&path, dsl).unwrap();
    path
}

/// An ejabberd domain and a Prosody domain federate over STARTTLS, certificates from one test CA, in
/// a network namespace whose hosts file stands in for DNS: with `verify certificate` and the CA named
/// by `trust`, a message crosses each way (SASL EXTERNAL); `verify certificate` without the CA
/// trusted federates nothing; `verify dialback` without it does (dialback). Both pairs of releases.
#[test]
#[ignore = "needs tests/setup: real ejabberd, Prosody, PostgreSQL, Hurl, slixmpp"]
fn ejabberd_and_prosody_federate_as_the_dsl_says() {
    let a = Side { domain: "a.test", ip: "127.0.0.2", client: 5222 };
    let b = Side { domain: "b.test", ip: "127.0.0.3", client: 5222 };
    let netns = Netns::new("hx-fed", &[(a.ip, a.domain), (b.ip, b.domain)]);
    let pairs = [("23.01", "0.12"), ("24.12", "13.0")];
    let cases: [(&str, bool, bool); 3] =
        [("certificate", true, true), ("certificate", false, false), ("dialback", false, true)];
    let mut failures = Vec::new();
    for (ejabberd, prosody) in pairs {
        for (verify, trusted, federates) in cases {
            let what = format!("ejabberd {ejabberd} ⇄ prosody {prosody}, verify {verify}, CA trusted: {trusted}");
            let (ta, tb) = (TempDir::new("hx-fed-a").unwrap(), TempDir::new("hx-fed-b").unwrap());
            let ca = TestCa::new(&ta.0);
            fs::copy(&ca.crt, tb.0.join("ca.crt")).unwrap();
            // Each side's config, compiled into its folder, with a certificate for its domain.
            let compiled = |dir: &TempDir, target: String, side: &Side| {
                let trust = trusted.then(|| dir.0.join("ca.crt"));
                let cert = ca.issue(&dir.0, side.domain);
                compile_into(&federation_site(&dir.0, &target, side, &cert, verify, trust.as_deref()), &dir.0);
            };
            compiled(&ta, format!("ejabberd >= {ejabberd}"), &a);
            compiled(&tb, format!("prosody >= {prosody}"), &b);
            let ctl = ejabberds().into_iter().find(|(v, _)| *v == ejabberd).unwrap().1;
            let node = Ejabberd::start_in(&ctl, &ta.0, Some(&netns));
            let o = run(node.ctl().args(["register", "alice", a.domain, PASSWORD]));
            assert!(o.status.success(), "{what}: register alice: {}", text(&o.stdout));
            let (_, bin, ctl) = prosodies().into_iter().find(|(v, _, _)| *v == prosody).unwrap();
            let users = [("bob", b.domain, PASSWORD)];
            let server = Prosody::start_in(&bin, &ctl, &tb.0, (b.ip, b.client), &what, &users, Some(&netns));
            let out = run(netns
                .command(tool("../venv/bin/python"))
                .arg(root().join("tests/clients/scenarios.py"))
                .args(["--host", a.ip, "--port", &a.client.to_string(), "--domain", a.domain, "--password", PASSWORD])
                .args(["--peer", &format!("{}:{}:{}", b.domain, b.ip, b.client), "--only", "federation"])
                .arg("--ca")
                .arg(&ca.crt));
            let line = text(&out.stdout);
            let ok = line.contains("\"ok\": true");
            eprintln!("{what}: {}", line.trim());
            if ok != federates {
                failures.push(format!("{what}: expected federation {federates}, got {}", line.trim()));
            }
            drop((server, node));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
