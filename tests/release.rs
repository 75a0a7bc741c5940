//! The release archives that `bash release/build` writes into dist/ (tests/run builds them first):
//! what they hold and their checksums, the arm64 binary under user-mode emulation (Debian's
//! qemu-user), and the install hook fetching them from a loopback HTTP server for Helm 3 and Helm 4
//! with cargo out of reach, refusing a tampered one.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn dist() -> PathBuf {
    let dir = std::env::var_os("HELM_XMPP_DIST").map_or_else(|| root().join("dist"), PathBuf::from);
    assert!(dir.join(format!("helm-xmpp-{}-checksums.txt", version())).exists(), "no archives: run bash release/build");
    dir
}

fn archive(arch: &str) -> PathBuf {
    dist().join(format!("helm-xmpp-{}-linux-{arch}.tar.gz", version()))
}

/// Unpacks an archive into a fresh folder (the plugin's folder); returns it.
fn unpack(archive: &Path) -> TempDir {
    let dir = TempDir::new("hx-unpack").unwrap();
    let o = run(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&dir.0));
    assert!(o.status.success(), "{}", text(&o.stderr));
    dir
}

fn sha256(path: &Path) -> String {
    let o = run(Command::new("sha256sum").arg(path));
    text(&o.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
#[ignore = "needs bash release/build (tests/run runs it)"]
fn archives_hold_the_plugin_and_match_their_checksums() {
    let sums = fs::read_to_string(dist().join(format!("helm-xmpp-{}-checksums.txt", version()))).unwrap();
    // ELF's e_machine: 62 x86-64, 183 AArch64.
    for (arch, machine) in [("amd64", 62u16), ("arm64", 183)] {
        let path = archive(arch);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            sums.lines().any(|l| l == format!("{}  {name}", sha256(&path))),
            "{name} not in the checksums:\n{sums}"
        );
        let dir = unpack(&path);
        let plugin = dir.0.clone();
        for file in [
            "plugin.yaml",
            "completion.yaml",
            "LICENSE",
            "README.md",
            "CHANGELOG.md",
            "plugin/install-hook.sh",
            "plugin/postrender/plugin.yaml",
            "plugin/postrender/postrender.sh",
            "completions/helm-xmpp.bash",
            "completions/_helm-xmpp",
            "completions/helm-xmpp.fish",
            "man/helm-xmpp.1",
        ] {
            assert!(plugin.join(file).is_file(), "{name} lacks {file}");
        }
        let elf = fs::read(plugin.join("bin/helm-xmpp")).unwrap();
        assert_eq!(&elf[..4], b"\x7fELF", "{name}");
        assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), machine, "{name}: the binary is for another CPU");
        let manifest = fs::read_to_string(plugin.join("plugin.yaml")).unwrap();
        assert!(manifest.contains(&format!("version: {}\n", version())), "{name}: plugin.yaml's version");
    }
}

#[test]
#[ignore = "needs bash release/build (tests/run runs it) and qemu-user"]
fn the_arm64_binary_compiles_byte_identically_under_emulation() {
    let (amd, arm) = (unpack(&archive("amd64")), unpack(&archive("arm64")));
    let out = TempDir::new("hx-arm64").unwrap();
    for example in ["examples/production.xmpp", "examples/site.xmpp"] {
        let (a, b) = (out.0.join("amd64"), out.0.join("arm64"));
        let o =
            run(Command::new(amd.0.join("bin/helm-xmpp")).current_dir(root()).args(["compile", example, "-o"]).arg(&a));
        assert!(o.status.success(), "{}", text(&o.stderr));
        let o = run(Command::new("qemu-aarch64")
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(arm.0.join("bin/helm-xmpp"))
            .current_dir(root())
            .args(["compile", example, "-o"])
            .arg(&b));
        assert!(o.status.success(), "arm64 under qemu: {}{}", text(&o.stdout), text(&o.stderr));
        for file in ["ejabberd.yml", "prosody.cfg.lua"] {
            assert_eq!(fs::read(a.join(file)).unwrap(), fs::read(b.join(file)).unwrap(), "{example}: {file}");
        }
    }
}

/// `python3 -m http.server` on a free loopback port, serving `dir`; stopped when dropped.
struct Server(Child, u16);

impl Server {
    fn start(dir: &Path) -> Server {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()));
        Server(child, port)
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The plugin as a user's clone has it, without a built binary: its manifest, hooks and completion.
fn plugin_folder() -> TempDir {
    let dir = TempDir::new("hx-plugin-src").unwrap();
    for file in ["plugin.yaml", "completion.yaml", "plugin/install-hook.sh", "plugin/postrender/plugin.yaml"] {
        let to = dir.0.join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(root().join(file), &to).unwrap();
    }
    dir
}

