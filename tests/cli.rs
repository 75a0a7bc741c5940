//! The `helm-xmpp` binary as a black box: its outputs, diagnostics and exit codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Compiles every example and compares with `tests/golden/<example>/`; `UPDATE_GOLDEN=1` rewrites them.
#[test]
fn examples_compile_to_their_golden_files() {
    let mut seen = 0;
    for entry in fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "xmpp") {
            continue;
        }
        seen += 1;
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let out = TempDir::new("hx-golden").unwrap();
        let relative = format!("examples/{name}.xmpp");
        let o = run(bin().current_dir(root()).arg("compile").arg(&relative).arg("-o").arg(&out.0));
        assert!(o.status.success(), "{relative}: {}", text(&o.stderr));
        let golden = root().join("tests/golden").join(&name);
        for file in ["ejabberd.yml", "prosody.cfg.lua"] {
            let got = fs::read_to_string(out.0.join(file)).unwrap_or_default();
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                fs::create_dir_all(&golden).unwrap();
                fs::write(golden.join(file), &got).unwrap();
            }
            let want = fs::read_to_string(golden.join(file)).unwrap_or_default();
            assert!(got == want, "{relative} → {file} differs from tests/golden/{name}/{file}:\n{got}");
        }
    }
    assert!(seen > 0, "no examples found");
}

#[test]
fn the_same_input_gives_byte_identical_files() {
    let (a, b) = (TempDir::new("hx-a").unwrap(), TempDir::new("hx-b").unwrap());
    for dir in [&a.0, &b.0] {
        compile_into(&root().join("examples/site.xmpp"), dir);
    }
    for file in ["ejabberd.yml", "prosody.cfg.lua"] {
        assert_eq!(fs::read(a.0.join(file)).unwrap(), fs::read(b.0.join(file)).unwrap(), "{file}");
    }
}

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    fs::write(&p, body).unwrap();
    p
}

