//! Network namespace: the sandbox gets a fresh one with only a loopback device
//! that stays down, so there is no route anywhere — not even to the host.
//! Nothing to configure; the step exists to verify the promise.

use super::sys::{SetupError, Step, StepResult};

/// Inside: check that no interface but `lo` exists.
pub fn child_setup() -> StepResult {
    let text = std::fs::read_to_string("/proc/net/dev")
        .map_err(|e| SetupError::io(Step::Net, &e, "/proc/net/dev"))?;
    let foreign = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .find(|name| *name != "lo");
    match foreign {
        Some(name) => Err(SetupError {
            step: Step::Net,
            errno: libc::EEXIST,
            detail: format!("unexpected interface {name}"),
        }),
        None => Ok(()),
    }
}
