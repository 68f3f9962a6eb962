//! Persistence of the blocklist: a JSON snapshot plus an append-only journal of
//! JSON lines. Every change is in the journal and fsynced before it is
//! acknowledged; the snapshot is rewritten atomically (write a temporary file,
//! fsync, rename, fsync the directory) and then the journal is emptied.
//! Replaying a journal over a snapshot that already holds its records changes
//! nothing, so a crash between those two steps is harmless.
//!
//! A large snapshot is written while appends go on: the journal is first
//! rotated to `<snapshot>.journal.old` (appends continue in a fresh journal),
//! the snapshot of the state at the rotation is written without the writers'
//! lock, then the old journal is deleted. Start-up replays the old journal, if
//! any, before the current one, so a crash at any step loses nothing.

use super::{BlockDecision, BlockError};
use execgate_core::FileError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Snapshot format version; bumped when the layout changes.
const VERSION: u32 = 1;

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum Record {
    /// A decision was added, or extended (same id, its new state).
    Add {
        /// The decision.
        decision: BlockDecision,
    },
    /// A decision was removed.
    Remove {
        /// Its id.
        id: u64,
    },
    /// The records of one change of several decisions, on one line: a torn
    /// line is cut off at start-up, so a batch is replayed whole or not at all.
    Batch {
        /// The batch's records.
        records: Vec<Record>,
    },
}

/// How a batch is written (`Record::Batch` reads it back).
#[derive(Serialize)]
struct BatchLine<'a> {
    op: &'static str,
    records: &'a [Record],
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    version: u32,
    next_id: u64,
    decisions: Vec<BlockDecision>,
}

/// What was on disk at start-up.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    pub(super) decisions: BTreeMap<u64, BlockDecision>,
    pub(super) next_id: u64,
}

/// The snapshot file and its journal (`<snapshot>.journal`).
#[derive(Debug)]
pub(super) struct Journal {
    snapshot: PathBuf,
    journal: PathBuf,
    file: File,
    records: usize,
    /// Bytes of acknowledged records in the journal file.
    len: u64,
    /// A failed append could not be cut off: the tail past `len` is torn.
    torn: bool,
    /// A rotation moved the open journal to `<snapshot>.journal.old` and could
    /// neither open a fresh one nor move it back: it must be back in place
    /// before anything is appended, rotated or compacted.
    moved_aside: bool,
    /// Test seam: the next append writes this many bytes, then fails.
    #[cfg(test)]
    pub(super) fault: Option<usize>,
    /// Test seam: the next rotation finds the journal's name taken, so opening
    /// a fresh journal and moving the old one back both fail.
    #[cfg(test)]
    pub(super) fail_rotation: bool,
}

impl Journal {
    /// Reads the snapshot and replays the journal; a corrupt file is an error naming it.
    pub(super) fn load(snapshot: &Path) -> Result<Loaded, BlockError> {
        let mut loaded = read_snapshot(snapshot)?;
        replay(&old_journal_path(snapshot), &mut loaded)?;
        replay(&journal_path(snapshot), &mut loaded)?;
        Ok(loaded)
    }

    /// Opens the journal for appending, after a new snapshot of `decisions`.
    pub(super) fn start(
        snapshot: &Path,
        decisions: &BTreeMap<u64, BlockDecision>,
        next_id: u64,
    ) -> Result<Self, BlockError> {
        let journal = journal_path(snapshot);
        let file = open_for_append(&journal).map_err(|e| io_error(&journal, e))?;
        let mut this = Self {
            snapshot: snapshot.to_path_buf(),
            journal,
            file,
            records: 0,
            len: 0,
            torn: false,
            moved_aside: false,
            #[cfg(test)]
            fault: None,
            #[cfg(test)]
            fail_rotation: false,
        };
        this.compact(decisions, next_id)?;
        Ok(this)
    }