#[test]
fn a_syntax_error_shows_place_line_caret_and_suggestion() {
    let tmp = TempDir::new("hx-syntax").unwrap();
    let f = write(&tmp.0, "bad.xmpp", "domain \"chat.example.com\" {\n  admins alice\n}\nlisten clinet 5222\n");
    let o = run(bin().arg("check").arg(&f).env_remove("CLICOLOR_FORCE"));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let expected = format!(
        "error[E001]: expected `client`, `federation` or `http`, found `clinet`\n --> {}:4:8\n  |\n4 | listen clinet 5222\n  |        ^^^^^^\n  |\n  = hint: try `client`\n",
        f.display()
    );
    assert_eq!(err, expected, "not a terminal: no colour");
    // Colour where it is asked for (as on a terminal), and never under NO_COLOR.
    let coloured = run(bin().arg("check").arg(&f).env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR"));
    assert!(text(&coloured.stderr).contains("\x1b["), "{}", text(&coloured.stderr));
    let plain = run(bin().arg("check").arg(&f).env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1"));
    assert_eq!(text(&plain.stderr), expected, "NO_COLOR is honoured");
}

#[test]
fn a_span_over_several_lines_shows_each_line() {
    let tmp = TempDir::new("hx-multiline").unwrap();
    let f = write(&tmp.0, "bad.xmpp", "domain \"chat.example.com\" { }\nejabberd {\n  hosts: [\n  oops\n}\n");
    let o = run(bin().arg("check").arg(&f).env_remove("CLICOLOR_FORCE"));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("error[E019]") && err.contains(":2:11"), "{err}");
    assert!(err.contains("3 | |   hosts: [") && err.contains("4 | |   oops"), "each line of the span, marked: {err}");
}

#[test]
fn every_semantic_error_is_reported_in_one_run() {
    let tmp = TempDir::new("hx-semantic").unwrap();
    let f = write(
        &tmp.0,
        "bad.xmpp",
        "domain \"Chat!\" { }\ndomain \"ok.example\" { admins \"a b\" }\nlisten client 70000\nlisten http 5280 on 300.1.1.1 { api \"api\" allow 10.0.0.0/40 }\nlisten client 5222 { websocket \"/ws\" }\n",
    );
    let o = run(bin().arg("check").arg(&f));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    for (code, place) in [
        ("E007", ":1:8"),
        ("E006", ":2:30"),
        ("E002", ":3:15"),
        ("E003", ":4:21"),
        ("E009", ":4:37"),
        ("E004", ":4:49"),
        ("E010", ":5:22"),
    ] {
        assert!(err.contains(&format!("error[{code}]")), "{code} missing:\n{err}");
        assert!(err.contains(place), "{place} missing:\n{err}");
    }
}

#[test]
fn nothing_is_written_when_the_input_has_errors() {
    let tmp = TempDir::new("hx-atomic").unwrap();
    let out = tmp.0.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("ejabberd.yml"), "previous\n").unwrap();
    let f = write(&tmp.0, "bad.xmpp", "domain \"chat.example.com\" { admins alice }\nlisten client 0\n");
    let o = run(bin().arg("compile").arg(&f).arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error[E002]"), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(out.join("ejabberd.yml")).unwrap(), "previous\n");
    let names: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "stray files: {names:?}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let o = run(bin().args(["check", "/nonexistent/site.xmpp"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("error: cannot read /nonexistent/site.xmpp"), "{}", text(&o.stderr));
}

#[test]
fn warnings_do_not_fail_a_check() {
    let o = run(bin().current_dir(root()).args(["check", "examples/site.xmpp"]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("warning[W001]: prosody has no admin REST API"), "{err}");
    assert!(err.ends_with("examples/site.xmpp: no errors, 2 warning(s)\n"), "{err}");
}

#[test]
fn fmt_is_canonical_idempotent_and_keeps_comments() {
    let tmp = TempDir::new("hx-fmt").unwrap();
    let f = write(
        &tmp.0,
        "site.xmpp",
        "# top\ndomain  \"chat.example.com\" {admins alice,bob   # the admins\n\n\n  archive {default roster}}\nlisten client 5222{tls required}",
    );
    let o = run(bin().arg("fmt").arg("--check").arg(&f));
    assert_eq!(o.status.code(), Some(1), "--check reports an unformatted file");
    assert!(text(&o.stderr).contains("is not formatted"));
    let o = run(bin().arg("fmt").arg(&f));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let once = fs::read_to_string(&f).unwrap();
    assert_eq!(
        once,
        "# top\ndomain \"chat.example.com\" {\n  admins alice, bob  # the admins\n\n  archive { default roster }\n}\nlisten client 5222 { tls required }\n"
    );
    let o = run(bin().arg("fmt").arg("--check").arg(&f));
    assert!(o.status.success(), "formatted output is stable: {}", text(&o.stderr));
    // Comments found out of place by the fuzzer: one on the line after a statement that ends without a
    // block stays on its own line, whatever the line breaks; `fmt` is idempotent on both.
    for (messy, tidy) in [
        ("listen client 5222;\n# own line\n", "listen client 5222\n# own line\n"),
        (
            "listen client 5222\r# own line\rdomain \"a.b\" { }\r",
            "listen client 5222\n# own line\ndomain \"a.b\" { }\n",
        ),
        // A comment between a block's head and its `{` goes first into the block, not before the brace.
        (
            "domain \"a.b\" # m\n{ archive { default roster } }\n",
            "domain \"a.b\" {\n  # m\n  archive { default roster }\n}\n",
        ),
    ] {
        let g = write(&tmp.0, "comments.xmpp", messy);
        assert!(run(bin().arg("fmt").arg(&g)).status.success());
        assert_eq!(fs::read_to_string(&g).unwrap(), tidy);
        assert!(run(bin().arg("fmt").arg("--check").arg(&g)).status.success());
    }
    // Every example is formatted, and formatting never changes what a file compiles to.
    for entry in fs::read_dir(root().join("examples")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "xmpp") {
            let o = run(bin().arg("fmt").arg("--check").arg(&p));
            assert!(o.status.success(), "{}: {}", p.display(), text(&o.stderr));
        }
    }
}

#[test]
fn fmt_refuses_a_file_that_does_not_parse() {
    let tmp = TempDir::new("hx-fmt-bad").unwrap();
    let f = write(&tmp.0, "bad.xmpp", "domain {\n");
    let o = run(bin().arg("fmt").arg(&f));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("error[E001]"));
    assert_eq!(fs::read_to_string(&f).unwrap(), "domain {\n", "left untouched");
}

/// The integration tests live outside the package (`autotests = false`), so each one is listed in
/// plugin/Cargo.toml; a file added under tests/ and not listed there would never run.
#[test]
fn every_test_file_is_registered() {
    let manifest = fs::read_to_string(root().join("plugin/Cargo.toml")).unwrap();
    for entry in fs::read_dir(root().join("tests")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".rs") {
            let listed = format!("[[test]]\nname = \"{stem}\"\npath = \"../tests/{name}\"");
            assert!(manifest.contains(&listed), "tests/{name} is not registered: add to plugin/Cargo.toml\n{listed}");
        }
    }
}

