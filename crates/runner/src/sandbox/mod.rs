//! The sandbox, built from syscalls. The runner starts a fresh, single-threaded
//! helper process per sandbox (`execgate sandbox-init`) with the spec on fd 4;
//! the helper clones the sandbox's init into new user, pid, mount, net, ipc and
//! uts namespaces, maps its ids, moves it into the run's cgroup, lets it go, and
//! waits. The init contains itself step by step (see `child::contain`) and
//! starts the program. Events go back to the runner as JSON lines on fd 3.
//! Killing the helper kills the init (parent-death signal), which tears down
//! the whole pid namespace.

mod cgroup;
mod child;
mod files;
mod mount;
mod net;
pub mod rlimit;
pub mod seccomp;
mod sys;
pub mod user;
mod uts;

use crate::spec::{EVENT_FD, Event, MAX_SPEC_BYTES, PAYLOAD_FD, SPEC_FD, SandboxSpec};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use sys::{SetupError, Step, StepResult, check};

/// Namespaces of a new sandbox (the cgroup namespace follows after the cgroup join).
const CLONE_FLAGS: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// Host pid of the sandbox's init, for the stop handler.
static INIT_PID: AtomicI32 = AtomicI32::new(0);

/// SIGTERM handler of the helper: kill the init, so that `waitpid` returns only
/// once the kernel has torn down the whole pid namespace, and the helper (not
/// the host's pid 1) reaps it. Only async-signal-safe calls.
extern "C" fn on_stop(_: libc::c_int) {
    let pid = INIT_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Installs `handler` (or the default action) for `signal`.
fn set_handler(signal: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: a zeroed sigaction with a valid handler address or SIG_DFL.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// Asks the kernel to end this process (SIGTERM) when its parent exits, so a
/// runner started by `execgate up` never outlives it, even if `up` is killed.
/// `false` when the parent is no longer `expected` (it died before the ask).
pub fn exit_with_parent(expected: u32) -> bool {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) };
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    u32::try_from(parent).is_ok_and(|p| p == expected)
}

/// Entry point of the hidden `sandbox-init` subcommand; never returns.
pub fn sandbox_init_main() -> ! {
    // SAFETY: prctl with integer arguments: die with the runner.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    set_handler(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
    let result = place_fds()
        .and_then(|()| read_spec())
        .and_then(|spec| helper(&spec));
    match result {
        Ok(()) => sys::exit_now(0),
        Err(e) => {
            child::emit_failed(&e);
            sys::exit_now(1)
        }
    }
}

/// Moves the fds the runner passed (numbers after `sandbox-init`: events,
/// spec, and a warm sandbox's payload) to their fixed places and closes every
/// other inherited fd. The runner spawns through `posix_spawn`, which cannot
/// place them itself.
fn place_fds() -> StepResult {
    let bad = |detail: String| SetupError {
        step: Step::ReadSpec,
        errno: libc::EBADF,
        detail,
    };
    let passed: Vec<i32> = std::env::args()
        .skip(2)
        .map(|a| a.parse().map_err(|_| bad(format!("fd argument {a:?}"))))
        .collect::<Result<_, _>>()?;
    let places = [EVENT_FD, SPEC_FD, PAYLOAD_FD];
    if !(2..=places.len()).contains(&passed.len()) {
        return Err(bad(format!("{} fd arguments", passed.len())));
    }
    // Two passes, through fds above every target, so no move overwrites a source.
    let mut high = Vec::with_capacity(passed.len());
    for &fd in &passed {
        // SAFETY: fcntl duplicates an fd of this process; no memory is touched.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 16) };
        check(dup.into(), Step::ReadSpec, "passed fd")?;
        high.push(dup);
    }
    for (&dup, &place) in high.iter().zip(&places) {
        // SAFETY: dup2 between fds of this process.
        check(
            unsafe { libc::dup2(dup, place) }.into(),
            Step::ReadSpec,
            "dup2",
        )?;
    }
    let first_free = places[passed.len() - 1] + 1;
    // SAFETY: closes fds of this process only; the ones in use are below first_free.
    let ret = unsafe { libc::close_range(first_free as libc::c_uint, libc::c_uint::MAX, 0) };
    check(ret.into(), Step::ReadSpec, "close_range")
}

fn read_spec() -> Result<SandboxSpec, SetupError> {
    // SAFETY: fd 4 was set up by the runner for this process alone; the File
    // takes ownership and closes it after reading.
    let file = unsafe { std::fs::File::from_raw_fd(SPEC_FD) };
    let mut text = Vec::new();
    file.take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| SetupError::io(Step::ReadSpec, &e, "spec fd"))?;
    if text.len() > MAX_SPEC_BYTES {
        return Err(SetupError {
            step: Step::ReadSpec,
            errno: libc::E2BIG,
            detail: "spec too large".into(),
        });
    }
    serde_json::from_slice(&text).map_err(|e| SetupError {
        step: Step::ReadSpec,
        errno: libc::EINVAL,
        detail: e.to_string(),
    })
}

/// Clones the init, sets it up from outside, releases it, waits for it.
fn helper(spec: &SandboxSpec) -> StepResult {
    let ids = user::IdMap::for_this_process(spec.host_id_base);
    let (sync_r, sync_w) = sys::pipe(Step::Sync)?;
    // SAFETY: raw clone without a new stack behaves like fork; this process
    // is single-threaded, so the child may run arbitrary code.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (CLONE_FLAGS | libc::SIGCHLD) as libc::c_ulong,
            0,
            0,
            0,
            0,
        )
    } as i32;
    if pid < 0 {
        return Err(SetupError::last(Step::Clone, "clone"));
    }
    if pid == 0 {
        set_handler(libc::SIGTERM, libc::SIG_DFL);
        sys::close(sync_w);
        child::child_main(spec, ids, sync_r);
    }
    INIT_PID.store(pid, Ordering::SeqCst);
    sys::close(sync_r);
    // Only the sandbox keeps the program's stdio open, so its EOF means its end.
    for fd in 0..3 {
        sys::close(fd);
    }
    let outside = user::parent_setup(pid, ids).and_then(|()| cgroup::join(pid, &spec.cgroup_procs));
    if let Err(e) = outside {
        // SAFETY: kill our own child; it has not been reaped, so the pid is still ours.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait(pid);
        return Err(e);
    }
    child::emit(&Event::Cloned { pid });
    sys::write_all(sync_w, &[1]);
    sys::close(sync_w);
    wait(pid);
    Ok(())
}

fn wait(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on our own child, status into a local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}
