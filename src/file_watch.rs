//! Runs an action when files change under some directories. Editors and
//! deploy tools write a file in several steps (and a certificate with its key
//! one after the other), so changes within 200 ms are taken as one.

use std::path::PathBuf;
use std::time::Duration;

/// Changes closer together than this are one change.
const SETTLE: Duration = Duration::from_millis(200);

/// Whether changes in subdirectories count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Only the files directly in each directory.
    Shallow,
    /// The whole tree below each directory.
    Tree,
}

/// Calls `on_change` on a thread named `thread` after each settled change under
/// `dirs`. The returned watcher must be kept alive; dropping it stops the calls.
pub fn watch(
    dirs: Vec<PathBuf>,
    depth: Depth,
    thread: &str,
    on_change: impl Fn() + Send + 'static,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })?;
    let mode = match depth {
        Depth::Shallow => notify::RecursiveMode::NonRecursive,
        Depth::Tree => notify::RecursiveMode::Recursive,
    };
    for dir in dirs {
        watcher.watch(&dir, mode)?;
    }
    std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            while rx.recv().is_ok() {
                while rx.recv_timeout(SETTLE).is_ok() {}
                on_change();
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(watcher)
}