/// A PATH with the usual tools and no cargo, rustup or rustc.
fn path_without_rust() -> String {
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for tool in ["cargo", "rustc", "rustup"] {
        let found = path.split(':').find(|d| Path::new(d).join(tool).exists());
        assert!(found.is_none(), "{tool} is in {}: the test could not keep it away", found.unwrap());
    }
    path.to_string()
}

/// `helm plugin install` of a clone (no binary) with the release URL on `server` and no cargo on PATH;
/// the outcome, and the clone.
fn install_from(helm: &Helm, server: &Server) -> (std::process::Output, TempDir) {
    let plugin = plugin_folder();
    let o = run(helm
        .cmd()
        .env("PATH", path_without_rust())
        .env("HELM_XMPP_RELEASE_URL", server.url())
        .args(["plugin", "install"])
        .arg(&plugin.0));
    (o, plugin)
}

fn install_from_a_release(helm_name: &str) {
    let server = Server::start(&dist());
    let helm = Helm::new(helm_name);
    let (o, _plugin) = install_from(&helm, &server);
    assert!(o.status.success(), "{helm_name} plugin install: {}{}", text(&o.stdout), text(&o.stderr));
    let said = text(&o.stderr) + &text(&o.stdout);
    assert!(said.contains("sha256 checked"), "{helm_name}: {said}");
    let o = run(helm.cmd().env("PATH", path_without_rust()).args([
        "xmpp",
        "render",
        "charts/xmpp",
        "-f",
        "examples/site.xmpp",
    ]));
    assert!(o.status.success(), "{helm_name} xmpp render: {}", text(&o.stderr));
    assert!(text(&o.stdout).contains("ejabberd.yml"), "{helm_name}: no compiled config in the manifests");

    // Straight from the archive's URL: Helm unpacks it, the binary is in it, the hook has nothing to fetch.
    let helm = Helm::new(helm_name);
    let url = format!("{}/{}", server.url(), archive("amd64").file_name().unwrap().to_str().unwrap());
    let mut install = helm.cmd();
    install
        .env("PATH", path_without_rust())
        .env("HELM_XMPP_RELEASE_URL", server.url())
        .args(["plugin", "install", &url]);
    if helm_name == "helm4" {
        install.arg("--verify=false"); // the archive has no provenance file (.prov) to check
    }
    let o = run(&mut install);
    assert!(o.status.success(), "{helm_name} plugin install {url}: {}{}", text(&o.stdout), text(&o.stderr));
    let o = run(helm.cmd().env("PATH", path_without_rust()).args(["xmpp", "check", "examples/minimal.xmpp"]));
    assert!(o.status.success(), "{helm_name} xmpp check: {}", text(&o.stderr));
}

