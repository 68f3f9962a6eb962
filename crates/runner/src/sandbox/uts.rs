//! UTS namespace: the sandbox gets its own hostname, so the host's name does
//! not leak and nothing inside can change the host's.

use super::sys::{Step, StepResult, check};

/// The hostname programs see.
pub const HOSTNAME: &str = "sandbox";

/// Inside: sets the hostname of the new UTS namespace.
pub fn child_setup() -> StepResult {
    // SAFETY: the pointer and length describe a static string.
    let ret = unsafe { libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()) };
    check(ret.into(), Step::Uts, "sethostname")
}