/// Outputs are created as any file the user makes (0666 less the umask), not private like temporary
/// files: a server running as its own user reads them.
#[test]
fn outputs_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = TempDir::new("hx-umask").unwrap();
    let out = tmp.0.join("out");
    let script = format!(
        "umask 022; exec '{}' compile examples/minimal.xmpp -o '{}'",
        env!("CARGO_BIN_EXE_helm-xmpp"),
        out.display()
    );
    let o = run(std::process::Command::new("sh").current_dir(root()).args(["-c", &script]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    for file in ["ejabberd.yml", "prosody.cfg.lua"] {
        let mode = fs::metadata(out.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{file}");
    }
}

/// A failed write to standard output (a full disk, a pipe closed early) is an error that says so,
/// with exit 1, in every subcommand that prints: never a panic (exit 101).
#[test]
fn a_failed_write_to_standard_output_is_an_error_not_a_panic() {
    let tmp = TempDir::new("hx-stdout").unwrap();
    // Large enough that its ConfigMap outgrows a pipe's buffer.
    let big: String = (0..3000).map(|i| format!("domain \"d{i}.example.com\" {{ admins alice }}\n")).collect();
    let big = write(&tmp.0, "big.xmpp", &format!("{big}listen client 5222\n"));
    let site = root().join("examples/site.xmpp");
    let out = tmp.0.join("out");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["explain".into(), "E001".into()],
        vec!["check".into(), site.clone().into(), "--format".into(), "json".into()],
        vec!["compile".into(), site.clone().into(), "-o".into(), out.into()],
        vec!["configmap".into(), big.clone().into()],
    ];
    for args in &cases {
        let full = fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = run(bin().args(args).stdout(full));
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?} into /dev/full: {err}");
        assert!(err.contains("cannot write to standard output") && !err.contains("panicked"), "{args:?}: {err}");
    }
    // A reader that goes away after the first byte.
    let mut child = bin().arg("configmap").arg(&big).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "closed pipe: {}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
}

/// A file name is the author's text too: newlines, carriage returns or Unicode line separators in it
/// reach the generated files' comments escaped, never as a line of config.
#[test]
fn a_file_name_cannot_inject_config() {
    let tmp = TempDir::new("hx-name").unwrap();
    let injected =
        ["a\ninjected_yaml: 1\n#.xmpp", "b\rinjected_lua = 1\r--.xmpp", "c\u{2028}injected_ls: 1\u{2029}.xmpp"];
    for name in injected {
        let dsl = write(
            &tmp.0,
            name,
            "domain \"chat.example.com\" { }\nlisten client 5222\nejabberd {\n  loglevel: info\n}\nprosody {\n  log = \"*console\"\n}\n",
        );
        let out = tmp.0.join("out");
        let o = run(bin().arg("compile").arg(&dsl).arg("-o").arg(&out));
        assert!(o.status.success(), "{name:?}: {}", text(&o.stderr));
        for file in ["ejabberd.yml", "prosody.cfg.lua"] {
            let body = fs::read_to_string(out.join(file)).unwrap();
            for line in body.split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']) {
                assert!(!line.trim_start().starts_with("injected"), "{name:?} injected a line into {file}:\n{body}");
            }
        }
        let yaml: serde_norway::Value =
            serde_norway::from_str(&fs::read_to_string(out.join("ejabberd.yml")).unwrap()).unwrap();
        assert!(yaml.as_mapping().unwrap().keys().all(|k| !k.as_str().unwrap_or("").starts_with("injected")));
    }
}

/// Reads are bounded: a FIFO, a device or a folder is refused before it is opened (a FIFO would block,
/// /dev/zero never ends), as is a file over the size bound, and an include chain over the file bound.
#[test]
fn sources_are_regular_files_of_bounded_size_and_number() {
    let tmp = TempDir::new("hx-bounded").unwrap();
    let fifo = tmp.0.join("fifo.xmpp");
    assert!(run(std::process::Command::new("mkfifo").arg(&fifo)).status.success());
    let includes_fifo = write(&tmp.0, "inc.xmpp", "include \"fifo.xmpp\"\ndomain \"a.example.com\" { }\n");
    let huge = tmp.0.join("huge.xmpp");
    fs::File::create(&huge).unwrap().set_len(helm_xmpp::files::MAX_SOURCE_BYTES + 1).unwrap();
    for (path, says) in [
        (fifo.as_path(), "not a regular file"),
        (Path::new("/dev/zero"), "not a regular file"),
        (tmp.0.as_path(), "not a regular file"),
        (includes_fifo.as_path(), "not a regular file"),
        (huge.as_path(), "larger than 16 MiB"),
    ] {
        let o = run(bin().arg("check").arg(path));
        assert_eq!(o.status.code(), Some(1), "{}", path.display());
        assert!(text(&o.stderr).contains(says), "{}: {}", path.display(), text(&o.stderr));
    }
    // A chain of includes one file longer than the bound.
    let n = helm_xmpp::engine::MAX_SOURCES;
    for i in 0..n {
        write(&tmp.0, &format!("f{i}.xmpp"), &format!("include \"f{}.xmpp\"\n", i + 1));
    }
    write(&tmp.0, &format!("f{n}.xmpp"), "domain \"a.example.com\" { }\n");
    let o = run(bin().arg("check").arg(tmp.0.join("f0.xmpp")));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(&format!("more than {n} files")), "{}", text(&o.stderr));
    fs::remove_file(tmp.0.join(format!("f{}.xmpp", n - 1))).unwrap();
    write(&tmp.0, &format!("f{}.xmpp", n - 1), "domain \"a.example.com\" { }\n");
    let o = run(bin().arg("check").arg(tmp.0.join("f0.xmpp")));
    assert!(o.status.success(), "a chain of exactly {n} files compiles: {}", text(&o.stderr));
}

