//! The program's files, written by the sandbox itself into its own `/tmp`
//! (after pivot_root and the privilege drop), so no host-side code ever opens
//! a path the sandbox could have planted a symlink on. Collection of a
//! compile artifact reads it the same way, from inside, refusing symlinks.

use super::sys::{SetupError, Step, StepResult};
use crate::spec::SandboxFile;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// Inside, as the sandbox user: creates every file (never following symlinks).
pub fn child_setup(files: &[SandboxFile]) -> StepResult {
    for file in files {
        write_one(file).map_err(|e| SetupError::io(Step::Files, &e, &file.name))?;
    }
    Ok(())
}

fn write_one(file: &SandboxFile) -> std::io::Result<()> {
    let path = std::path::Path::new("/tmp").join(&file.name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mode = if file.executable { 0o700 } else { 0o600 };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    std::io::Write::write_all(&mut out, &file.content)?;
    out.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Inside, after the program: reads `/tmp/<name>` if it is a regular file under `max` bytes.
pub fn collect(name: &str, max: u64) -> Result<Vec<u8>, SetupError> {
    let path = std::path::Path::new("/tmp").join(name);
    let err = |e: std::io::Error| SetupError::io(Step::Collect, &e, name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if !meta.is_file() || meta.len() > max {
        return Err(SetupError {
            step: Step::Collect,
            errno: libc::EFBIG,
            detail: format!("{name}: not a regular file under {max} bytes"),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max).read_to_end(&mut bytes).map_err(err)?;
    Ok(bytes)
}
