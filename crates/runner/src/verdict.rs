//! What one sandboxed run came to: why it stopped, its output, and honest
//! measurements (wall clock from the runner, CPU time and peak memory from
//! the run's cgroup).

use serde::Serialize;
use std::time::Duration;

/// Why a run stopped (Piston's status letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Exited with code 0.
    #[serde(rename = "OK")]
    Ok,
    /// Exited with a non-zero code.
    #[serde(rename = "RE")]
    RuntimeError,
    /// Killed by a signal it caused (segfault, abort, seccomp …).
    #[serde(rename = "SG")]
    Signaled,
    /// CPU or wall-clock limit reached.
    #[serde(rename = "TO")]
    TimedOut,
    /// stdout over its cap.
    #[serde(rename = "OL")]
    StdoutLimit,
    /// stderr over its cap.
    #[serde(rename = "EL")]
    StderrLimit,
    /// The memory cap was hit and the kernel killed a process.
    #[serde(rename = "OOM")]
    OutOfMemory,
    /// The sandbox itself failed.
    #[serde(rename = "XX")]
    InternalError,
}

impl Status {
    /// The status letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::RuntimeError => "RE",
            Status::Signaled => "SG",
            Status::TimedOut => "TO",
            Status::StdoutLimit => "OL",
            Status::StderrLimit => "EL",
            Status::OutOfMemory => "OOM",
            Status::InternalError => "XX",
        }
    }

    /// A short human message, as Piston gives one.
    pub fn message(self) -> Option<&'static str> {
        match self {
            Status::Ok | Status::RuntimeError | Status::Signaled => None,
            Status::TimedOut => Some("time limit exceeded"),
            Status::StdoutLimit => Some("stdout length exceeded"),
            Status::StderrLimit => Some("stderr length exceeded"),
            Status::OutOfMemory => Some("memory limit exceeded"),
            Status::InternalError => Some("internal error"),
        }
    }
}

/// How the sandbox of a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// Built for this run.
    #[default]
    Cold,
    /// Taken from the warm pool.
    Warm,
}

impl Start {
    /// `cold` or `warm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Cold => "cold",
            Start::Warm => "warm",
        }
    }
}

/// The outcome of one stage.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Why it stopped.
    pub status: Status,
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Terminating signal, when signalled.
    pub signal: Option<i32>,
    /// Captured stdout (at most the cap).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most the cap).
    pub stderr: Vec<u8>,
    /// Wall-clock time from start to end.
    pub wall: Duration,
    /// CPU time of all processes of the run.
    pub cpu: Duration,
    /// Peak memory of the run in bytes.
    pub memory_bytes: u64,
    /// Extra detail (internal errors).
    pub detail: Option<String>,
    /// The compile artifact, for compile stages that succeeded.
    pub artifact: Option<Vec<u8>>,
    /// Cold or warm sandbox.
    pub start: Start,
}

impl Verdict {
    /// A verdict for a run that never started properly.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            status: Status::InternalError,
            code: None,
            signal: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            memory_bytes: 0,
            detail: Some(detail.into()),
            artifact: None,
            start: Start::Cold,
        }
    }

    /// The message to show: the status's, with detail for internal errors.
    pub fn message(&self) -> Option<String> {
        match (&self.detail, self.status.message()) {
            (Some(d), Some(m)) => Some(format!("{m}: {d}")),
            (None, Some(m)) => Some(m.to_string()),
            (Some(d), None) => Some(d.clone()),
            (None, None) => None,
        }
    }
}

/// Facts gathered while a run was watched, turned into a status by `classify`.
#[derive(Debug, Default)]
pub struct Observed {
    /// The runner killed it for this reason (TO, OL, EL).
    pub killed_for: Option<Status>,
    /// Exit code and signal the init reported.
    pub exit: Option<(Option<i32>, Option<i32>)>,
    /// A setup step failed.
    pub setup_failure: Option<String>,
    /// OOM kills in the cgroup.
    pub oom_kills: u64,
    /// CPU or wall time went past its limit even though the run ended first.
    pub over_time: bool,
}

/// The status a run earns; the first matching reason wins.
pub fn classify(seen: &Observed) -> Status {
    const SIGXCPU: i32 = libc::SIGXCPU;
    if let Some(reason) = seen.killed_for {
        return reason;
    }
    if seen.setup_failure.is_some() {
        return Status::InternalError;
    }
    if seen.oom_kills > 0 {
        return Status::OutOfMemory;
    }
    match seen.exit {
        None => Status::InternalError,
        Some((_, Some(SIGXCPU))) => Status::TimedOut,
        _ if seen.over_time => Status::TimedOut,
        Some((_, Some(_))) => Status::Signaled,
        Some((Some(0), None)) => Status::Ok,
        Some(_) => Status::RuntimeError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_order() {
        let mut seen = Observed {
            exit: Some((Some(0), None)),
            ..Default::default()
        };
        assert_eq!(classify(&seen), Status::Ok);
        seen.exit = Some((Some(3), None));
        assert_eq!(classify(&seen), Status::RuntimeError);
        seen.exit = Some((None, Some(11)));
        assert_eq!(classify(&seen), Status::Signaled);
        seen.exit = Some((None, Some(libc::SIGXCPU)));
        assert_eq!(classify(&seen), Status::TimedOut);
        seen.exit = Some((None, Some(9)));
        seen.oom_kills = 1;
        assert_eq!(classify(&seen), Status::OutOfMemory);
        seen.killed_for = Some(Status::StdoutLimit);
        assert_eq!(classify(&seen), Status::StdoutLimit);
        assert_eq!(classify(&Observed::default()), Status::InternalError);
    }
}