    /// Appends `records` and fsyncs; on error nothing was written.
    ///
    /// A failed write or fsync may leave part of the records in the file:
    /// they are cut off again, so that the next record does not follow a
    /// torn line (which would refuse the next start as a corrupt journal).
    pub(super) fn append(&mut self, records: &[Record]) -> Result<(), BlockError> {
        let mut buf = Vec::new();
        let written = match records {
            [one] => serde_json::to_writer(&mut buf, one),
            several => serde_json::to_writer(
                &mut buf,
                &BatchLine {
                    op: "batch",
                    records: several,
                },
            ),
        };
        written.map_err(|e| BlockError::Io(e.to_string()))?;
        self.ensure_in_place()?;
        buf.push(b'\n');
        if self.torn {
            self.cut_back().map_err(|e| io_error(&self.journal, e))?;
        }
        if let Err(e) = self.write_synced(&buf) {
            if let Err(cut) = self.cut_back() {
                tracing::error!(journal = %self.journal.display(), error = %cut,
                    "cannot cut a failed journal append off; appends wait until it can be");
            }
            return Err(io_error(&self.journal, e));
        }
        self.len += buf.len() as u64;
        self.records += records.len();
        Ok(())
    }

    /// Truncates the file to its acknowledged records; `torn` until that succeeds.
    fn cut_back(&mut self) -> io::Result<()> {
        self.torn = true;
        self.file.set_len(self.len)?;
        self.file.sync_data()?;
        self.torn = false;
        Ok(())
    }

    /// Writes and fsyncs `buf` at the end of the journal.
    fn write_synced(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(keep) = self.fault.take() {
            self.file.write_all(&buf[..keep.min(buf.len())])?;
            return Err(io::Error::other("injected write failure"));
        }
        self.file.write_all(buf)?;
        self.file.sync_data()
    }

    /// Opens a fresh journal after a rotation and makes its name durable.
    fn open_fresh(&mut self) -> io::Result<File> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_rotation) {
            // Something takes the journal's name: opening a fresh journal and
            // moving the old one back then both fail for real.
            fs::create_dir_all(self.journal.join("blocker"))?;
        }
        let file = open_for_append(&self.journal)?;
        sync_dir(&self.journal)?;
        Ok(file)
    }

    /// Moves a journal left aside by a failed rotation back into place, or
    /// refuses: appending to it, or snapshotting over it, would lose changes.
    fn ensure_in_place(&mut self) -> Result<(), BlockError> {
        if !self.moved_aside {
            return Ok(());
        }
        let old_journal = old_journal_path(&self.snapshot);
        fs::rename(&old_journal, &self.journal)
            .and_then(|()| sync_dir(&self.journal))
            .map_err(|e| io_error(&old_journal, e))?;
        self.moved_aside = false;
        Ok(())
    }

    /// Records appended since the last snapshot.
    pub(super) fn records(&self) -> usize {
        self.records
    }

    /// A rotated journal is still waiting for its snapshot (a write failed).
    pub(super) fn rotated(&self) -> bool {
        old_journal_path(&self.snapshot).exists()
    }

    /// Writes a new snapshot of `decisions` (the whole state) atomically, then
    /// empties the journal and drops an old one. Callers make sure no rotated
    /// snapshot is being written meanwhile.
    pub(super) fn compact(
        &mut self,
        decisions: &BTreeMap<u64, BlockDecision>,
        next_id: u64,
    ) -> Result<(), BlockError> {
        self.ensure_in_place()?;
        write_snapshot(
            &self.snapshot,
            decisions.values().cloned().collect(),
            next_id,
        )?;
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io_error(&self.journal, e))?;
        self.records = 0;
        self.len = 0;
        self.torn = false;
        remove_if_present(&old_journal_path(&self.snapshot))
    }

    /// Moves the journal aside so a snapshot of the current state (`decisions`)
    /// can be written while appends go on in a fresh journal. If an old journal
    /// is still there (its snapshot failed), appends stay where they are: the
    /// snapshot of the whole state covers both.
    pub(super) fn rotate(
        &mut self,
        decisions: Vec<BlockDecision>,
        next_id: u64,
    ) -> Result<PendingSnapshot, BlockError> {
        self.ensure_in_place()?;
        let old_journal = old_journal_path(&self.snapshot);
        if !old_journal.exists() {
            if self.torn {
                self.cut_back().map_err(|e| io_error(&self.journal, e))?;
            }
            fs::rename(&self.journal, &old_journal).map_err(|e| io_error(&self.journal, e))?;
            match self.open_fresh() {
                Ok(file) => self.file = file,
                Err(e) => {
                    // Put the journal back: appends must not go to a moved file
                    // that the next snapshot would delete.
                    self.moved_aside = true;
                    let _ = self.ensure_in_place();
                    return Err(io_error(&self.journal, e));
                }
            }
            self.records = 0;
            self.len = 0;
        }
        Ok(PendingSnapshot {
            snapshot: self.snapshot.clone(),
            old_journal,
            decisions,
            next_id,
        })
    }
}

