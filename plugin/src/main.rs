//! `helm-xmpp`: the command line. Every subcommand compiles first; nothing is written or handed to
//! Helm when the compile has an error. Output goes through `print` and `say`: a closed pipe or a full
//! disk on standard output is an error with a message, never a panic.

use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use helm_xmpp::engine::{self, Compiled, Compiler, Kind, Limits};
use helm_xmpp::{Error, Result, diff, files, helm, report};
use xmpp_compiler::manifests;

/// Compile one XMPP configuration language to ejabberd.yml and prosody.cfg.lua, and feed them to Helm.
#[derive(Debug, Parser)]
#[command(name = "helm-xmpp", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Compile FILE and write ejabberd.yml and prosody.cfg.lua into a folder.
    Compile {
        /// The root DSL file.
        file: PathBuf,
        /// The folder to write into.
        #[arg(short, long, default_value = "out")]
        out: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Check FILE and print every diagnostic; exits non-zero on errors.
    Check {
        file: PathBuf,
        /// `human`, `json` (one array of diagnostics on standard output, for CI), or `sarif` (a SARIF
        /// 2.1.0 log, for code-scanning tools).
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Lay out DSL files canonically (comments kept), in place; `--check` only reports.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 and name the files that are not formatted.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Print the longer explanation of a diagnostic code, e.g. `explain E014`.
    Explain { code: String },
    /// Compile FILE and print a ConfigMap with the compiled files, for GitOps and kustomize.
    Configmap {
        file: PathBuf,
        /// The ConfigMap's name.
        #[arg(long, default_value = "xmpp-config")]
        name: String,
        /// The ConfigMap's namespace (left out when not given).
        #[arg(long)]
        namespace: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Compile FILE and write the chart values it gives to a file, for GitOps: commit it and render with
    /// plain `helm template -f FILE` (no plugin where the controller runs); `--check` fails when it is stale.
    Values {
        file: PathBuf,
        /// The values file to write (or check).
        #[arg(short, long, default_value = "compiled-values.yaml")]
        out: PathBuf,
        /// Change nothing; exit 1 when the file is missing or differs from what the DSL gives.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Say what changes from OLD to NEW, in sentences: each server's modules and options, listeners,
    /// ports, secrets read (never a secret's value). Exits 1 when something changes (for CI), 0 when
    /// nothing does, 2 on an error. `--release NAME NEW.xmpp` compares with what that release runs.
    Diff {
        /// OLD.xmpp NEW.xmpp; with `--release`, NEW.xmpp alone.
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<PathBuf>,
        /// Compare with the compiled config the Helm release NAME was given (`helm get values NAME`).
        #[arg(long, value_name = "NAME")]
        release: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Turn an existing ejabberd.yml or prosody.cfg.lua into a DSL file: what the language expresses as
    /// statements, the rest kept as written in an `ejabberd { }` or `prosody { }` block (each option
    /// named), secrets as environment references. Checked by compiling it: the result gives the server
    /// what the original did.
    Import {
        /// The ejabberd.yml or prosody.cfg.lua (by its `.lua` extension) to import.
        file: PathBuf,
        /// The DSL file to write.
        #[arg(short, long, default_value = "imported.xmpp")]
        out: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Serve the Language Server Protocol on standard input and output, for editors: diagnostics as
    /// you type, hover, completion, formatting, go-to-definition on `include`, quick fixes.
    Lsp {
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Compile, then `helm template` the chart with the results: render CHART -f site.xmpp [helm flags…].
    Render(HelmArgs),
    /// Compile, then `helm install` with the results: install NAME CHART -f site.xmpp [helm flags…].
    Install(HelmArgs),
    /// Compile, then `helm upgrade` with the results: upgrade NAME CHART -f site.xmpp [helm flags…].
    Upgrade(HelmArgs),
    /// Compile, then `helm lint` the chart with the results: lint CHART -f site.xmpp [helm flags…].
    Lint(HelmArgs),
    /// Print shell completions (`bash`, `zsh`, `fish`), or Helm's completion file for the plugin (`helm`:
    /// the plugin's completion.yaml, which `helm xmpp <TAB>` reads).
    Completion {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff), e.g. `helm-xmpp man > helm-xmpp.1`.
    Man,
    /// A Helm post-renderer: reads manifests on standard input and injects the compiled files as a
    /// ConfigMap (into the one named `--name` when the chart has it), for charts that are not ours.
    Postrender {
        /// The root DSL file.
        #[arg(long, short = 'f')]
        dsl: PathBuf,
        /// The ConfigMap to fill (or to add when the chart has none of that name).
        #[arg(long, default_value = "xmpp-config")]
        name: String,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Helm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
struct EngineArgs {
    /// Where the compiler runs.
    #[arg(long, value_enum, default_value = "sandbox")]
    engine: Kind,
    /// The sandbox's execution bound, in fuel units.
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// The sandbox's memory bound, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory >> 20)]
    max_memory: usize,
}

#[derive(Debug, Args)]
struct HelmArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Helm's arguments; `-f FILE.xmpp` (or `--dsl FILE`) names the DSL file.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    args: Vec<String>,
}

/// Helm's static completion file for the plugin (its `completion.yaml`): the subcommands, each with its
/// flags (one letter for a short one) and the values of its enumerated arguments, from the command
/// line's own definition.
fn helm_completion(cmd: &clap::Command) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Node {
        name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        flags: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        valid_args: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        commands: Vec<Node>,
    }
    fn node(c: &clap::Command, name: &str) -> Node {
        let args: Vec<&clap::Arg> = c.get_arguments().filter(|a| !a.is_hide_set()).collect();
        Node {
            name: name.to_string(),
            flags: args
                .iter()
                .flat_map(|a| a.get_long().map(str::to_string).into_iter().chain(a.get_short().map(String::from)))
                .collect(),
            valid_args: args
                .iter()
                .filter(|a| a.is_positional())
                .flat_map(|a| a.get_possible_values())
                .map(|v| v.get_name().to_string())
                .collect(),
            commands: c.get_subcommands().filter(|s| s.get_name() != "help").map(|s| node(s, s.get_name())).collect(),
        }
    }
    let yaml = serde_norway::to_string(&node(cmd, "xmpp")).unwrap_or_default();
    format!(
        "# Helm's completion for `helm xmpp` (the plugin's completion.yaml), made by `helm-xmpp completion helm`.\n{yaml}"
    )
}

/// Writes to standard output: a closed pipe or a full disk is an error that says so, never a panic.
fn print(text: impl Display) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::new(format!("cannot write to standard output: {e}")))
}

/// Writes to standard error (colour stripped unless it is a terminal, or under `NO_COLOR`); when even
/// that fails there is nobody left to tell, so the failure is dropped rather than a panic.
fn say(text: impl Display) {
    let _ = write!(anstream::stderr(), "{text}");
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            say(format_args!("error: {}\n", report::safe(&e.0)));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    use clap::CommandFactory as _;
    match cli.command {
        Cmd::Completion { shell } => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            match shell {
                CompletionShell::Bash => {
                    clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "helm-xmpp", &mut out)
                }
                CompletionShell::Zsh => {
                    clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "helm-xmpp", &mut out)
                }
                CompletionShell::Fish => {
                    clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "helm-xmpp", &mut out)
                }
                CompletionShell::Helm => out = helm_completion(&cmd).into_bytes(),
            }
            print(String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Error::new(format!("cannot render the manual page: {e}")))?;
            print(String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Fmt { files: paths, check, engine } => {
            let (compiler, limits) = (Compiler::new(engine.engine)?, engine.limits()?);
            let mut clean = true;
            for path in &paths {
                let source = files::read_source(path)?;
                match compiler.format(&source.1, limits)? {
                    Err(diagnostics) => {
                        for d in &diagnostics {
                            say(report::render(d, std::slice::from_ref(&source)));
                        }
                        clean = false;
                    }
                    Ok(formatted) if formatted == source.1 => {}
                    Ok(_) if check => {
                        let name = report::safe(&source.0);
                        say(format_args!("{name} is not formatted; run `helm-xmpp fmt {name}`\n"));
                        clean = false;
                    }
                    Ok(formatted) => {
                        files::rewrite(path, &source.1, &formatted)?;
                        print(format_args!("formatted {}\n", report::safe(&source.0)))?;
                    }
                }
            }
            Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Cmd::Explain { code } => {
            let wanted = code.to_uppercase();
            let found = xmpp_compiler::Code::ALL.iter().find(|c| c.as_str() == wanted);
            match found {
                Some(c) => {
                    print(format_args!("{}: {}\n", c.as_str(), c.explain()))?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(Error::new(format!("unknown code `{code}`; codes look like E001 or W001"))),
            }
        }
        Cmd::Check { file, format: Format::Json, engine } => {
            // Whatever stops the check, CI gets its JSON: an error with no place in the sources (an
            // unreadable root file, the sandbox's fuel running out) is one entry without a line.
            match engine.limits().and_then(|limits| engine::compile_file(engine.engine, &file, limits)) {
                Ok((sources, compiled)) => {
                    print(format_args!("{}\n", report::json(&compiled.diagnostics, &sources)))?;
                    if compiled.omitted > 0 {
                        say(format_args!("note: {} more diagnostics not listed\n", compiled.omitted));
                    }
                    Ok(exit(&compiled))
                }
                Err(e) => {
                    print(format_args!("{}\n", report::json_error(&e.0, &file.display().to_string())))?;
                    Err(e)
                }
            }
        }
        Cmd::Check { file, format: Format::Sarif, engine } => {
            match engine.limits().and_then(|limits| engine::compile_file(engine.engine, &file, limits)) {
                Ok((sources, compiled)) => {
                    print(format_args!("{}\n", report::sarif(&compiled.diagnostics, &sources, None)))?;
                    Ok(exit(&compiled))
                }
                Err(e) => {
                    print(format_args!("{}\n", report::sarif(&[], &[], Some(&report::safe(&e.0)))))?;
                    Err(e)
                }
            }
        }
        Cmd::Check { file, format: Format::Human, engine } => {
            let (sources, compiled) = compile(&file, &engine)?;
            if !compiled.has_errors() {
                let warnings = compiled.diagnostics.len();
                say(format_args!(
                    "{}: no errors{}\n",
                    report::safe(&sources[0].0),
                    if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() }
                ));
            }
            Ok(exit(&compiled))
        }
        Cmd::Compile { file, out, engine } => {
            let Some(compiled) = without_errors(&file, &engine)? else { return Ok(ExitCode::FAILURE) };
            let outputs: Vec<(&str, &str)> =
                compiled.files.iter().map(|f| (f.name.as_str(), f.text.as_str())).collect();
            let stale: Vec<&str> = xmpp_compiler::facts::Server::ALL
                .into_iter()
                .map(xmpp_compiler::emit::file_name)
                .filter(|name| !outputs.iter().any(|(n, _)| n == name))
                .collect();
            for path in files::write_all(&out, &outputs, &stale)? {
                print(format_args!("{}\n", report::safe(&path.display().to_string())))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Configmap { file, name, namespace, engine } => {
            let Some(compiled) = without_errors(&file, &engine)? else { return Ok(ExitCode::FAILURE) };
            print(manifests::configmap_yaml(&compiled, &name, namespace.as_deref()).map_err(Error::new)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Values { file, out, check, engine } => {
            let Some(compiled) = without_errors(&file, &engine)? else { return Ok(ExitCode::FAILURE) };
            let shown = report::safe(&file.display().to_string());
            let text = format!(
                "# Chart values compiled from {} by `helm xmpp values`; do not edit, run it again.\n{}",
                xmpp_compiler::emit::one_line(&shown),
                manifests::values_yaml(&compiled).map_err(Error::new)?
            );
            let target = report::safe(&out.display().to_string());
            if check {
                if std::fs::read(&out).is_ok_and(|old| old == text.as_bytes()) {
                    return Ok(ExitCode::SUCCESS);
                }
                say(format_args!("{target} is stale or missing; run `helm xmpp values {shown} -o {target}`\n"));
                return Ok(ExitCode::FAILURE);
            }
            let (dir, name) = files::split_path(&out)?;
            files::write_all(&dir, &[(&name, &text)], &[])?;
            print(format_args!("{target}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Diff { files, release, engine } => match changes(&files, release.as_deref(), &engine) {
            Ok(Some(said)) => {
                for line in &said {
                    print(format_args!("{}\n", report::safe(line)))?;
                }
                Ok(if said.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            Ok(None) => Ok(ExitCode::from(2)),
            Err(e) => {
                say(format_args!("error: {}\n", report::safe(&e.0)));
                Ok(ExitCode::from(2))
            }
        },
        Cmd::Import { file, out, engine } => {
            let (shown, text) = files::read_source(&file)?;
            let server = if file.extension().is_some_and(|e| e == "lua") { "prosody" } else { "ejabberd" };
            let (compiler, limits) = (Compiler::new(engine.engine)?, engine.limits()?);
            // The compiler's first error on the last attempt, said when the import fails for it.
            let mut refused = None;
            let mut compile = |dsl: &str| -> Result<Option<String>> {
                let c = compiler.compile(&[("imported.xmpp".to_string(), dsl.to_string())], limits)?;
                refused =
                    c.diagnostics.iter().find(|d| d.is_error()).map(|d| format!("{}: {}", d.code.as_str(), d.message));
                let text = c.files.iter().find(|f| f.server == server).map(|f| f.text.clone());
                Ok(text.filter(|_| !c.has_errors()))
            };
            let imported = match server {
                "prosody" => helm_xmpp::import::prosody::import(&text, &mut compile),
                _ => helm_xmpp::import::ejabberd(&text, &mut compile),
            }
            // An error at a place says `line:col: …`, which joins the file name as `file:line:col: …`.
            .map_err(|e| {
                let at = if e.0.starts_with(|c: char| c.is_ascii_digit()) { ":" } else { ": " };
                let why = refused.map(|r| format!(" (the compiler: {r})")).unwrap_or_default();
                Error::new(format!("{}{at}{}{why}", report::safe(&shown), e.0))
            })?;
            let (dir, name) = files::split_path(&out)?;
            files::write_all(&dir, &[(&name, &imported.dsl)], &[])?;
            let total = imported.mapped.len() + imported.kept.len() + imported.left_out.len();
            say(format_args!(
                "{}: {} of {total} options as statements, {} kept as written\n",
                report::safe(&shown),
                imported.mapped.len(),
                imported.kept.len()
            ));
            for (var, option) in &imported.secrets {
                say(format_args!("put in the Secret: {var} (the value of {option})\n"));
            }
            for line in &imported.unread {
                say(format_args!(
                    "kept, not followed: {line}: the file must be beside prosody.cfg.lua where Prosody runs\n"
                ));
            }
            for option in &imported.left_out {
                say(format_args!("left out, a secret with no reference in the language: {option}\n"));
            }
            print(format_args!("{}\n", report::safe(&out.display().to_string())))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Lsp { engine } => {
            helm_xmpp::lsp::serve(Compiler::new(engine.engine)?, engine.limits()?)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Render(a) => with_helm("template", a),
        Cmd::Install(a) => with_helm("install", a),
        Cmd::Upgrade(a) => with_helm("upgrade", a),
        Cmd::Lint(a) => with_helm("lint", a),
        Cmd::Postrender { dsl, name, engine } => {
            let Some(compiled) = without_errors(&dsl, &engine)? else { return Ok(ExitCode::FAILURE) };
            let input = read_manifests()?;
            print(manifests::postrender(&input, &compiled, &name).map_err(Error::new)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What changes from the old config (a DSL file, or what `release` was given) to the new DSL file;
/// `None` when a DSL file has errors (printed).
fn changes(files: &[PathBuf], release: Option<&str>, engine: &EngineArgs) -> Result<Option<Vec<String>>> {
    let values = |file: &Path| -> Result<Option<serde_norway::Value>> {
        let Some(compiled) = without_errors(file, engine)? else { return Ok(None) };
        let text = manifests::values_yaml(&compiled).map_err(Error::new)?;
        serde_norway::from_str(&text).map(Some).map_err(|e| Error::new(format!("cannot read the values: {e}")))
    };
    let (old, new) = match (release, files) {
        (Some(name), [new]) => (helm::release_values(name)?, new),
        (None, [old, new]) => match values(old)? {
            Some(old) => (old, new),
            None => return Ok(None),
        },
        (Some(_), _) => {
            return Err(Error::new("with --release, give one DSL file: the one to compare with the release"));
        }
        (None, _) => return Err(Error::new("give two DSL files, OLD.xmpp NEW.xmpp, or --release NAME NEW.xmpp")),
    };
    Ok(values(new)?.map(|new| diff::describe(&old, &new)))
}

/// The manifests on standard input: UTF-8, at most `manifests::MAX_MANIFEST_BYTES`.
fn read_manifests() -> Result<String> {
    use std::io::Read as _;
    let cannot = |e: &dyn Display| Error::new(format!("cannot read the manifests on standard input: {e}"));
    let mut bytes = Vec::new();
    std::io::stdin().take(manifests::MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes).map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > manifests::MAX_MANIFEST_BYTES {
        return Err(cannot(&format_args!("more than {} MiB", manifests::MAX_MANIFEST_BYTES >> 20)));
    }
    String::from_utf8(bytes).map_err(|e| cannot(&format_args!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

fn with_helm(subcommand: &str, a: HelmArgs) -> Result<ExitCode> {
    let (dsl, rest) = helm::split_args(&a.args)?;
    let Some(compiled) = without_errors(&dsl, &a.engine)? else {
        say(format_args!("error: {} has errors; helm was not run\n", report::safe(&dsl.display().to_string())));
        return Ok(ExitCode::FAILURE);
    };
    let tmp = tempfile::Builder::new()
        .prefix("helm-xmpp-")
        .tempdir()
        .map_err(|e| Error::new(format!("cannot create a temporary folder: {e}")))?;
    let values = tmp.path().join("compiled-values.yaml");
    files::write_all(
        tmp.path(),
        &[("compiled-values.yaml", &manifests::values_yaml(&compiled).map_err(Error::new)?)],
        &[],
    )?;
    let status = helm::run(subcommand, &rest, &values)?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The most diagnostics printed for people; `check --format json` lists all the compiler kept.
const MAX_SHOWN: usize = 100;

/// Reads and compiles the root file, printing its diagnostics to standard error (the first
/// `MAX_SHOWN`, then how many more there are).
fn compile(file: &Path, e: &EngineArgs) -> Result<(Vec<(String, String)>, Compiled)> {
    let (sources, compiled) = engine::compile_file(e.engine, file, e.limits()?)?;
    for d in compiled.diagnostics.iter().take(MAX_SHOWN) {
        say(report::render(d, &sources));
    }
    let more = compiled.diagnostics.len().saturating_sub(MAX_SHOWN) + compiled.omitted;
    if more > 0 {
        say(format_args!("note: {more} more diagnostics not shown; fix these first\n"));
    }
    Ok((sources, compiled))
}

/// `compile`, keeping the result only when it has no error (the diagnostics are printed either way).
fn without_errors(file: &Path, e: &EngineArgs) -> Result<Option<Compiled>> {
    let (_, compiled) = compile(file, e)?;
    Ok((!compiled.has_errors()).then_some(compiled))
}

impl EngineArgs {
    fn limits(&self) -> Result<Limits> {
        let memory = self.max_memory.checked_shl(20).ok_or_else(|| Error::new("--max-memory is too large"))?;
        Ok(Limits { fuel: self.fuel, memory })
    }
}

fn exit(c: &Compiled) -> ExitCode {
    if c.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
