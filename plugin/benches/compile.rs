//! In-process figures for bench/measure: compile throughput natively and in the sandbox, on the examples
//! and on generated files from 125 to 2,000 domains, and what loading and instantiating cost.
//! Prints Markdown tables. Run through `bash bench/measure` (or `cargo bench -p helm-xmpp`).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use helm_xmpp::engine::{self, Kind, Limits, Sandbox};

/// The median of `runs` timings of `f`, after one warm-up call.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// A generated site: `domains` domains of ~20 lines each, one set of listeners. bench/measure takes its
/// 1,000-domain file from here too (`HELM_XMPP_BENCH_LARGE=PATH`).
fn generated(domains: usize) -> String {
    let mut s = String::from("targets ejabberd >= 24.12, prosody >= 13.0\n");
    for i in 0..domains {
        s.push_str(&format!(
            "domain \"d{i}.example.com\" {{\n  admins alice, bob\n  registration closed\n  profile modern\n  \
             archive {{\n    default roster\n    retention 52w\n  }}\n  groupchat \"conference\" {{\n    history 50\n    \
             archive on\n    create local\n  }}\n  upload \"upload\" {{\n    max-size 20MB\n    expire 30d\n  }}\n  \
             pubsub \"pubsub\"\n  contact {{ abuse \"mailto:abuse@d{i}.example.com\" }}\n}}\n"
        ));
    }
    s.push_str("listen client 5222 { tls required }\nlisten federation 5269 { tls required }\n");
    s.push_str("listen http 5280 {\n  websocket \"/xmpp-websocket\"\n  bosh \"/http-bind\"\n  upload \"/upload\"\n}\n");
    s
}

/// Files that stretch one construct, as a careless or hostile author might: `n` of it in one file.
fn stretched(shape: &str, n: usize) -> String {
    let many = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<String>();
    let domain = "domain \"a.example.com\" { }\nlisten client 5222\n";
    match shape {
        "admins" => {
            format!("domain \"a.example.com\" {{\n{}}}\nlisten client 5222\n", many(&|i| format!("  admins u{i}\n")))
        }
        "bad admins (errors)" => {
            format!(
                "domain \"a.example.com\" {{\n{}}}\nlisten client 5222\n",
                many(&|i| format!("  admins \"@{i}\"\n"))
            )
        }
        "contact addresses" => format!(
            "domain \"a.example.com\" {{\n  contact {{ abuse \"mailto:a0@x.org\"{} }}\n}}\nlisten client 5222\n",
            many(&|i| format!(",\n    \"mailto:a{}@x.org\"", i + 1))
        ),
        "raw YAML keys" => format!("{domain}ejabberd {{\n{}}}\n", many(&|i| format!("  k{i}: [v, {{a: {i}}}]\n"))),
        "raw Lua statements" => {
            format!("{domain}prosody {{\n{}}}\n", many(&|i| format!("  k{i} = {{ \"v\", n = {i} }}\n")))
        }
        "comments" => format!("{domain}{}", many(&|i| format!("# comment {i}\n"))),
        _ => unreachable!(),
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let limits = Limits::default();
    if let Some(path) = std::env::var_os("HELM_XMPP_BENCH_LARGE") {
        std::fs::write(path, generated(1000)).unwrap();
    }

    // Loaded once per process (later calls share it), so this is one timing, first touch included,
    // as in every `helm-xmpp` run.
    let t = Instant::now();
    let sandbox = Sandbox::new().unwrap();
    let load = t.elapsed();
    let empty = vec![("empty.xmpp".to_string(), String::new())];
    let instantiate_and_call = median(501, || drop(sandbox.compile(&empty, limits).unwrap()));
    println!("## Loading and instantiating\n");
    println!("| step | median |\n|---|---|");
    println!(
        "| `Sandbox::new`, once per process (engine + the precompiled component, used where it lies in the binary) | {} µs |",
        us(load)
    );
    println!("| fresh store + instance + a call on an empty file (`compile`) | {} µs |\n", us(instantiate_and_call));

    println!("## Examples\n");
    println!("| example | lines | native µs | sandbox µs | sandbox / native |\n|---|---|---|---|---|");
    let mut names: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xmpp"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The sources with every include, read once as `helm-xmpp compile` reads them; then compiled in memory.
        let (sources, _) = engine::compile_file(Kind::Native, &path, limits).unwrap();
        let text = &sources[0].1;
        let native = median(201, || drop(engine::compile(Kind::Native, &sources, limits).unwrap()));
        let boxed = median(201, || drop(sandbox.compile(&sources, limits).unwrap()));
        let ratio = boxed.as_secs_f64() / native.as_secs_f64();
        println!("| {name} | {} | {} | {} | {ratio:.2} |", text.lines().count(), us(native), us(boxed));
    }

    println!("\n## Generated files: growth with size\n");
    println!(
        "| domains | lines | bytes | native ms | sandbox ms | sandbox / native | native ns/line | sandbox ns/line |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for domains in [125, 250, 500, 1000, 2000] {
        let text = generated(domains);
        let lines = text.lines().count();
        let sources = vec![("gen.xmpp".to_string(), text.clone())];
        let runs = if domains >= 1000 { 9 } else { 21 };
        let native = median(runs, || drop(engine::compile(Kind::Native, &sources, limits).unwrap()));
        let boxed = median(runs, || drop(sandbox.compile(&sources, limits).unwrap()));
        let per_line = |d: Duration| d.as_secs_f64() * 1e9 / lines as f64;
        println!(
            "| {domains} | {lines} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |",
            text.len(),
            native.as_secs_f64() * 1e3,
            boxed.as_secs_f64() * 1e3,
            boxed.as_secs_f64() / native.as_secs_f64(),
            per_line(native),
            per_line(boxed)
        );
    }

    println!("\n## Stretched constructs: growth from 1× to 16×\n");
    println!(
        "| construct | 5,000 native ms | 80,000 native ms | growth | 5,000 sandbox ms | 80,000 sandbox ms | growth |"
    );
    println!("|---|---|---|---|---|---|---|");
    for shape in
        ["admins", "bad admins (errors)", "contact addresses", "raw YAML keys", "raw Lua statements", "comments"]
    {
        let mut row = format!("| {shape} ");
        // The largest files need more than the default fuel (about a second of work): ten times it.
        let limits = Limits { fuel: limits.fuel * 10, ..limits };
        let time = |n: usize, kind: Option<&Sandbox>| {
            let sources = vec![("stretched.xmpp".to_string(), stretched(shape, n))];
            let d = median(5, || match kind {
                Some(s) => drop(s.compile(&sources, limits).unwrap()),
                None => drop(engine::compile(Kind::Native, &sources, limits).unwrap()),
            });
            d.as_secs_f64() * 1e3
        };
        for kind in [None, Some(&sandbox)] {
            let (small, large) = (time(5_000, kind), time(80_000, kind));
            row.push_str(&format!("| {small:.1} | {large:.1} | {:.1}× ", large / small));
        }
        println!("{row}|");
    }
}
