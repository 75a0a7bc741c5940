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
    use std::os::unix::fs::OpenOptionsExt as _;
    let cannot = |e: &dyn std::fmt::Display| Error::new(format!("cannot read {}: {e}", path.display()));
    // Opened without blocking (a FIFO would wait for a writer), then checked on the open file itself,
    // so nothing can be swapped in between the check and the read.
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| cannot(&e))?;
    if !file.metadata().map_err(|e| cannot(&e))?.is_file() {
        return Err(cannot(&"not a regular file (a folder, FIFO or device); the compiler reads files only"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(cannot(&format_args!("larger than {} MiB; split it with `include`", MAX_SOURCE_BYTES >> 20)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        // The valid part is text; its lines are counted as the compiler counts them.
        let good = String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]).into_owned();
        let starts = xmpp_compiler::diagnostic::line_breaks(&good);
        let (line, line_start) = starts.fold((1, 0), |(n, _), start| (n + 1, start));
        let col = good[line_start..].chars().count() + 1;
        cannot(&format_args!("not UTF-8 at line {line}, column {col}; save it as UTF-8"))
    })?;
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

/// Writes every `(name, text)` into `dir` as one change, and removes the files named in `stale` (those
/// of servers this compile does not target) when a compile wrote them.
///
/// - One writer at a time: the folder is locked (`flock`) for the whole change, so compiles racing into
///   one folder leave the files of one of them, never a mix.
/// - All or nothing as far as a file system allows: each text goes first to a temporary file beside
///   its target (`tempfile`, removed on any failure), so a full disk or a read-only folder leaves every
///   target untouched. Then the temporary files are renamed into place, each rename atomic; should one
///   fail (a target that is a folder), the targets already replaced get their old text back.
/// - A stale file that a person wrote (no generated header) is never removed: that is an error, before
///   anything is written.
/// - A target that already holds the text is left alone (its time stamp too). Outputs are not forced
///   to disk (no fsync, which cost more than the whole compile).
pub fn write_all(dir: &Path, files: &[(&str, &str)], stale: &[&str]) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let lock = fs::File::open(dir).and_then(|f| f.lock().map(|()| f));
    let _lock = lock.map_err(|e| Error::new(format!("cannot lock {} for writing: {e}", dir.display())))?;

    let mut remove = Vec::new();
    for name in stale {
        let path = dir.join(name);
        match fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Ok(text) if xmpp_compiler::emit::is_generated(&String::from_utf8_lossy(&text)) => remove.push(path),
            _ => {
                return Err(Error::new(format!(
                    "{} is not a file a compile wrote, and this compile does not target its server; \
                     move it away or write into another folder (nothing was written)",
                    path.display()
                )));
            }
        }
    }

    let mut staged = Vec::new();
    for (name, text) in files {
        let target = dir.join(name);
        let old = fs::read(&target).ok();
        if old.as_deref() == Some(text.as_bytes()) {
            continue;
        }
        let tmp = stage(dir, name, text.as_bytes())
            .map_err(|e| Error::new(format!("cannot write {}: {e} (nothing was changed)", target.display())))?;
        staged.push((tmp, target, old));
    }
    for i in 0..staged.len() {
        let (tmp, target) = (&staged[i].0, &staged[i].1);
        if let Err(e) = fs::rename(tmp.path(), target) {
            let undone = staged[..i].iter().map(|(_, t, old)| undo(dir, t, old.as_deref())).collect::<Vec<_>>();
            let left: Vec<String> = undone.into_iter().filter_map(|r| r.err()).collect();
            let state = if left.is_empty() {
                "nothing was changed".to_string()
            } else {
                format!("and could not put back {}", left.join("; "))
            };
            return Err(Error::new(format!("cannot write {}: {e} ({state})", target.display())));
        }
    }
    for path in remove {
        fs::remove_file(&path).map_err(|e| Error::new(format!("cannot remove the stale {}: {e}", path.display())))?;
    }
    Ok(files.iter().map(|(name, _)| dir.join(name)).collect())
}

/// `bytes` in a temporary file in `dir`, created as `File::create` would create the target (0666 less
/// the umask), not private as a temporary file is by default: it becomes an output a server's own
/// user reads.
fn stage(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let prefix = format!(".{name}.");
    let mut staging = tempfile::Builder::new();
    staging.prefix(&prefix);
    #[cfg(unix)]
    staging.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = staging.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    Ok(tmp)
}

/// Puts a replaced target back as it was: its old text, or no file.
fn undo(dir: &Path, target: &Path, old: Option<&[u8]>) -> std::result::Result<(), String> {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let put_back = match old {
        Some(bytes) => stage(dir, &name, bytes).and_then(|tmp| tmp.persist(target).map(drop).map_err(|e| e.error)),
        None => fs::remove_file(target),
    };
    put_back.map_err(|e| format!("{}: {e}", target.display()))
}

/// Replaces the text of an existing file the way an editor saving it would: the file stays what it
/// was. A symbolic link stays a link (its target is rewritten); mode and owner stay; a file with other
/// hard links is rewritten in place so that every name still shows the new text. A read-only file is
/// refused, as `fmt` must not change what its owner protected.
pub fn rewrite(path: &Path, old: &str, text: &str) -> Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let cannot = |e: &dyn std::fmt::Display| Error::new(format!("cannot rewrite {}: {e}", path.display()));
    let real = path.canonicalize().map_err(|e| cannot(&e))?;
    let meta = fs::metadata(&real).map_err(|e| cannot(&e))?;
    if meta.permissions().mode() & 0o222 == 0 {
        return Err(cannot(&"it is read-only; make it writable first, or use `fmt --check`"));
    }
    let (dir, name) = split_path(&real)?;
    let owned_alike = |tmp: &tempfile::NamedTempFile| {
        let m = tmp.as_file().metadata()?;
        if (m.uid(), m.gid()) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()))?;
        }
        tmp.as_file().set_permissions(meta.permissions())
    };
    if meta.nlink() == 1 {
        let staged = stage(&dir, &name, text.as_bytes()).and_then(|tmp| owned_alike(&tmp).map(|()| tmp));
        if let Ok(tmp) = staged {
            return tmp.persist(&real).map(drop).map_err(|e| cannot(&e.error));
        }
    }
    // Other hard links, or a new file could not be given the old one's owner: write in place, and put
    // the old text back should that fail half-way.
    let write = |bytes: &[u8]| {
        let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&real)?;
        f.write_all(bytes)
    };
    write(text.as_bytes()).map_err(|e| match write(old.as_bytes()) {
        Ok(()) => cannot(&format_args!("{e} (left as it was)")),
        Err(again) => cannot(&format_args!("{e}, and could not put its old text back: {again}")),
    })
}
