//! The thin syscall layer under the sandbox steps: a typed setup error that
//! names the failing step and its errno, and small safe wrappers around the
//! libc calls the steps share. All `unsafe` of the crate lives under `sandbox/`.

use std::ffi::CString;
use std::fmt;

/// A setup step of the sandbox, in the order `child::contain` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ReadSpec,
    Clone,
    UserMap,
    CgroupJoin,
    Sync,
    User,
    Mount,
    Net,
    Uts,
    Privileges,
    Files,
    Rlimit,
    Seccomp,
    Exec,
    Collect,
}

impl Step {
    /// The step's name as reported in events and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ReadSpec => "read_spec",
            Step::Clone => "clone",
            Step::UserMap => "user_map",
            Step::CgroupJoin => "cgroup_join",
            Step::Sync => "sync",
            Step::User => "user",
            Step::Mount => "mount",
            Step::Net => "net",
            Step::Uts => "uts",
            Step::Privileges => "privileges",
            Step::Files => "files",
            Step::Rlimit => "rlimit",
            Step::Seccomp => "seccomp",
            Step::Exec => "exec",
            Step::Collect => "collect",
        }
    }
}

/// A failed setup step: which, the errno, and what it was doing.
#[derive(Debug, Clone)]
pub struct SetupError {
    /// The step that failed.
    pub step: Step,
    /// The errno (0 when not a syscall failure).
    pub errno: i32,
    /// What was being done, e.g. the path.
    pub detail: String,
}

impl SetupError {
    /// An error for `step` carrying the current errno.
    pub fn last(step: Step, detail: impl Into<String>) -> Self {
        Self {
            step,
            errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            detail: detail.into(),
        }
    }

    /// An error for `step` from an `io::Error`.
    pub fn io(step: Step, err: &std::io::Error, detail: impl Into<String>) -> Self {
        Self {
            step,
            errno: err.raw_os_error().unwrap_or(0),
            detail: format!("{}: {err}", detail.into()),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{}: {}: {reason}", self.step.as_str(), self.detail)
    }
}

/// Step result.
pub type StepResult = Result<(), SetupError>;

/// Turns a `-1` return into a `SetupError` with errno.
pub fn check(ret: libc::c_long, step: Step, detail: &str) -> StepResult {
    if ret < 0 {
        Err(SetupError::last(step, detail))
    } else {
        Ok(())
    }
}

/// A C string for a path or argument; interior NULs are a setup error.
pub fn cstr(step: Step, s: &str) -> Result<CString, SetupError> {
    CString::new(s).map_err(|_| SetupError {
        step,
        errno: libc::EINVAL,
        detail: format!("NUL byte in {s:?}"),
    })
}

/// mount(2) with optional source, fstype and data.
pub fn mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> StepResult {
    let detail = format!("mount {} on {target}", src.unwrap_or("-"));
    let src = src.map(|s| cstr(Step::Mount, s)).transpose()?;
    let target_c = cstr(Step::Mount, target)?;
    let fstype = fstype.map(|s| cstr(Step::Mount, s)).transpose()?;
    let data = data.map(|s| cstr(Step::Mount, s)).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either null or a live NUL-terminated CString
    // owned by this frame; mount(2) only reads them.
    let ret = unsafe {
        libc::mount(
            ptr(&src),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    check(ret.into(), Step::Mount, &detail)
}

/// Writes all of `bytes` to a raw fd (retrying on EINTR and short writes).
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid slice for its length; fd is owned by the caller.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// Reads one byte from a raw fd; `None` on EOF or error.
pub fn read_byte(fd: i32) -> Option<u8> {
    let mut b = 0u8;
    loop {
        // SAFETY: reading one byte into a local.
        let n = unsafe { libc::read(fd, (&raw mut b).cast(), 1) };
        if n == 1 {
            return Some(b);
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// A pipe with both ends close-on-exec: (read, write).
pub fn pipe(step: Step) -> Result<(i32, i32), SetupError> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the local array.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    check(ret.into(), step, "pipe2")?;
    Ok((fds[0], fds[1]))
}

/// Closes a raw fd this process owns.
pub fn close(fd: i32) {
    // SAFETY: closing an fd we own; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

/// Ends the process at once, without unwinding or atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}