/// An include cycle is an error naming the files around it; a file included twice from different
/// places (no cycle) is read once.
#[test]
fn include_cycles_are_refused_and_shared_includes_read_once() {
    let tmp = TempDir::new("hx-cycle").unwrap();
    let a = write(&tmp.0, "a.xmpp", "include \"b.xmpp\"\ndomain \"a.example.com\" { }\n");
    write(&tmp.0, "b.xmpp", "include \"a.xmpp\"\n");
    let o = run(bin().arg("check").arg(&a).env_remove("CLICOLOR_FORCE"));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error[E018]: an include cycle: ") && err.contains("a.xmpp → ") && err.contains("b.xmpp → "),
        "{err}"
    );
    let root = write(&tmp.0, "root.xmpp", "include \"x.xmpp\"\ninclude \"y.xmpp\"\nlisten client 5222\n");
    write(&tmp.0, "x.xmpp", "include \"shared.xmpp\"\n");
    write(&tmp.0, "y.xmpp", "include \"shared.xmpp\"\n");
    write(&tmp.0, "shared.xmpp", "domain \"a.example.com\" { }\n");
    let o = run(bin().arg("check").arg(&root));
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// What Kubernetes would refuse is refused here first, with nothing printed: a ConfigMap or namespace
/// name it does not accept, and a config past its 1 MiB ConfigMap bound (`configmap`, the post-renderer
/// and the chart values alike).
#[test]
fn kubernetes_limits_are_checked_before_kubernetes_sees_them() {
    let tmp = TempDir::new("hx-k8s").unwrap();
    let site = root().join("examples/site.xmpp");
    for (flag, name) in [
        ("--name", "Xmpp"),
        ("--name", "xmpp_config"),
        ("--name", "-xmpp"),
        ("--name", ""),
        ("--name", "a\nb"),
        ("--namespace", "a.b"),
        ("--namespace", &"n".repeat(64)),
    ] {
        let o = run(bin().arg("configmap").arg(&site).arg(format!("{flag}={name}")));
        assert_eq!(o.status.code(), Some(1), "{flag} {name:?}");
        assert!(o.stdout.is_empty());
        assert!(text(&o.stderr).contains("is not a name Kubernetes accepts"), "{}", text(&o.stderr));
    }
    let o = run(bin().arg("configmap").arg(&site).args([
        "--name",
        &format!("{}a", "a.".repeat(126)),
        "--namespace",
        &"n".repeat(63),
    ]));
    assert!(o.status.success(), "the longest names pass: {}", text(&o.stderr));

    let domain = |i| {
        format!(
            "domain \"d{i}.example.com\" {{ admins alice; contact {{ abuse \"mailto:abuse@d{i}.example.com\" }} }}\n"
        )
    };
    let domains: String = (0..4000).map(domain).collect();
    let big = write(&tmp.0, "big.xmpp", &format!("{domains}listen client 5222\n"));
    let manifests = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n";
    for args in [vec!["configmap"], vec!["postrender", "-f"]] {
        let mut child = piped(bin().args(&args).arg(&big));
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), manifests.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("Kubernetes holds at most 1 MiB in one ConfigMap") && err.contains("ejabberd.yml"),
            "{err}"
        );
    }
    let (_, compiled) =
        helm_xmpp::engine::compile_file(helm_xmpp::engine::Kind::Native, &big, Default::default()).unwrap();
    assert!(xmpp_compiler::manifests::values_yaml(&compiled).is_err(), "the chart would make the same ConfigMap");

    // The post-renderer reads at most 64 MiB of manifests.
    let mut child = piped(bin().args(["postrender", "-f"]).arg(&site));
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'#'; 1 << 20];
        for _ in 0..=(xmpp_compiler::manifests::MAX_MANIFEST_BYTES >> 20) {
            if std::io::Write::write_all(&mut stdin, &chunk).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty() && text(&o.stderr).contains("more than 64 MiB"), "{}", text(&o.stderr));
}