fn a_tampered_archive_is_refused(helm_name: &str) {
    let served = TempDir::new("hx-tampered").unwrap();
    let name = format!("helm-xmpp-{}-linux-amd64.tar.gz", version());
    let mut bytes = fs::read(archive("amd64")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs::write(served.0.join(&name), bytes).unwrap();
    let sums = format!("helm-xmpp-{}-checksums.txt", version());
    fs::copy(dist().join(&sums), served.0.join(&sums)).unwrap();
    let server = Server::start(&served.0);
    let helm = Helm::new(helm_name);
    let (o, plugin) = install_from(&helm, &server);
    assert!(!o.status.success(), "{helm_name} installed a tampered archive");
    let said = text(&o.stderr) + &text(&o.stdout);
    assert!(said.contains(&format!("refusing {}/{name}: its sha256 is", server.url())), "{helm_name}: {said}");
    assert!(!plugin.0.join("bin/helm-xmpp").exists(), "{helm_name}: a binary was put in place");
    let o = run(helm.cmd().args(["plugin", "list"]));
    assert!(
        !text(&o.stdout).lines().any(|l| l.starts_with("xmpp")),
        "{helm_name} lists the plugin:\n{}",
        text(&o.stdout)
    );

    // An update (the hook as Helm runs it on `helm plugin update`) to a next version whose archive is
    // tampered fails and changes nothing: the plugin stays, with the binary it had.
    let good = Server::start(&dist());
    let helm = Helm::new(helm_name);
    let (o, plugin) = install_from(&helm, &good);
    assert!(o.status.success(), "{helm_name}: {}", text(&o.stderr));
    // Helm links a local folder into its plugins folder under the folder's own name.
    let entry = helm.home.0.join("data/plugins").join(plugin.0.file_name().unwrap());
    assert!(entry.join("bin/helm-xmpp").exists(), "{helm_name}: the plugin is not at {}", entry.display());
    let binary = fs::read(plugin.0.join("bin/helm-xmpp")).unwrap();
    let next = "99.0.0";
    let manifest = fs::read_to_string(plugin.0.join("plugin.yaml")).unwrap();
    fs::write(
        plugin.0.join("plugin.yaml"),
        manifest.replace(&format!("version: {}", version()), &format!("version: {next}")),
    )
    .unwrap();
    let names = |v: &str| (format!("helm-xmpp-{v}-linux-amd64.tar.gz"), format!("helm-xmpp-{v}-checksums.txt"));
    let ((tampered, sums), (next_archive, next_sums)) = (names(&version()), names(next));
    fs::rename(served.0.join(&tampered), served.0.join(&next_archive)).unwrap();
    let listed = fs::read_to_string(served.0.join(&sums)).unwrap().replace(&tampered, &next_archive);
    fs::write(served.0.join(&next_sums), listed).unwrap();
    let o = run(Command::new(plugin.0.join("plugin/install-hook.sh"))
        .arg("update")
        .env("PATH", path_without_rust())
        .env("HELM_PLUGIN_DIR", &entry)
        .env("HELM_DATA_HOME", helm.home.0.join("data"))
        .env("HELM_XMPP_RELEASE_URL", server.url()));
    let said = text(&o.stderr);
    assert!(!o.status.success(), "{helm_name}: the update took a tampered archive: {said}");
    assert!(said.contains("nothing was changed"), "{helm_name}: {said}");
    assert!(entry.exists(), "{helm_name}: a refused update removed the plugin");
    assert_eq!(fs::read(plugin.0.join("bin/helm-xmpp")).unwrap(), binary, "{helm_name}: the binary changed");
}

#[test]
#[ignore = "needs bash release/build (tests/run runs it) and tests/setup's Helms"]
fn helm_3_installs_the_archive_for_its_platform_and_refuses_a_tampered_one() {
    install_from_a_release("helm3");
    a_tampered_archive_is_refused("helm3");
}

#[test]
#[ignore = "needs bash release/build (tests/run runs it) and tests/setup's Helms"]
fn helm_4_installs_the_archive_for_its_platform_and_refuses_a_tampered_one() {
    install_from_a_release("helm4");
    a_tampered_archive_is_refused("helm4");
}

/// The CI recipe (ci/xmpp-check) on a folder of good and bad files, its archive from a loopback server,
/// cargo out of reach: every diagnostic as FILE:LINE:COL, the good files compiled, exit 1, one SARIF log.
#[test]
#[ignore = "needs bash release/build (tests/run runs it)"]
fn the_ci_recipe_checks_every_file_of_a_repository() {
    let server = Server::start(&dist());
    let repo = TempDir::new("hx-ci-repo").unwrap();
    fs::create_dir_all(repo.0.join("sites/common")).unwrap();
    fs::copy(root().join("examples/minimal.xmpp"), repo.0.join("sites/minimal.xmpp")).unwrap();
    fs::copy(root().join("tests/diagnostics/bad_env_name.xmpp"), repo.0.join("sites/bad env.xmpp")).unwrap();
    fs::copy(root().join("tests/diagnostics/upload_signed_with_a_literal_key.xmpp"), repo.0.join("literal.xmpp"))
        .unwrap();
    let o = run(Command::new(root().join("ci/xmpp-check"))
        .arg(&repo.0)
        .env("PATH", path_without_rust())
        .env("HELM_XMPP_RELEASE_URL", server.url())
        .env("HELM_XMPP_FUEL", "2000000000")
        .env_remove("GITHUB_ACTIONS"));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    for line in [
        "sites/bad env.xmpp:4:46: error E013: `db-pass` is not an environment variable name; try \"DB_PASS\"",
        "literal.xmpp:3:28: error E014:",
        "sites/minimal.xmpp: ok",
    ] {
        assert!(out.lines().any(|l| l.starts_with(line)), "no `{line}` in:\n{out}");
    }
    let log: serde_json::Value = serde_json::from_slice(&fs::read(repo.0.join("helm-xmpp.sarif")).unwrap()).unwrap();
    assert_eq!(log["runs"].as_array().unwrap().len(), 3);
    // A tampered archive stops the recipe before it runs anything.
    let served = TempDir::new("hx-ci-tampered").unwrap();
    for entry in fs::read_dir(dist()).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, served.0.join(p.file_name().unwrap())).unwrap();
    }
    let mut bytes = fs::read(archive("amd64")).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 1;
    fs::write(served.0.join(archive("amd64").file_name().unwrap()), bytes).unwrap();
    let tampered = Server::start(&served.0);
    let o = run(Command::new(root().join("ci/xmpp-check")).arg(&repo.0).env("HELM_XMPP_RELEASE_URL", tampered.url()));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("refusing helm-xmpp-"), "{}", text(&o.stderr));
}
