//! The contract between the runner and its sandbox helper process: what to
//! build (`SandboxSpec`, sent as JSON on the helper's fd 4) and what happened
//! (`Event`, JSON lines on fd 3). Keeping both in one file keeps the two
//! processes honest with each other.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Helper fd on which the runner writes the spec (JSON, then EOF).
pub const SPEC_FD: i32 = 4;
/// Helper fd on which the sandbox reports events (JSON lines).
pub const EVENT_FD: i32 = 3;
/// Helper fd carrying a warm sandbox's payload; the program sees it as fd 3.
pub const PAYLOAD_FD: i32 = 5;
/// Largest spec the helper accepts, so a bad runner cannot exhaust it.
pub const MAX_SPEC_BYTES: usize = 64 << 20;

/// Everything the helper needs to build one sandbox and start one program.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxSpec {
    /// Program and arguments, resolved inside the sandbox.
    pub argv: Vec<String>,
    /// The whole environment of the program.
    pub env: Vec<(String, String)>,
    /// Host paths bound read-only at the same place inside (symlinks are recreated).
    pub binds: Vec<PathBuf>,
    /// Files written into `/tmp` before the program starts.
    pub files: Vec<SandboxFile>,
    /// Size of the `/tmp` tmpfs in bytes.
    pub tmp_bytes: u64,
    /// Inode cap of the `/tmp` tmpfs.
    pub tmp_inodes: u64,
    /// Size of the `/dev/shm` tmpfs in bytes.
    pub shm_bytes: u64,
    /// Resource limits applied with setrlimit; `None` leaves one unset.
    pub rlimits: Rlimits,
    /// `cgroup.procs` (v2) or `tasks`-style files the sandbox's init joins.
    pub cgroup_procs: Vec<PathBuf>,
    /// First of two host uids/gids: inside 0 maps to it, inside 1000 to it + 1.
    pub host_id_base: u32,
    /// Warm sandbox: the payload fd stays open for the bootstrap program as fd 3.
    pub warm: bool,
    /// After a zero exit, send back this file of `/tmp` (compile artifacts).
    pub collect: Option<String>,
    /// Cap on the collected file's size.
    pub collect_max_bytes: u64,
}

/// One file for the sandbox's `/tmp`; `name` is already validated relative.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxFile {
    /// Relative path under `/tmp` (no `..`, no absolute path).
    pub name: String,
    /// The bytes, base64 in JSON.
    #[serde(with = "b64")]
    pub content: Vec<u8>,
    /// Mark the file executable (compiled programs).
    pub executable: bool,
}

/// Rlimits of the sandboxed program; each `None` is left as inherited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rlimits {
    /// RLIMIT_CPU in seconds (a backstop: the runner watches CPU itself).
    pub cpu_secs: Option<u64>,
    /// RLIMIT_AS in bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_NPROC.
    pub nproc: Option<u64>,
    /// RLIMIT_NOFILE.
    pub nofile: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub fsize: Option<u64>,
    /// RLIMIT_STACK in bytes.
    pub stack: Option<u64>,
}

/// What the sandbox reports, in order: `Cloned`, then `Started` or `Failed`,
/// then `Exited` (and `Artifact` when asked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The sandbox init exists (host pid, for diagnostics only).
    Cloned { pid: i32 },
    /// The program was exec'd.
    Started,
    /// A setup step failed: which one and the errno.
    Failed {
        step: String,
        errno: i32,
        detail: String,
    },
    /// The program ended.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The collected file (compile artifact).
    Artifact {
        #[serde(with = "b64")]
        content: Vec<u8>,
    },
}

impl Rlimits {
    /// RLIMIT_CPU in whole seconds for a run limited to `cpu`: two seconds
    /// above it, so it only fires if the runner's own watch failed.
    pub fn cpu_backstop(cpu: std::time::Duration) -> u64 {
        cpu.as_secs() + 2
    }
}

/// Serde helper: bytes as standard base64 strings.
mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
