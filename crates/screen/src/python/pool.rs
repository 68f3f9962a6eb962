//! Dedicated analysis threads with a large, known stack. rustpython-parser and
//! the tree walk recurse, and dropping a deep tree recurses too: on a 2 MiB
//! tokio worker that aborts the process. Every parse, walk and drop happens
//! on one of these threads; the caller waits with a timeout.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Stack of each analysis thread; memory is only committed as it is used.
pub(crate) const STACK_BYTES: usize = 256 << 20;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job produced no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// The job did not finish in time (it goes on in the background and is discarded).
    TimedOut,
    /// The job panicked, or no analysis thread could be started.
    Failed,
}

struct Pool {
    jobs: Sender<Job>,
}

fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<Pool>> = OnceLock::new();
    POOL.get_or_init(start).as_ref()
}

fn start() -> Option<Pool> {
    let (jobs, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 16);
    let mut started = 0;
    for i in 0..threads {
        let rx = Arc::clone(&rx);
        let spawned = std::thread::Builder::new()
            .name(format!("screen-{i}"))
            .stack_size(STACK_BYTES)
            .spawn(move || worker(&rx));
        if spawned.is_ok() {
            started += 1;
        }
    }
    (started > 0).then_some(Pool { jobs })
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            // A panic in a job must not take the thread (or the process) with it.
            Ok(job) => drop(catch_unwind(AssertUnwindSafe(job))),
            Err(_) => return,
        }
    }
}

/// Runs `f` on an analysis thread and waits at most `timeout` for its result.
pub(crate) fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
    timeout: Duration,
) -> Result<T, PoolError> {
    let pool = pool().ok_or(PoolError::Failed)?;
    let (tx, rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    pool.jobs.send(job).map_err(|_| PoolError::Failed)?;
    rx.recv_timeout(timeout).map_err(|e| match e {
        RecvTimeoutError::Timeout => PoolError::TimedOut,
        RecvTimeoutError::Disconnected => PoolError::Failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_and_panics_are_contained() {
        assert_eq!(run(|| 41 + 1, Duration::from_secs(5)), Ok(42));
        let panicked: Result<(), PoolError> = run(|| panic!("boom"), Duration::from_secs(5));
        assert_eq!(panicked, Err(PoolError::Failed));
        assert_eq!(
            run(|| 7, Duration::from_secs(5)),
            Ok(7),
            "the pool survives a panic"
        );
    }

    #[test]
    fn slow_jobs_time_out() {
        let slow = run(
            || std::thread::sleep(Duration::from_millis(300)),
            Duration::from_millis(10),
        );
        assert_eq!(slow, Err(PoolError::TimedOut));
    }
}
