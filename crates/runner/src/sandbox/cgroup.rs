//! The sandbox's cgroup step: the helper moves the sandbox's init into the
//! run's cgroup (created by the runner, `crate::cgroup`) before releasing it,
//! and the init then unshares a cgroup namespace rooted there.

use super::sys::{SetupError, Step, StepResult, check};
use std::path::PathBuf;

/// Helper side: moves the sandbox init `pid` into the run's cgroup.
pub fn join(pid: i32, procs_files: &[PathBuf]) -> StepResult {
    for file in procs_files {
        std::fs::write(file, pid.to_string())
            .map_err(|e| SetupError::io(Step::CgroupJoin, &e, file.display().to_string()))?;
    }
    Ok(())
}

/// Inside, once moved into the run's cgroup: a cgroup namespace rooted there,
/// so `/proc/self/cgroup` shows `/` and no host cgroup path.
pub fn child_setup() -> StepResult {
    // SAFETY: unshare with a flag constant.
    let ret = unsafe { libc::unshare(libc::CLONE_NEWCGROUP) };
    check(ret.into(), Step::CgroupJoin, "unshare(CLONE_NEWCGROUP)")
}
