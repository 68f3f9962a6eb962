//! Hot-swappable shared values: requests in flight keep the version they started with.

use parking_lot::Mutex;
use std::sync::Arc;

/// A value replaced atomically on reload; readers take a cheap snapshot.
#[derive(Debug)]
pub struct Live<T> {
    current: Mutex<Arc<T>>,
}

impl<T> Live<T> {
    /// Starts with `value`.
    pub fn new(value: T) -> Self {
        Self {
            current: Mutex::new(Arc::new(value)),
        }
    }

    /// The current version; it stays valid for the holder after a swap.
    pub fn load(&self) -> Arc<T> {
        self.current.lock().clone()
    }

    /// Replaces the value for every later `load`.
    pub fn store(&self, value: T) {
        *self.current.lock() = Arc::new(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_survive_a_swap() {
        let live = Live::new(1);
        let before = live.load();
        live.store(2);
        assert_eq!(*before, 1);
        assert_eq!(*live.load(), 2);
    }
}
