//! Blocklist start-up on any snapshot and journal bytes (the first byte says
//! where the split falls): a store or a `file: reason` error, never a panic.
#![no_main]

use execgate_core::clock::SystemClock;
use execgate_state::MemoryBlockStore;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = rest.len() * usize::from(split) / 255;
    let (snapshot, journal) = rest.split_at(at);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("blocks.json");
    if !snapshot.is_empty() {
        std::fs::write(&path, snapshot).expect("write the snapshot");
    }
    std::fs::write(dir.path().join("blocks.json.journal"), journal).expect("write the journal");
    if let Err(e) = MemoryBlockStore::open(Some(&path), Arc::new(SystemClock)) {
        assert!(!e.to_string().is_empty());
    }
});
