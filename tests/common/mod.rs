//! Helpers shared by the integration tests: the built binary, free loopback ports, temporary
//! folders, processes that are always stopped, and a bare-bones HTTP client for loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stdout)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A temporary folder (`tempfile`), removed when dropped; `.0` is its path. Readable by all (mode
/// 0755, as a folder made with `mkdir`), since the servers under test run as users of their own.
#[derive(Debug)]
pub struct TempDir(pub PathBuf, tempfile::TempDir);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .permissions(PermissionsExt::from_mode(0o755))
            .tempdir()?;
        Ok(TempDir(dir.path().to_path_buf(), dir))
    }
}

/// The `helm-xmpp` binary cargo built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_helm-xmpp"))
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs a command, returning its output; panics with its stderr if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Starts a command with its three standard streams piped to the test.
pub fn piped(cmd: &mut Command) -> std::process::Child {
    use std::process::Stdio;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port that was free on 127.0.0.1 a moment ago (see [`free_ports`]).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct loopback ports that were free a moment ago, each handed out once in this process.
/// They come from below the kernel's ephemeral range (32768 and up), which outgoing connections take
/// their local ports from: a port the kernel chose (`bind` to port 0) could go to another test's client
/// before the server meant to listen on it starts. A counter walks 20000–31999 from a start that
/// differs between processes, skipping ports something listens on.
pub fn free_ports<const N: usize>() -> [u16; N] {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    std::array::from_fn(|_| {
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            assert!(n < SPAN, "no free loopback port left below the ephemeral range");
            let port = (FIRST + (start + n) % SPAN) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        }
    })
}

/// Where tests/setup puts the tools it builds.
pub fn tool(name: &str) -> PathBuf {
    let cache = std::env::var_os("HELM_XMPP_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
        base.join("helm-xmpp")
    });
    let path = cache.join("bin").join(name);
    assert!(path.exists(), "{} is missing: run tests/setup first", path.display());
    path
}

/// A Helm binary from tests/setup (`helm3`, `helm4`) with its own plugin, config, data and cache
/// folders, run from the repository root.
pub struct Helm {
    pub bin: PathBuf,
    pub home: TempDir,
}

