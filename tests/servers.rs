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
    let (crt, key) = self_signed(dir, DOMAIN);
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
}

impl Ejabberd {
    fn ctl(&self) -> Command {
        let mut c = Command::new(&self.ctl);
        c.arg("--config-dir").arg(&self.dir).env_remove("EJABBERD_CONFIG_PATH");
        c
    }

    fn start(ctl: &Path, dir: &Path) -> Ejabberd {
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
        let e = Ejabberd { dir: dir.to_path_buf(), ctl: ctl.to_path_buf() };
        let out = run(e.ctl().arg("start"));
        assert!(out.status.success(), "ejabberdctl start failed: {}{}", text(&out.stdout), text(&out.stderr));
        let out = run(e.ctl().arg("started"));
        assert!(out.status.success(), "ejabberd did not start: {}", e.logs());
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

impl Drop for Ejabberd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("ejabberd logs:\n{}", self.logs());
        }
        let _ = self.ctl().arg("stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.ctl().arg("stopped").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Ok(pid) = fs::read_to_string(self.dir.join("ejabberd.pid")) {
            let _ = Command::new("kill").arg("-9").arg(pid.trim()).stderr(Stdio::null()).status();
        }
    }
}

#[test]
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

impl Drop for Prosody {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("prosody log:\n{}", fs::read_to_string(&self.log).unwrap_or_default());
        }
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        if !wait_until(Duration::from_secs(5), || self.child.try_wait().ok().flatten().is_some()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn prosody_0_12_checks_and_runs_the_generated_config() {
    let tmp = TempDir::new("hx-prosody").unwrap();
    let ports = Ports::free();
    let dsl = site(&tmp.0, &ports, "prosody >= 0.12");
    compile_into(&dsl, &tmp.0);
    assert!(!tmp.0.join("ejabberd.yml").exists(), "ejabberd was not a target");
    let config = tmp.0.join("prosody.cfg.lua");

    let check = run(Command::new("prosodyctl").arg("--config").arg(&config).args(["check", "config"]));
    assert!(check.status.success(), "prosodyctl check config failed:\n{}{}", text(&check.stdout), text(&check.stderr));

    // Where the data and pid go is the operator's choice (the chart's): a wrapper includes the generated file.
    fs::create_dir_all(tmp.0.join("data")).unwrap();
    let wrapper = tmp.0.join("run.cfg.lua");
    fs::write(
        &wrapper,
        format!(
            "data_path = \"{d}/data\"\npidfile = \"{d}/prosody.pid\"\nInclude \"{}\"\n",
            config.display(),
            d = tmp.0.display()
        ),
    )
    .unwrap();
    chown(&tmp.0, "prosody");
    let log = tmp.0.join("prosody.log");
    let child = Command::new("runuser")
        .args(["-u", "prosody", "--", "prosody", "-F", "--config"])
        .arg(&wrapper)
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::from(fs::File::options().append(true).open(&log).unwrap()))
        .spawn()
        .unwrap();
    let server = Prosody { child, log };

    assert!(
        wait_until(Duration::from_secs(15), || std::net::TcpStream::connect(("127.0.0.1", ports.client)).is_ok()),
        "prosody does not accept connections on its client port"
    );
    let features = stream_features(ports.client, DOMAIN).unwrap();
    assert!(features.contains("<starttls") && features.contains("<required/>"), "{features}");
    let (code, _) = http(ports.http, "GET", "/http-bind", "").unwrap();
    assert_eq!(code, 200, "BOSH answers on its path");
    drop(server);
}
