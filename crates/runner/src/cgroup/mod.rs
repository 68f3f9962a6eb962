//! One cgroup per run, for the memory (swap included), pids and CPU caps and
//! for honest numbers (peak memory, CPU time of every process of the run).
//! cgroup v2 when its memory, pids and cpu controllers are available, else
//! the v1 hierarchies. This is the runner's side: finding and preparing the
//! hierarchy at start, creating each run's cgroup with its caps, reading its
//! numbers, killing what is left and removing it. The sandbox's own step (the
//! helper moving the init in) is `sandbox::cgroup`.

/// Which cgroup interface is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

mod host;
mod run;

pub use host::CgroupHost;
pub use run::RunCgroup;

use std::path::Path;

/// How a run's processes compete for CPU with the other runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuPriority {
    /// The kernel's default weight.
    #[default]
    Normal,
    /// Lowest weight: a warm sandbox being built only takes CPU that the
    /// running programs and the runner leave idle, so refills never slow
    /// the runs they are meant to speed up.
    Background,
}

impl CpuPriority {
    /// v2 `cpu.weight` and v1 `cpu.shares` values.
    pub(super) fn weights(self) -> (&'static str, &'static str) {
        match self {
            Self::Normal => ("100", "1024"),
            Self::Background => ("1", "2"),
        }
    }
}

/// Caps of one run's cgroup; a cap left `None` is not set.
#[derive(Debug, Clone, Copy)]
pub struct CgroupLimits {
    /// Memory cap in bytes, swap included.
    pub memory_bytes: Option<u64>,
    /// Most processes and threads at once.
    pub pids: Option<u64>,
    /// CPU bandwidth in thousandths of a CPU (1000 = one full core).
    pub cpu_millis: Option<u64>,
    /// CPU weight against the other runs.
    pub priority: CpuPriority,
}

pub(super) fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Whether this process (by its effective ids) may write `path`.
pub(super) fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: faccessat reads a NUL-terminated path owned by this frame.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

pub(super) fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a `key value` lines file (memory.events, cpu.stat …).
pub(super) fn keyed_u64(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// SIGKILLs every process listed in `dir`'s cgroup.procs.
pub(super) fn kill_procs(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) with a pid read from the run's own cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