/// A snapshot of the state at a journal rotation, to be written without the
/// writers' lock.
#[derive(Debug)]
pub(super) struct PendingSnapshot {
    snapshot: PathBuf,
    old_journal: PathBuf,
    decisions: Vec<BlockDecision>,
    next_id: u64,
}

impl PendingSnapshot {
    /// Writes the snapshot atomically, then deletes the rotated journal it covers.
    pub(super) fn write(self) -> Result<(), BlockError> {
        write_snapshot(&self.snapshot, self.decisions, self.next_id)?;
        remove_if_present(&self.old_journal)
    }
}

fn write_snapshot(
    path: &Path,
    decisions: Vec<BlockDecision>,
    next_id: u64,
) -> Result<(), BlockError> {
    let snapshot = Snapshot {
        version: VERSION,
        next_id,
        decisions,
    };
    let bytes = serde_json::to_vec_pretty(&snapshot).map_err(|e| BlockError::Io(e.to_string()))?;
    write_atomically(path, &bytes).map_err(|e| io_error(path, e))
}

fn remove_if_present(path: &Path) -> Result<(), BlockError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path).map_err(|e| io_error(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Fsyncs the directory holding `path`, so a rename or removal in it is durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

/// `<snapshot>.journal`.
pub(super) fn journal_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// `<snapshot>.journal.old`: a rotated journal whose snapshot is being written.
pub(super) fn old_journal_path(snapshot: &Path) -> PathBuf {
    let mut name = journal_path(snapshot).into_os_string();
    name.push(".old");
    PathBuf::from(name)
}

fn io_error(path: &Path, e: io::Error) -> BlockError {
    BlockError::Io(format!("{}: {e}", path.display()))
}

fn corrupt(path: &Path, line: Option<usize>, reason: String) -> BlockError {
    BlockError::Corrupt(FileError::new(path, reason).at(line, None))
}

fn read_snapshot(path: &Path) -> Result<Loaded, BlockError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Loaded {
                next_id: 1,
                ..Loaded::default()
            });
        }
        Err(e) => return Err(corrupt(path, None, format!("cannot read: {e}"))),
    };
    let snapshot: Snapshot = serde_json::from_str(&text).map_err(|e| {
        corrupt(
            path,
            Some(e.line()),
            format!(
                "corrupt blocklist snapshot ({e}); refusing to start with an empty blocklist: \
                 restore the file from a backup, or move it away to start empty"
            ),
        )
    })?;
    if snapshot.version != VERSION {
        return Err(corrupt(
            path,
            None,
            format!("unsupported snapshot version {}", snapshot.version),
        ));
    }
    check_unique_ids(path, &text, &snapshot.decisions)?;
    let decisions: BTreeMap<u64, BlockDecision> =
        snapshot.decisions.into_iter().map(|d| (d.id, d)).collect();
    let next_id = decisions
        .keys()
        .next_back()
        .map_or(1, |id| id + 1)
        .max(snapshot.next_id);
    Ok(Loaded { decisions, next_id })
}

/// Refuses a snapshot holding two decisions with one id: which one holds is unknowable.
fn check_unique_ids(
    path: &Path,
    text: &str,
    decisions: &[BlockDecision],
) -> Result<(), BlockError> {
    let mut seen = HashSet::new();
    let Some(at) = decisions.iter().position(|d| !seen.insert(d.id)) else {
        return Ok(());
    };
    Err(corrupt(
        path,
        line_of_decision(text, at),
        format!(
            "duplicate decision id {} (an earlier decision has it too); refusing to guess \
             which one holds: fix the file or restore it from a backup",
            decisions[at].id
        ),
    ))
}

/// The line where the snapshot's `index`-th decision starts.
fn line_of_decision(text: &str, index: usize) -> Option<usize> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        decisions: Vec<&'a RawValue>,
    }
    let raw: Raw = serde_json::from_str(text).ok()?;
    // The raw value borrows from `text`: its offset there is its address's.
    let start =
        (raw.decisions.get(index)?.get().as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

/// Applies the journal's records; a torn last line (a crash mid-append, never
/// acknowledged) is cut off, anything else that does not parse is an error.
fn replay(path: &Path, loaded: &mut Loaded) -> Result<(), BlockError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(corrupt(path, None, format!("cannot read: {e}"))),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() {
        tracing::warn!(journal = %path.display(), "cutting off a torn last journal line");
        cut(path, complete).map_err(|e| io_error(path, e))?;
    }
    for (n, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = serde_json::from_slice(line)
            .map_err(|e| corrupt(path, Some(n + 1), format!("corrupt journal record: {e}")))?;
        apply(loaded, record);
    }
    Ok(())
}