impl Helm {
    pub fn new(name: &str) -> Helm {
        Helm { bin: tool(name), home: TempDir::new(&format!("hx-{name}")).unwrap() }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        let h = &self.home.0;
        c.current_dir(root())
            // Helm 4.2.4 installs local plugins under $HELM_DATA_HOME/plugins whatever HELM_PLUGINS says.
            .env_remove("HELM_PLUGINS")
            .env("HELM_DATA_HOME", h.join("data"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_CACHE_HOME", h.join("cache"))
            // The install hook builds from this checkout rather than fetch a release from the network.
            .env("HELM_XMPP_RELEASE_URL", "none");
        c
    }
}

/// The documents of a multi-document YAML stream (empty ones left out).
pub fn documents(yaml: &str) -> Vec<serde_norway::Value> {
    use serde::Deserialize as _;
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Polls `ready` until it is true or `limit` passes.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// One HTTP/1.0 request to 127.0.0.1; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

/// Opens an XMPP client stream and returns what the server answers first (its stream features).
pub fn stream_features(port: u16, domain: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    write!(
        s,
        "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams'>"
    )?;
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(10) && !text(&got).contains("</stream:features>") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(text(&got))
}

/// A certificate authority of the tests' own: `ca.crt` in its folder is what clients trust.
pub struct TestCa {
    pub crt: PathBuf,
    key: PathBuf,
}

impl TestCa {
    pub fn new(dir: &Path) -> TestCa {
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let out = run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=helm-xmpp test CA"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt));
        assert!(out.status.success(), "openssl failed: {}", text(&out.stderr));
        TestCa { crt, key }
    }

    /// A server certificate for `domain` and its services (`*.domain`), as `dir/DOMAIN.crt` and
    /// `dir/DOMAIN.key`; good for both TLS server and client use (federation authenticates both ends).
    pub fn issue(&self, dir: &Path, domain: &str) -> (PathBuf, PathBuf) {
        let (crt, key, csr) =
            (dir.join(format!("{domain}.crt")), dir.join(format!("{domain}.key")), dir.join(format!("{domain}.csr")));
        let ext = dir.join(format!("{domain}.ext"));
        fs::write(
            &ext,
            format!("subjectAltName=DNS:{domain},DNS:*.{domain}\nextendedKeyUsage=serverAuth,clientAuth\n"),
        )
        .unwrap();
        let req = run(Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .arg(format!("/CN={domain}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr));
        assert!(req.status.success(), "openssl failed: {}", text(&req.stderr));
        let sign = run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&self.crt)
            .arg("-CAkey")
            .arg(&self.key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&crt));
        assert!(sign.status.success(), "openssl failed: {}", text(&sign.stderr));
        (crt, key)
    }
}

/// A certificate for `domain` (and `*.domain`) from a fresh test CA in `dir` (`dir/ca.crt`).
pub fn certificate(dir: &Path, domain: &str) -> (PathBuf, PathBuf) {
    TestCa::new(dir).issue(dir, domain)
}

/// Gives `path` (recursively) to a system user, so a server running as that user can use it.
pub fn chown(path: &Path, user: &str) {
    let out = run(Command::new("chown").arg("-R").arg(format!("{user}:")).arg(path));
    assert!(out.status.success(), "chown failed: {}", text(&out.stderr));
}

/// `helm-xmpp compile FILE` run from the repository root (FILE relative to it, as the headers name
/// it), into a fresh folder.
pub fn compiled(file: &str) -> TempDir {
    let out = TempDir::new("hx-compiled").unwrap();
    let o = run(bin().current_dir(root()).arg("compile").arg(file).arg("-o").arg(&out.0));
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

/// Compiles `dsl` with the built binary into `dir`; panics with the diagnostics on failure.
pub fn compile_into(dsl: &Path, dir: &Path) {
    let out = run(bin().arg("compile").arg(dsl).arg("-o").arg(dir));
    assert!(out.status.success(), "compile failed:\n{}", text(&out.stderr));
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 cluster of its own on a free loopback port, as the postgres user; stopped when dropped.
pub struct Postgres {
    pub port: u16,
    dir: TempDir,
}

impl Postgres {
    /// Starts a cluster with database `db` owned by `user` (password `password`).
    pub fn start(db: &str, user: &str, password: &str) -> Postgres {
        let dir = TempDir::new("hx-postgres").unwrap();
        let port = free_port();
        chown(&dir.0, "postgres");
        let as_pg = |args: &[&str]| {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        };
        let data = dir.0.join("data");
        let data_s = data.display().to_string();
        // Trust on the private socket (the superuser sets up), passwords over TCP (the servers log in).
        let initdb = format!("{PG_BIN}/initdb");
        let o = run(&mut as_pg(&[&initdb, "-D", &data_s, "--auth-local=trust", "--auth-host=scram-sha-256"]));
        assert!(o.status.success(), "initdb failed: {}", text(&o.stderr));
        let sock = dir.0.display().to_string();
        let opts = format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1");
        let log = format!("{}/postgres.log", dir.0.display());
        let o = run(&mut as_pg(&[&format!("{PG_BIN}/pg_ctl"), "-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"]));
        assert!(o.status.success(), "pg_ctl start failed: {}{}", text(&o.stdout), text(&o.stderr));
        let pg = Postgres { port, dir };
        pg.sql(&format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"));
        pg.sql(&format!("CREATE DATABASE {db} OWNER {user}"));
        pg
    }

    /// Runs SQL as the superuser over the cluster's socket.
    pub fn sql(&self, statement: &str) {
        self.psql(&["-c", statement]);
    }

    /// Runs psql as the superuser with extra arguments.
    pub fn psql(&self, args: &[&str]) -> String {
        let o = run(Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir.0)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres"])
            .args(args));
        assert!(o.status.success(), "psql {args:?} failed: {}", text(&o.stderr));
        text(&o.stdout)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.0.join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl"), "-D"])
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// An OpenLDAP server (Debian's slapd) of its own on a free loopback port, as the openldap user,
/// holding `ou=people,SUFFIX` with one `inetOrgPerson` per user; stopped when dropped. Searching
/// needs a bind (as `cn=admin,SUFFIX`): anonymous callers may only authenticate.
pub struct Slapd {
    pub port: u16,
    pub suffix: String,
    _daemon: Daemon,
    dir: TempDir,
}

impl Slapd {
    /// `users`: `(uid, password)`; `admin_password` is the bind DN's.
    pub fn start(suffix: &str, admin_password: &str, users: &[(&str, &str)]) -> Slapd {
        let dir = TempDir::new("hx-slapd").unwrap();
        let port = free_port();
        fs::create_dir_all(dir.0.join("db")).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\n\
             database mdb\nmaxsize 16777216\nsuffix \"{suffix}\"\nrootdn \"cn=admin,{suffix}\"\nrootpw {pw}\n\
             directory {d}/db\naccess to attrs=userPassword by anonymous auth by * none\n\
             access to * by users read by anonymous auth\n",
            d = dir.0.display(),
            pw = ssha(admin_password),
        );
        fs::write(dir.0.join("slapd.conf"), conf).unwrap();
        chown(&dir.0, "openldap");
        let child = Command::new("/usr/sbin/slapd")
            .args(["-d", "0", "-u", "openldap", "-g", "openldap", "-h"])
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .arg("-f")
            .arg(dir.0.join("slapd.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(dir.0.join("slapd.log")).unwrap())
            .spawn()
            .unwrap();
        let slapd = Slapd { port, suffix: suffix.to_string(), _daemon: Daemon(child), dir };
        assert!(
            wait_until(Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "slapd does not listen: {}",
            fs::read_to_string(slapd.dir.0.join("slapd.log")).unwrap_or_default()
        );
        let dc = suffix.split(',').next().and_then(|p| p.strip_prefix("dc=")).unwrap_or("test");
        let mut ldif = format!(
            "dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\no: helm-xmpp tests\ndc: {dc}\n\n\
             dn: ou=people,{suffix}\nobjectClass: organizationalUnit\nou: people\n"
        );
        for (uid, password) in users {
            ldif.push_str(&format!(
                "\ndn: uid={uid},ou=people,{suffix}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
                 userPassword: {}\n",
                ssha(password)
            ));
        }
        let mut add = piped(
            Command::new("ldapadd")
                .args(["-x", "-H", &format!("ldap://127.0.0.1:{port}/"), "-D", &format!("cn=admin,{suffix}")])
                .args(["-w", admin_password]),
        );
        add.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = add.wait_with_output().unwrap();
        assert!(out.status.success(), "ldapadd failed: {}{}", text(&out.stdout), text(&out.stderr));
        slapd
    }
}

/// A salted SHA-1 password hash as slapd stores it (`{SSHA}…`), from slappasswd.
fn ssha(password: &str) -> String {
    let o = run(Command::new("slappasswd").args(["-s", password]));
    assert!(o.status.success(), "slappasswd failed: {}", text(&o.stderr));
    text(&o.stdout).trim().to_string()
}

/// A server process in the foreground, killed when dropped.
pub struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's coturn on a free loopback port, as the turnserver user, checking time-limited
/// credentials against a shared secret (the TURN REST scheme that XEP-0215 servers hand out);
/// stopped when dropped.
pub struct Coturn {
    pub port: u16,
    _daemon: Daemon,
    _dir: TempDir,
}

impl Coturn {
    pub fn start(realm: &str, secret: &str) -> Coturn {
        let dir = TempDir::new("hx-coturn").unwrap();
        let port = free_port();
        // The secret in a config file the server reads, not on a command line anyone may list.
        let conf = dir.0.join("turnserver.conf");
        fs::write(&conf, format!("use-auth-secret\nstatic-auth-secret={secret}\nrealm={realm}\n")).unwrap();
        chown(&dir.0, "turnserver");
        let child = Command::new("/usr/bin/turnserver")
            .arg("-c")
            .arg(&conf)
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--listening-port", &port.to_string()])
            .args(["--min-port", "49200", "--max-port", "49400", "--no-tls", "--no-dtls", "--no-cli"])
            .args(["--allow-loopback-peers", "--log-file", "stdout", "--simple-log"])
            .args(["--proc-user", "turnserver", "--proc-group", "turnserver"])
            .stdout(fs::File::create(dir.0.join("turnserver.log")).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let log = dir.0.join("turnserver.log");
        let coturn = Coturn { port, _daemon: Daemon(child), _dir: dir };
        // It listens on TCP and UDP alike: TCP says when it is up.
        let ready = wait_until(Duration::from_secs(15), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(ready, "coturn did not start: {}", fs::read_to_string(log).unwrap_or_default());
        coturn
    }
}

/// A network namespace of the test's own, with only its loopback up, and its own `/etc/hosts` and
/// `/etc/resolv.conf` (`ip netns exec` lays `/etc/netns/NAME/*` over `/etc`): names resolve to the
/// loopback addresses given, and a DNS query goes to its own 127.0.0.1, where nothing answers. Nothing
/// inside can reach any other address. Removed when dropped (stop what runs inside first).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(prefix: &str, hosts: &[(&str, &str)]) -> Netns {
        let name = format!("{prefix}-{}", std::process::id());
        let etc = PathBuf::from("/etc/netns").join(&name);
        fs::create_dir_all(&etc).unwrap();
        let mut table = String::from("127.0.0.1 localhost\n");
        for (ip, host) in hosts {
            table.push_str(&format!("{ip} {host}\n"));
        }
        fs::write(etc.join("hosts"), table).unwrap();
        fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let netns = Netns { name };
        for args in [&["netns", "add", &netns.name][..], &["-n", &netns.name, "link", "set", "lo", "up"]] {
            let o = run(Command::new("ip").args(args));
            assert!(o.status.success(), "ip {args:?}: {}", text(&o.stderr));
        }
        netns
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(Some(&self.name), program)
    }

    /// Whether something inside accepts TCP connections on `ip:port`.
    pub fn listening(&self, ip: &str, port: u16) -> bool {
        let probe = format!("exec 3<>/dev/tcp/{ip}/{port}");
        run(self.command("bash").args(["-c", &probe])).status.success()
    }
}

/// `program` run inside the network namespace named, or on the machine's network without one.
pub fn command_in(netns: Option<&str>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match netns {
        Some(name) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", name]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = fs::remove_dir_all(PathBuf::from("/etc/netns").join(&self.name));
    }
}