/// `fmt` changes a file's text and nothing else about it: a symbolic link stays a link, hard links
/// all see the new text, mode and owner stay; a read-only file is refused and left as it was.
#[test]
fn fmt_keeps_links_mode_and_owner_and_refuses_read_only_files() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    let tmp = TempDir::new("hx-fmt-keep").unwrap();
    let messy = "domain  \"chat.example.com\" {admins alice}\n";
    let tidy = "domain \"chat.example.com\" { admins alice }\n";
    let fmt = |p: &Path| run(bin().arg("fmt").arg(p));

    let target = write(&tmp.0, "real.xmpp", messy);
    let link = tmp.0.join("link.xmpp");
    symlink("real.xmpp", &link).unwrap();
    assert!(fmt(&link).status.success());
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(fs::read_to_string(&target).unwrap(), tidy, "its target has the new text");

    let a = write(&tmp.0, "a.xmpp", messy);
    let b = tmp.0.join("b.xmpp");
    fs::hard_link(&a, &b).unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
    let root_user =
        fs::metadata(&tmp.0).unwrap().uid() == 0 && run(std::process::Command::new("id").arg("-u")).stdout == b"0\n";
    if root_user {
        std::os::unix::fs::chown(&a, Some(65534), Some(65534)).unwrap();
    }
    let before = fs::metadata(&a).unwrap();
    assert!(fmt(&a).status.success());
    let after = fs::metadata(&a).unwrap();
    assert_eq!((after.ino(), after.nlink()), (before.ino(), 2), "hard links stay one file");
    assert_eq!(fs::read_to_string(&b).unwrap(), tidy);
    assert_eq!((after.mode(), after.uid(), after.gid()), (before.mode(), before.uid(), before.gid()));

    let single = write(&tmp.0, "single.xmpp", messy);
    fs::set_permissions(&single, fs::Permissions::from_mode(0o600)).unwrap();
    if root_user {
        std::os::unix::fs::chown(&single, Some(65534), Some(65534)).unwrap();
    }
    let before = fs::metadata(&single).unwrap();
    assert!(fmt(&single).status.success());
    let after = fs::metadata(&single).unwrap();
    assert_eq!(fs::read_to_string(&single).unwrap(), tidy);
    assert_eq!((after.mode(), after.uid(), after.gid()), (before.mode(), before.uid(), before.gid()));

    let locked = write(&tmp.0, "locked.xmpp", messy);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
    let o = fmt(&locked);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("read-only"), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(&locked).unwrap(), messy, "left as it was");
    assert_eq!(fs::metadata(&locked).unwrap().mode() & 0o777, 0o444);
}

