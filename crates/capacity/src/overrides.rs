//! Budget overrides set at run time (`PUT /v1/budgets/{key}`) kept in a file,
//! so a restart keeps them: one JSON object of client key → caps in
//! micro-credits, rewritten whole on each change through a temporary file and
//! a rename (a crash leaves the old file or the new one, never half of one).

use crate::budget::Caps;
use crate::credits::{CREDITS_MAX, Credits};
use execgate_core::ClientKey;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Clients with an override at most: each is a line of the file, rewritten on each change.
pub const OVERRIDES_MAX: usize = 100_000;

/// Where the overrides are kept.
#[derive(Debug, Clone)]
pub struct OverridesFile {
    path: PathBuf,
}

fn valid(c: Option<Credits>) -> bool {
    c.is_none_or(|c| c.0 as f64 <= CREDITS_MAX * 1e6)
}

impl OverridesFile {
    /// The file at `path` (it may not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The overrides kept; none when the file does not exist. A file that is
    /// not such an object is an error naming `path:line`.
    pub fn load(&self) -> Result<HashMap<ClientKey, Caps>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let raw: BTreeMap<String, Caps> = serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}: {e}", self.path.display(), e.line()))?;
        if raw.len() > OVERRIDES_MAX {
            return Err(format!(
                "{}: more than {OVERRIDES_MAX} overrides",
                self.path.display()
            ));
        }
        let mut out = HashMap::with_capacity(raw.len());
        for (key, caps) in raw {
            let client = ClientKey::parse(&key)
                .ok_or_else(|| format!("{}: {key:?} is not a client key", self.path.display()))?;
            if !valid(caps.daily) || !valid(caps.monthly) {
                return Err(format!(
                    "{}: {key}: a cap over {CREDITS_MAX} credits",
                    self.path.display()
                ));
            }
            out.insert(client, caps);
        }
        Ok(out)
    }

    /// Replaces the file with `overrides`.
    pub fn save(&self, overrides: &HashMap<ClientKey, Caps>) -> Result<(), String> {
        let sorted: BTreeMap<&str, &Caps> =
            overrides.iter().map(|(k, c)| (k.as_str(), c)).collect();
        let text = serde_json::to_vec_pretty(&sorted).map_err(|e| e.to_string())?;
        let tmp = temporary(&self.path);
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", self.path.display())
        })
    }
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
