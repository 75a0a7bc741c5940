//! Reading sources and writing outputs: all files complete, or none touched.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Reads the root DSL file as `(path as given, text)`.
pub fn read_source(path: &Path) -> Result<(String, String)> {
    let text = fs::read_to_string(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
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

/// Writes every `(name, text)` into `dir`: first all to temporary files beside their targets, then each
/// renamed into place. On any failure the temporary files are removed and no target is touched. A
/// target that already holds the text is left alone (its time stamp too). Renames make the outputs
/// atomic; they are not forced to disk (no fsync, which cost more than the whole compile).
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        for (name, text) in files {
            let target = dir.join(name);
            if fs::read(&target).is_ok_and(|old| old == text.as_bytes()) {
                continue;
            }
            let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            staged.push((tmp.clone(), target));
            let mut f =
                fs::File::create(&tmp).map_err(|e| Error::new(format!("cannot write {}: {e}", tmp.display())))?;
            f.write_all(text.as_bytes()).map_err(|e| Error::new(format!("cannot write {}: {e}", tmp.display())))?;
        }
        for (tmp, target) in &staged {
            fs::rename(tmp, target).map_err(|e| Error::new(format!("cannot write {}: {e}", target.display())))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    Ok(files.iter().map(|(name, _)| dir.join(name)).collect())
}

/// A private temporary folder, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("{prefix}-{}-{nanos}-{attempt}", std::process::id()));
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::new(format!("cannot create a folder in {}: {e}", base.display())));
                }
            }
        }
        Err(Error::new("cannot create a temporary folder"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
