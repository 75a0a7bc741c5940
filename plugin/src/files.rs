//! Reading sources and writing outputs: all files complete, or none touched.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The largest source file read: far beyond any real configuration, and well inside the sandbox's
/// memory bound.
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Reads a DSL file as `(path as given, text)`: a regular file (never a FIFO or a device, which could
/// block or never end) of at most `MAX_SOURCE_BYTES`, in UTF-8.
pub fn read_source(path: &Path) -> Result<(String, String)> {
    use std::io::Read as _;
    let cannot = |e: &dyn std::fmt::Display| Error::new(format!("cannot read {}: {e}", path.display()));
    // Checked before opening: opening a FIFO for reading waits for a writer.
    let meta = fs::metadata(path).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(cannot(&"not a regular file (a folder, FIFO or device); the compiler reads files only"));
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SOURCE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| cannot(&e))?;
    if text.len() as u64 > MAX_SOURCE_BYTES {
        return Err(cannot(&format_args!("larger than {} MiB; split it with `include`", MAX_SOURCE_BYTES >> 20)));
    }
    Ok((path.display().to_string(), text))
}

/// A file's folder and name, for rewriting it in place.
pub fn split_path(path: &Path) -> Result<(PathBuf, String)> {
    let name = path.file_name().ok_or_else(|| Error::new(format!("{} is not a file", path.display())))?;
    let dir = path.parent().map_or_else(
        || PathBuf::from("."),
        |p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() },
    );
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// The canonical folder of the root file: included files must stay inside it.
pub fn folder_of(root: &Path) -> Result<PathBuf> {
    let canonical = root.canonicalize().map_err(|e| Error::new(format!("cannot read {}: {e}", root.display())))?;
    Ok(canonical.parent().map(Path::to_path_buf).unwrap_or(canonical))
}

/// Reads an included file by the path the compiler resolved, refusing one whose real location
/// (after symbolic links) is outside `top`.
pub fn read_include(top: &Path, path: &str) -> Result<(String, String)> {
    let p = Path::new(path);
    let real = p.canonicalize().map_err(|e| Error::new(format!("cannot read the included file {path}: {e}")))?;
    if !real.starts_with(top) {
        return Err(Error::new(format!(
            "the included file {path} is outside {}; includes must stay inside the root file's folder",
            top.display()
        )));
    }
    read_source(p)
}

/// Writes every `(name, text)` into `dir`, all or nothing as far as a file system allows: first each
/// text goes to a private temporary file beside its target (`tempfile`, removed on any failure), then
/// the temporary files are renamed into place, each rename atomic. A failure while writing (a full
/// disk, a read-only folder, a file too large) leaves every target untouched. The renames come last
/// and stay inside one folder, so they fail only when a target itself cannot be replaced (e.g. it is a
/// folder); then the targets renamed before it already hold their new text, and the error names them.
/// A target that already holds the text is left alone (its time stamp too). Outputs are not forced to
/// disk (no fsync, which cost more than the whole compile).
pub fn write_all(dir: &Path, files: &[(&str, &str)]) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let mut staged = Vec::new();
    for (name, text) in files {
        let target = dir.join(name);
        if fs::read(&target).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        let cannot = |e: std::io::Error| Error::new(format!("cannot write {}: {e}", target.display()));
        // Created as `File::create` would create the target (0666 less the umask), not private as a
        // temporary file is by default: it becomes the output, which a server's own user reads.
        let prefix = format!(".{name}.");
        let mut staging = tempfile::Builder::new();
        staging.prefix(&prefix);
        #[cfg(unix)]
        staging.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut tmp = staging.tempfile_in(dir).map_err(cannot)?;
        tmp.write_all(text.as_bytes()).map_err(cannot)?;
        staged.push((tmp, target));
    }
    let mut replaced: Vec<String> = Vec::new();
    for (tmp, target) in staged {
        if let Err(e) = tmp.persist(&target) {
            let done = if replaced.is_empty() {
                "no file was replaced".to_string()
            } else {
                format!("already replaced: {}", replaced.join(", "))
            };
            return Err(Error::new(format!("cannot write {}: {} ({done})", target.display(), e.error)));
        }
        replaced.push(target.display().to_string());
    }
    Ok(files.iter().map(|(name, _)| dir.join(name)).collect())
}