/// The files in an output folder always come from one compile: racing compiles into one folder leave
/// a matching pair; a rename that fails half-way puts the first file back; a compile for one server
/// removes the other server's file it made earlier, and refuses to touch one a person wrote.
#[test]
fn an_output_folder_holds_one_compile_and_nothing_stale() {
    let tmp = TempDir::new("hx-pair").unwrap();
    let out = tmp.0.join("out");
    let both = |name: &str, domain: &str| {
        write(&tmp.0, name, &format!("domain \"{domain}\" {{ admins alice }}\nlisten client 5222\n"))
    };
    let (a, b) = (both("a.xmpp", "a.example.com"), both("b.xmpp", "b.example.com"));
    let digest = |file: &str| {
        let body = fs::read_to_string(out.join(file)).unwrap();
        body.split("sha256 ").nth(1).unwrap()[..64].to_string()
    };
    let compile = |src: &Path| {
        let mut c = bin();
        c.args(["compile", "--engine", "native", "-o"]).arg(&out).arg(src);
        c.stdout(std::process::Stdio::null()).spawn().unwrap()
    };
    for round in 0..60 {
        let (mut x, mut y) = (compile(&a), compile(&b));
        assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
        assert_eq!(digest("ejabberd.yml"), digest("prosody.cfg.lua"), "round {round}: files from two compiles");
    }
    // Races are rare to catch; the lock that prevents them is not: a compile waits while another holds it.
    let held = fs::File::open(&out).unwrap();
    held.lock().unwrap();
    let mut waiting = compile(&b);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "a compile went ahead while the folder was locked");
    drop(held);
    assert!(waiting.wait().unwrap().success());

    let o = run(bin().args(["compile", "--engine", "native", "-o"]).arg(&out).arg(&a));
    assert!(o.status.success());
    let first = fs::read_to_string(out.join("ejabberd.yml")).unwrap();
    fs::remove_file(out.join("prosody.cfg.lua")).unwrap();
    fs::create_dir_all(out.join("prosody.cfg.lua/busy")).unwrap();
    let o = run(bin().args(["compile", "--engine", "native", "-o"]).arg(&out).arg(&b));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("nothing was changed"), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(out.join("ejabberd.yml")).unwrap(), first, "the first rename was undone");
    fs::remove_dir_all(out.join("prosody.cfg.lua")).unwrap();

    assert!(run(bin().args(["compile", "-o"]).arg(&out).arg(&a)).status.success());
    let only =
        write(&tmp.0, "only.xmpp", "targets ejabberd >= 24.12\ndomain \"a.example.com\" { }\nlisten client 5222\n");
    let o = run(bin().args(["compile", "-o"]).arg(&out).arg(&only));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!out.join("prosody.cfg.lua").exists(), "the stale Prosody file is gone");

    fs::write(out.join("prosody.cfg.lua"), "-- mine\n").unwrap();
    let before = fs::read_to_string(out.join("ejabberd.yml")).unwrap();
    let o = run(bin().args(["compile", "-o"]).arg(&out).arg(&b).env("X", "1"));
    assert!(o.status.success(), "targeting both servers replaces it: {}", text(&o.stderr));
    fs::write(out.join("prosody.cfg.lua"), "-- mine\n").unwrap();
    let o = run(bin().args(["compile", "-o"]).arg(&out).arg(&only));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is not a file a compile wrote"), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(out.join("prosody.cfg.lua")).unwrap(), "-- mine\n");
    assert_ne!(fs::read_to_string(out.join("ejabberd.yml")).unwrap(), before, "b's compile had replaced it");
}

/// Every error has a message where CI and people look: `check --format json` prints JSON whatever
/// stops it (an unreadable file, fuel running out), an include that cannot be read is reported at its
/// `include` line, and text from the source never reaches the terminal as control sequences.
#[test]
fn every_error_is_reported_in_place_and_in_json() {
    let tmp = TempDir::new("hx-messages").unwrap();
    let json = |args: &[&std::ffi::OsStr]| {
        let o = run(bin().args(["check", "--format", "json"]).args(args));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
        v.as_array().unwrap().clone()
    };

    let latin1 = tmp.0.join("latin1.xmpp");
    fs::write(&latin1, b"domain \"a.example.com\" { }\n# caf\xe9\n").unwrap();
    let v = json(&[latin1.as_os_str()]);
    assert!(
        v[0]["code"].is_null() && v[0]["message"].as_str().unwrap().contains("not UTF-8 at line 2, column 6"),
        "{v:?}"
    );

    let site = root().join("examples/site.xmpp");
    let v = json(&[site.as_os_str(), "--fuel".as_ref(), "1000".as_ref()]);
    assert!(v[0]["message"].as_str().unwrap().contains("fuel"), "{v:?}");

    let root_file = write(&tmp.0, "root.xmpp", "domain \"a.example.com\" { }\n  include \"missing.xmpp\"\n");
    let v = json(&[root_file.as_os_str()]);
    assert_eq!((v[0]["code"].as_str(), v[0]["line"].as_u64(), v[0]["col"].as_u64()), (Some("E018"), Some(2), Some(11)));
    let o = run(bin().arg("check").arg(&root_file));
    assert!(text(&o.stderr).contains("root.xmpp:2:11"), "{}", text(&o.stderr));
    fs::write(tmp.0.join("missing.xmpp"), b"# \xff\n").unwrap();
    let v = json(&[root_file.as_os_str()]);
    assert_eq!(v[0]["code"], "E018", "an include that is not UTF-8 too: {v:?}");

    let hostile = write(
        &tmp.0,
        "hostile.xmpp",
        "domain \"a.example.com\" { admins \"\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}x\" }\n",
    );
    let o = run(bin().arg("check").arg(&hostile).env("CLICOLOR_FORCE", "1"));
    let err = text(&o.stderr);
    assert!(err.contains("\u{1b}["), "colours are on: {err:?}");
    for raw in ["\u{1b}]0;", "\u{7}", "\u{1b}[2J", "\u{202e}"] {
        assert!(!err.contains(raw), "{raw:?} reached the terminal: {err:?}");
    }
    assert!(err.contains("\u{241b}]0;owned\u{2407}"), "{err:?}");
    // A path in an error outside the compiler is shown the same way.
    let o = run(bin().arg("check").arg(tmp.0.join("\u{1b}[2Jgone.xmpp")).env("CLICOLOR_FORCE", "1"));
    let err = text(&o.stderr);
    assert!(err.contains("\u{241b}[2Jgone.xmpp") && !err.contains("\u{1b}[2J"), "{err:?}");
}

