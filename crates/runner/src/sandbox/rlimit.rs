//! Rlimits of the program. They back up the cgroup and the runner's own
//! watch (e.g. RLIMIT_CPU catches a spin even if the runner stalls); a limit
//! left `None` is not touched. Core dumps are always off, and so is raising
//! one's priority (RLIMIT_NICE 0).

use super::sys::{Step, StepResult, check};
use crate::spec::Rlimits;

/// Inside: applies every set limit, soft = hard.
pub fn child_setup(limits: &Rlimits) -> StepResult {
    let table = [
        (libc::RLIMIT_CPU, limits.cpu_secs, "RLIMIT_CPU"),
        (libc::RLIMIT_AS, limits.address_space, "RLIMIT_AS"),
        (libc::RLIMIT_NPROC, limits.nproc, "RLIMIT_NPROC"),
        (libc::RLIMIT_NOFILE, limits.nofile, "RLIMIT_NOFILE"),
        (libc::RLIMIT_FSIZE, limits.fsize, "RLIMIT_FSIZE"),
        (libc::RLIMIT_STACK, limits.stack, "RLIMIT_STACK"),
        (libc::RLIMIT_CORE, Some(0), "RLIMIT_CORE"),
        // No raising one's priority back (the sandbox is built at the runner's).
        (libc::RLIMIT_NICE, Some(0), "RLIMIT_NICE"),
    ];
    for (resource, value, name) in table {
        let Some(value) = value else { continue };
        let lim = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads the local struct.
        let ret = unsafe { libc::setrlimit(resource, &lim) };
        check(ret.into(), Step::Rlimit, name)?;
    }
    Ok(())
}

/// Runner side, when a request claims a warm sandbox (built for the largest
/// CPU limit): lowers the RLIMIT_CPU backstop of its waiting processes (host
/// pids) to the request's, so warm and cold match. Raising a hard limit
/// would need CAP_SYS_RESOURCE, which a root without it (some VMs and
/// containers) lacks; lowering never does.
pub fn lower_cpu(pids: &[i32], secs: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: secs,
        rlim_max: secs,
    };
    for &pid in pids {
        // SAFETY: prlimit reads the local struct and writes nothing back (null old).
        let ret = unsafe { libc::prlimit(pid, libc::RLIMIT_CPU, &lim, std::ptr::null_mut()) };
        if ret < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