fn apply(loaded: &mut Loaded, record: Record) {
    match record {
        // An add of a known id is an extension (see `merge`): the later state wins.
        Record::Add { decision } => {
            loaded.next_id = loaded.next_id.max(decision.id + 1);
            loaded.decisions.insert(decision.id, decision);
        }
        Record::Remove { id } => {
            loaded.decisions.remove(&id);
        }
        Record::Batch { records } => {
            for record in records {
                apply(loaded, record);
            }
        }
    }
}

fn cut(path: &Path, len: usize) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len as u64)?;
    file.sync_all()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::{Origin, Scope};
    use std::time::{Duration, UNIX_EPOCH};

    fn add(id: u64) -> Record {
        Record::Add {
            decision: BlockDecision {
                id,
                scope: Scope::Ip,
                value: format!("192.0.2.{id}"),
                r#type: "ban".into(),
                origin: Origin::Manual,
                reason: "unit".into(),
                created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                expires_at: None,
                created_by: "unit".into(),
            },
        }
    }

    /// A change of several decisions is one journal line: torn by a crash, it
    /// is cut off whole at start-up, never replayed in part.
    #[test]
    fn a_batch_is_one_line_replayed_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let mut j = Journal::start(&path, &BTreeMap::new(), 1).unwrap();
        j.append(&[add(1)]).unwrap();
        j.append(&[add(2), add(3), add(4)]).unwrap();
        assert_eq!(j.records(), 4);
        drop(j);
        let text = fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let ids = |loaded: Loaded| loaded.decisions.into_keys().collect::<Vec<_>>();
        assert_eq!(ids(Journal::load(&path).unwrap()), vec![1, 2, 3, 4]);

        // A crash in the middle of the batch's line, past its first record.
        let first_line = text.find('\n').unwrap() + 1;
        let torn = &text[..first_line + (text.len() - first_line) * 2 / 3];
        fs::write(journal_path(&path), torn).unwrap();
        assert_eq!(ids(Journal::load(&path).unwrap()), vec![1]);
    }

    /// A rotation that can neither open a fresh journal nor move the old one
    /// back leaves nothing writable: appends, rotations and compactions refuse
    /// (nothing is acknowledged into a file a snapshot would delete) until the
    /// old journal can be moved back.
    #[test]
    fn a_journal_stuck_aside_refuses_changes_until_it_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let mut j = Journal::start(&path, &BTreeMap::new(), 1).unwrap();
        j.append(&[add(1)]).unwrap();
        j.fail_rotation = true;
        assert!(j.rotate(Vec::new(), 2).is_err());
        assert!(
            j.append(&[add(2)]).is_err(),
            "nothing goes to the moved file"
        );
        assert!(j.rotate(Vec::new(), 2).is_err());
        assert!(j.compact(&BTreeMap::new(), 2).is_err());
        fs::remove_dir_all(journal_path(&path)).unwrap();
        j.append(&[add(3)]).unwrap();
        assert!(!old_journal_path(&path).exists(), "moved back");
        drop(j);
        let loaded = Journal::load(&path).unwrap();
        assert_eq!(loaded.decisions.into_keys().collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn a_failed_append_is_cut_off_so_later_records_and_restarts_stay_readable() {
        // Regression: a failed write left its first bytes in the journal, the
        // next record went after them, and the torn middle line refused the next start.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let mut j = Journal::start(&path, &BTreeMap::new(), 1).unwrap();
        j.append(&[add(1)]).unwrap();
        let before = fs::read_to_string(journal_path(&path)).unwrap();
        j.fault = Some(20);
        let err = j.append(&[add(2)]).unwrap_err();
        assert!(matches!(err, BlockError::Io(_)), "{err}");
        let after = fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(after, before, "torn bytes cut off");
        j.append(&[add(3)]).unwrap();
        assert_eq!(j.records(), 2);
        drop(j);
        let loaded = Journal::load(&path).unwrap();
        assert_eq!(
            loaded.decisions.keys().copied().collect::<Vec<_>>(),
            vec![1, 3]
        );
    }
}