/// A file with a mistake on every line gives a bounded report: at most 100 diagnostics shown to
/// people, at most 1,000 listed in JSON, and the count of the rest.
#[test]
fn diagnostics_printed_are_bounded() {
    let tmp = TempDir::new("hx-many").unwrap();
    let admins: String = (0..100_000).map(|i| format!("  admins \"@{i}\"\n")).collect();
    let f = write(&tmp.0, "many.xmpp", &format!("domain \"a.example.com\" {{\n{admins}}}\n"));
    let o = run(bin().arg("check").arg(&f));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.matches("error[E").count(), 100, "{}", &err[..500]);
    assert!(err.contains("note: 99900 more diagnostics not shown"), "{}", &err[err.len() - 300..]);
    assert!(err.len() < 100_000, "{} bytes", err.len());
    let o = run(bin().args(["check", "--format", "json"]).arg(&f));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), xmpp_compiler::diagnostic::MAX_DIAGNOSTICS);
    assert!(text(&o.stderr).contains("note: 99000 more diagnostics not listed"));
}

/// The GitOps path: `values` writes the chart values a DSL gives (what `render` hands Helm), `--check`
/// passes while the file is current and fails, changing nothing, once the DSL moves on.
#[test]
fn values_writes_the_chart_values_and_checks_they_are_current() {
    let tmp = TempDir::new("hx-values").unwrap();
    let dsl = write(&tmp.0, "site.xmpp", "domain \"a.example.com\" { admins alice }\nlisten client 5222\n");
    let out = tmp.0.join("compiled-values.yaml");
    let values = |extra: &[&str]| run(bin().arg("values").arg(&dsl).arg("-o").arg(&out).args(extra));
    let o = values(&["--check"]);
    assert_eq!(o.status.code(), Some(1), "a missing file is stale");
    assert!(values(&[]).status.success());
    let written = fs::read_to_string(&out).unwrap();
    let parsed: serde_norway::Value = serde_norway::from_str(&written).unwrap();
    assert_eq!(parsed["compiled"]["domains"][0], "a.example.com");
    assert!(parsed["compiled"]["files"][0]["text"].as_str().unwrap().contains("a.example.com"));
    assert!(values(&["--check"]).status.success(), "current");
    fs::write(&dsl, "domain \"b.example.com\" { admins alice }\nlisten client 5222\n").unwrap();
    let o = values(&["--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is stale or missing; run `helm xmpp values"), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(&out).unwrap(), written, "--check changes nothing");
}

/// `check --format sarif`, on every file of the bad-input corpus and a clean example: each log valid
/// against OASIS's SARIF 2.1.0 schema (tests/setup fetches it), its results the corpus's expected
/// codes at their expected line and column, the rules every code with its explanation.
#[test]
#[ignore = "needs tests/setup: the SARIF 2.1.0 schema and Python's jsonschema"]
fn sarif_logs_are_valid_and_place_each_diagnostic() {
    let schema = tool("../sarif/sarif-schema-2.1.0.json");
    let tmp = TempDir::new("hx-sarif").unwrap();
    let mut cases = Vec::new();
    let corpus = root().join("tests/diagnostics");
    let mut files: Vec<_> = fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.push(root().join("examples/minimal.xmpp"));
    for (n, path) in files.iter().enumerate().filter(|(_, p)| p.extension().is_some_and(|e| e == "xmpp")) {
        let source = fs::read_to_string(path).unwrap();
        let mut expected: Vec<String> =
            source.lines().filter_map(|l| l.strip_prefix("# expect: ")).map(str::to_string).collect();
        expected.sort();
        let o = run(bin().current_dir(path.parent().unwrap()).args(["check", "--format", "sarif"]).arg(path));
        assert_eq!(o.status.code(), Some(if expected.iter().any(|e| e.starts_with('E')) { 1 } else { 0 }));
        let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let run0 = &log["runs"][0];
        let mut got: Vec<String> = run0["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let region = &r["locations"][0]["physicalLocation"]["region"];
                format!("{} {}:{}", r["ruleId"].as_str().unwrap(), region["startLine"], region["startColumn"])
            })
            .collect();
        got.sort();
        assert_eq!(got, expected, "{}", path.display());
        let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), xmpp_compiler::Code::ALL.len());
        for r in run0["results"].as_array().unwrap() {
            let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], r["ruleId"]);
        }
        let out = tmp.0.join(format!("{n}.sarif"));
        fs::write(&out, &o.stdout).unwrap();
        cases.push(out);
    }
    assert!(cases.len() > 50, "only {} SARIF logs", cases.len());
    let check = run(std::process::Command::new(tool("../venv/bin/python"))
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft4Validator.check_schema(schema)\n\
             v = jsonschema.Draft4Validator(schema)\n\
             bad = [(f, e.message) for f in sys.argv[2:] for e in v.iter_errors(json.load(open(f)))]\n\
             sys.exit('\\n'.join(f'{f}: {m}' for f, m in bad) if bad else 0)",
        )
        .arg(&schema)
        .args(&cases));
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
}

