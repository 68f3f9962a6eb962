//! The sandbox's init (pid 1 of the new pid namespace) and the program it
//! starts. `contain` is the whole containment, in order, on one screen; each
//! step lives in its own module. The init stays as a tiny reaper so that the
//! program is not pid 1 (signals behave normally), orphans are reaped, and
//! when the program ends the init exits, which makes the kernel kill every
//! other process of the namespace.

use super::sys::{self, SetupError, Step, StepResult, check, cstr};
use super::user::IdMap;
use super::{cgroup, files, mount, net, rlimit, seccomp, user, uts};
use crate::spec::{EVENT_FD, Event, PAYLOAD_FD, SandboxSpec};
use std::ffi::CString;

/// The containment steps, in order; seccomp is last before exec.
fn contain(spec: &SandboxSpec, ids: IdMap) -> StepResult {
    user::child_setup(ids)?;
    cgroup::child_setup()?;
    mount::child_setup(spec)?;
    net::child_setup()?;
    uts::child_setup()?;
    user::drop_privileges()?;
    files::child_setup(&spec.files)?;
    rlimit::child_setup(&spec.rlimits)?;
    // SAFETY: prctl with integer arguments; keeps the program out of /proc/1.
    let ret = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    check(ret.into(), Step::Privileges, "PR_SET_DUMPABLE")?;
    seccomp::child_setup()
}

/// Sends one event line to the runner (one write, so lines never interleave).
pub fn emit(event: &Event) {
    if let Ok(mut line) = serde_json::to_vec(event) {
        line.push(b'\n');
        sys::write_all(EVENT_FD, &line);
    }
}

/// Reports a failed step.
pub fn emit_failed(err: &SetupError) {
    emit(&Event::Failed {
        step: err.step.as_str().into(),
        errno: err.errno,
        detail: err.detail.clone(),
    });
}

/// Entry of the cloned init: waits for the helper's go, contains, starts the program.
pub fn child_main(spec: &SandboxSpec, ids: IdMap, sync_fd: i32) -> ! {
    // SAFETY: prctl with integer arguments: die with the helper.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if sys::read_byte(sync_fd) != Some(1) {
        sys::exit_now(1);
    }
    sys::close(sync_fd);
    let prepared = contain(spec, ids).and_then(|()| exec_args(spec));
    let (argv, env) = match prepared {
        Ok(v) => v,
        Err(e) => {
            emit_failed(&e);
            sys::exit_now(127)
        }
    };
    let (exec_r, exec_w) = match sys::pipe(Step::Exec) {
        Ok(p) => p,
        Err(e) => {
            emit_failed(&e);
            sys::exit_now(127)
        }
    };
    // SAFETY: this process is single-threaded, so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        emit_failed(&SetupError::last(Step::Exec, "fork"));
        sys::exit_now(127);
    }
    if pid == 0 {
        sys::close(exec_r);
        program(spec.warm, &argv, &env, exec_w);
    }
    sys::close(exec_w);
    // The init never writes output: the runner sees EOF once the program's processes are gone.
    for fd in 0..3 {
        sys::close(fd);
    }
    init_loop(spec, pid, exec_r)
}

type ExecArgs = (Vec<CString>, Vec<CString>);

fn exec_args(spec: &SandboxSpec) -> Result<ExecArgs, SetupError> {
    let argv = spec
        .argv
        .iter()
        .map(|a| cstr(Step::Exec, a))
        .collect::<Result<Vec<_>, _>>()?;
    let env = spec
        .env
        .iter()
        .map(|(k, v)| cstr(Step::Exec, &format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    if argv.is_empty() {
        return Err(SetupError {
            step: Step::Exec,
            errno: libc::EINVAL,
            detail: "empty argv".into(),
        });
    }
    Ok((argv, env))
}

/// The program process: the normal priority, fds in place, then exec. Exec
/// failure goes back as an errno.
fn program(warm: bool, argv: &[CString], env: &[CString], exec_w: i32) -> ! {
    // SAFETY: fd juggling and execve on pointers into live CStrings; the
    // pointer arrays are NULL-terminated; setpriority takes integers.
    unsafe {
        // The helper and the init build the sandbox at the runner's raised
        // priority (see `prioritize_runner_threads`); the program gets none
        // of it, and without CAP_SYS_NICE or RLIMIT_NICE cannot take it back.
        libc::setpriority(libc::PRIO_PROCESS, 0, 0);
        let first_closed = if warm {
            libc::dup2(PAYLOAD_FD, 3);
            4
        } else {
            3
        };
        libc::close_range(
            first_closed,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as i32,
        );
        let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_p.push(std::ptr::null());
        let mut env_p: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
        env_p.push(std::ptr::null());
        libc::execve(argv_p[0], argv_p.as_ptr(), env_p.as_ptr());
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    sys::write_all(exec_w, &errno.to_le_bytes());
    sys::exit_now(127)
}

/// The init after fork: report the exec, reap everything, report the program's end.
fn init_loop(spec: &SandboxSpec, program_pid: i32, exec_r: i32) -> ! {
    let mut errno = [0u8; 4];
    // SAFETY: reads up to four bytes into a local array.
    let n = unsafe { libc::read(exec_r, errno.as_mut_ptr().cast(), 4) };
    sys::close(exec_r);
    if n > 0 {
        let errno = i32::from_le_bytes(errno);
        emit_failed(&SetupError {
            step: Step::Exec,
            errno,
            detail: spec.argv[0].clone(),
        });
    } else {
        emit(&Event::Started);
    }
    let status = reap_until(program_pid);
    kill_all_and_reap();
    let (code, signal) = if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (Some(libc::WEXITSTATUS(status)), None)
    };
    if let (Some(name), Some(0)) = (&spec.collect, code) {
        match files::collect(name, spec.collect_max_bytes) {
            Ok(content) => emit(&Event::Artifact { content }),
            Err(e) => emit_failed(&e),
        }
    }
    // Last event, sent once no other process of the namespace exists.
    emit(&Event::Exited { code, signal });
    sys::exit_now(0)
}

/// Kills every other process of the namespace (daemons, orphans) and reaps
/// them all, so that `Exited` means the run is over.
fn kill_all_and_reap() {
    // SAFETY: kill(-1) from the namespace's init reaches only processes of
    // this namespace; waitpid writes into a local.
    unsafe {
        libc::kill(-1, libc::SIGKILL);
        let mut status = 0;
        loop {
            let got = libc::waitpid(-1, &mut status, 0);
            if got < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

/// Reaps children until `pid` ends; returns its wait status.
fn reap_until(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got == pid {
            return status;
        }
        if got < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            return 0;
        }
    }
}
