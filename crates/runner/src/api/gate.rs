//! Bounded concurrency: at most `max_concurrent` runs at once and at most
//! `max_queue` waiting; anything beyond is refused at once (503), never
//! queued without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The gate.
#[derive(Debug)]
pub struct Gate {
    slots: Arc<Semaphore>,
    capacity: usize,
    waiting: AtomicUsize,
    max_queue: usize,
}

/// Refusal: slots and queue are full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A reserved place in the queue, turned into a slot by `Ticket::wait`.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    permit: Option<OwnedSemaphorePermit>,
    queued: bool,
}

impl Gate {
    /// A gate with `slots` concurrent runs and `max_queue` waiters.
    pub fn new(slots: usize, max_queue: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            capacity: slots,
            waiting: AtomicUsize::new(0),
            max_queue,
        }
    }

    /// Reserves a slot or a queue place now, or refuses.
    pub fn reserve(self: &Arc<Self>) -> Result<Ticket, Busy> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(Ticket {
                gate: self.clone(),
                permit: Some(permit),
                queued: false,
            });
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        Ok(Ticket {
            gate: self.clone(),
            permit: None,
            queued: true,
        })
    }

    /// Runs holding a slot now.
    pub fn running(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// Requests waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

impl Ticket {
    /// Waits for a slot; the slot is held until the returned permit drops.
    pub async fn wait(mut self) -> OwnedSemaphorePermit {
        if let Some(permit) = self.permit.take() {
            return permit;
        }
        let permit = self.gate.slots.clone().acquire_owned().await;
        self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        self.queued = false;
        // Infallible: the gate never closes its semaphore.
        #[allow(clippy::expect_used)]
        permit.expect("the semaphore is never closed")
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.queued {
            self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_slots_plus_queue_and_recovers() {
        let gate = Arc::new(Gate::new(1, 1));
        let first = gate.reserve().unwrap().wait().await;
        let queued = gate.reserve().unwrap();
        assert_eq!(gate.reserve().unwrap_err(), Busy);
        drop(first);
        let second = queued.wait().await;
        assert_eq!(gate.waiting(), 0);
        assert!(gate.reserve().is_ok());
        drop(second);
    }
}