/// The plugin's completion.yaml (Helm reads it for `helm xmpp <TAB>`) is what `helm-xmpp completion
/// helm` prints from the command line's definition; `UPDATE_DOCS=1` rewrites it. The shell completions
/// and the manual page name every subcommand.
#[test]
fn completions_and_the_manual_follow_the_command_line() {
    let o = run(bin().args(["completion", "helm"]));
    assert!(o.status.success());
    let path = root().join("completion.yaml");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::write(&path, &o.stdout).unwrap();
    }
    assert!(fs::read(&path).unwrap() == o.stdout, "completion.yaml is stale: run UPDATE_DOCS=1 cargo test --test cli");
    let subcommands = ["compile", "check", "fmt", "explain", "configmap", "values", "render", "install", "upgrade"];
    for shell in ["bash", "zsh", "fish"] {
        let o = run(bin().args(["completion", shell]));
        let script = text(&o.stdout);
        assert!(o.status.success() && subcommands.iter().all(|s| script.contains(s)), "{shell}:\n{script}");
    }
    let o = run(bin().arg("man"));
    let page = text(&o.stdout);
    assert!(o.status.success() && page.starts_with(".ie") && page.contains(".TH helm-xmpp 1"), "{page}");
    assert!(subcommands.iter().all(|s| page.contains(&format!("helm\\-xmpp\\-{s}(1)"))), "{page}");
}

/// `diff` says what a change means, in sentences read from what each server gets: an option's old and
/// new value, a module enabled, a listener and its port, a secret newly read (never its value); exit 1
/// on a change, 0 on none, 2 on an error.
#[test]
fn diff_says_what_a_change_means() {
    let dir = TempDir::new("hx-diff").unwrap();
    let site = fs::read_to_string(root().join("examples/site.xmpp")).unwrap();
    let old = write(&dir.0, "old.xmpp", &site);
    let changed = site
        .replace("retention 1y", "retention 30d")
        .replace("admins alice, bob", "admins alice, bob\n  features carbons")
        .replace("listen federation 5269 { tls required }", "listen client 5223 { tls direct }")
        .replace("log info", "log info\nstorage postgres { host \"db\"; database \"xmpp\"; user \"xmpp\"; password env(\"DB_PASSWORD\") }");
    let new = write(&dir.0, "new.xmpp", &changed);
    let o = run(bin().arg("diff").arg(&old).arg(&new));
    let said = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{said}{}", text(&o.stderr));
    for line in [
        "prosody on chat.example.com: archive_expires_after: \"1y\" → \"30d\"",
        "ejabberd: mod_carboncopy enabled",
        "prosody: module carbons enabled",
        "ejabberd: listener on port 5223 added (ejabberd_c2s)",
        "ejabberd: listener on port 5269 removed (ejabberd_s2s_in)",
        "port 5223 opened (",
        "port 5269 closed (",
        "secrets: now reads DB_PASSWORD",
    ] {
        assert!(said.lines().any(|l| l.starts_with(line)), "no `{line}` in:\n{said}");
    }
    assert!(!said.contains("password: DB_PASSWORD") && !said.contains("ENV_DB_PASSWORD"), "{said}");

    // No change (the header line, which names the file, is not a change): silent, exit 0.
    let same = write(&dir.0, "same.xmpp", &site);
    let o = run(bin().arg("diff").arg(&old).arg(&same));
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), String::new()), "{}", text(&o.stderr));

    // A broken file, or a wrong count of files: exit 2, nothing on standard output.
    let broken = write(&dir.0, "broken.xmpp", "domian \"x\" { }\n");
    for args in [vec![&old, &broken], vec![&old]] {
        let o = run(bin().arg("diff").args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty());
    }
}
