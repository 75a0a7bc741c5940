//! Helm integration: compile first, then run Helm with the compiled files injected as values (made by
//! [`xmpp_compiler::manifests`]).
//!
//! `helm xmpp render CHART -f site.xmpp [helm flags…]` runs `$HELM_BIN template CHART [helm flags…]
//! -f <compiled values>`. A `-f`/`--values` argument naming a `.xmpp` file is the DSL; every other
//! argument goes to Helm untouched. Helm's global flags arrive as `HELM_*` variables, which the
//! child Helm inherits.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::{Error, Result};

/// Splits the DSL file out of Helm's arguments.
pub fn split_args(args: &[String]) -> Result<(PathBuf, Vec<String>)> {
    let mut dsl = None;
    let mut rest = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let value = match arg.as_str() {
            "-f" | "--values" | "--dsl" => it.peek().filter(|v| arg == "--dsl" || is_dsl(v)).map(|v| v.to_string()),
            a => a
                .strip_prefix("--values=")
                .or_else(|| a.strip_prefix("--dsl="))
                .or_else(|| a.strip_prefix("-f").filter(|v| !v.is_empty() && !v.starts_with('-')))
                .filter(|v| a.starts_with("--dsl=") || is_dsl(v))
                .map(str::to_string),
        };
        match value {
            Some(v) => {
                if dsl.replace(PathBuf::from(&v)).is_some() {
                    return Err(Error::new("only one DSL file may be given; try `include` in the root file"));
                }
                if matches!(arg.as_str(), "-f" | "--values" | "--dsl") {
                    it.next();
                }
            }
            None => rest.push(arg.clone()),
        }
    }
    let dsl = dsl.ok_or_else(|| Error::new("no DSL file given; try `-f site.xmpp`"))?;
    Ok((dsl, rest))
}

fn is_dsl(v: &str) -> bool {
    Path::new(v).extension().is_some_and(|e| e == "xmpp")
}

/// The Helm binary: `$HELM_BIN` when run as a plugin, else `helm` from `PATH`.
pub fn helm_bin() -> String {
    std::env::var("HELM_BIN").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| "helm".to_string())
}

/// Runs `helm SUBCOMMAND ARGS… -f VALUES` with inherited standard streams.
pub fn run(subcommand: &str, args: &[String], values: &Path) -> Result<ExitStatus> {
    let bin = helm_bin();
    Command::new(&bin)
        .arg(subcommand)
        .args(args)
        .arg("-f")
        .arg(values)
        .status()
        .map_err(|e| Error::new(format!("cannot run {bin}: {e}")))
}

/// The values the Helm release `name` was installed or upgraded with (`helm get values NAME -o json`),
/// in the namespace Helm's flags or environment give.
pub fn release_values(name: &str) -> Result<serde_norway::Value> {
    let bin = helm_bin();
    let o = Command::new(&bin)
        .args(["get", "values", name, "--output", "json"])
        .output()
        .map_err(|e| Error::new(format!("cannot run {bin}: {e}")))?;
    if !o.status.success() {
        let why = String::from_utf8_lossy(&o.stderr);
        return Err(Error::new(format!("{bin} get values {name} failed: {}", why.trim())));
    }
    let values: serde_norway::Value = serde_norway::from_slice(&o.stdout)
        .map_err(|e| Error::new(format!("cannot read the values of release {name}: {e}")))?;
    if !values["compiled"]["files"].is_sequence() {
        return Err(Error::new(format!(
            "release {name} has no compiled config in its values: it was not installed with `helm xmpp install`"
        )));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_xmpp_file_is_taken_and_the_rest_passed_through() {
        let (dsl, rest) =
            split_args(&strings(&["charts/xmpp", "-f", "a.xmpp", "-f", "v.yaml", "--set", "x=1"])).unwrap_or_default();
        assert_eq!(dsl, PathBuf::from("a.xmpp"));
        assert_eq!(rest, strings(&["charts/xmpp", "-f", "v.yaml", "--set", "x=1"]));
        let (dsl, rest) = split_args(&strings(&["--values=b.xmpp", "c", "-fd.yaml"])).unwrap_or_default();
        assert_eq!(dsl, PathBuf::from("b.xmpp"));
        assert_eq!(rest, strings(&["c", "-fd.yaml"]));
        assert!(split_args(&strings(&["c", "-f", "v.yaml"])).is_err());
        assert!(split_args(&strings(&["-f", "a.xmpp", "--dsl", "b.xmpp"])).is_err());
    }
}
