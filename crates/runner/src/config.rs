//! The runner's config file (`config/runner.toml`): raw serde structs with
//! `deny_unknown_fields`, then `validate`, which says what is wrong before any
//! port is bound. Every field is documented here; the README's config page is
//! generated from these comments.

use execgate_core::{ByteSize, FileError, HumanDuration};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Placeholder of the resolved program in `compile`, `run` and `warm_run`.
pub const PROGRAM: &str = "{program}";

/// The whole runner config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// Address of the Piston/Judge0 HTTP API (default `127.0.0.1:2358`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Most sandboxes running at once (default 4).
    #[serde(default = "default_concurrent")]
    pub max_concurrent: usize,
    /// Most requests waiting for a slot; beyond it the API answers 503 (default 64).
    #[serde(default = "default_queue")]
    pub max_queue: usize,
    /// First of the two unprivileged host uids/gids sandboxes map to (default 200000).
    #[serde(default = "default_id_base")]
    pub host_id_base: u32,
    /// Where the per-run cgroups are made.
    #[serde(default)]
    pub cgroup: CgroupConfig,
    /// Sandbox settings shared by every language.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// Upper bounds on limits a request may ask for.
    #[serde(default)]
    pub limits: LimitBounds,
    /// Retention of Judge0 submission results.
    #[serde(default)]
    pub tokens: TokenConfig,
    /// The languages; those whose files are missing on this host are not offered.
    #[serde(default)]
    pub languages: Vec<LanguageConfig>,
}

/// `[cgroup]`: where run cgroups live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupConfig {
    /// Mount point of the cgroup file systems (default `/sys/fs/cgroup`).
    #[serde(default = "default_cgroup_root")]
    pub root: PathBuf,
    /// Directory made under the runner's own cgroup for its runs (default
    /// `execgate-runner`); a relative path such as `delegated/runner` points
    /// into a subtree delegated (chowned) to an unprivileged runner.
    #[serde(default = "default_cgroup_name")]
    pub name: String,
}

/// `[sandbox]`: settings of every sandbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Host paths bound read-only into every sandbox (libraries, loader); symlinks are recreated.
    #[serde(default = "default_binds")]
    pub binds: Vec<PathBuf>,
    /// Size of the `/tmp` tmpfs, the working directory (default `64MB`).
    #[serde(default = "default_tmp_size")]
    pub tmp_size: ByteSize,
    /// Most files and directories in `/tmp` (default 4096).
    #[serde(default = "default_tmp_inodes")]
    pub tmp_inodes: u64,
    /// Size of the `/dev/shm` tmpfs (default `16MB`).
    #[serde(default = "default_shm_size")]
    pub shm_size: ByteSize,
    /// Most processes and threads of one run (cgroup pids.max and RLIMIT_NPROC, default 64).
    #[serde(default = "default_processes")]
    pub processes: u64,
    /// Most open files per process (RLIMIT_NOFILE, default 256).
    #[serde(default = "default_open_files")]
    pub open_files: u64,
    /// Largest file a program may write (RLIMIT_FSIZE, default `16MB`).
    #[serde(default = "default_file_size")]
    pub file_size: ByteSize,
    /// Stack size (RLIMIT_STACK, default `8MB`).
    #[serde(default = "default_stack")]
    pub stack: ByteSize,
    /// CPU bandwidth of one run in cores (cgroup CPU quota, default 1.0).
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    /// Cap on stdout and on stderr each; the run is killed past it (OL/EL, default `64KB`).
    #[serde(default = "default_output_max")]
    pub output_max: ByteSize,
    /// Largest compile artifact carried to the run stage (default `32MB`).
    #[serde(default = "default_artifact_max")]
    pub artifact_max: ByteSize,
    /// The `PATH` programs see (the rest of the environment is `HOME=/tmp`, `LANG=C.UTF-8`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Where bare-name `program` candidates are looked up at start (default
    /// `/usr/bin:/bin`: the distribution's programs, never a shim in
    /// `/usr/local/bin` or the runner's own `PATH`).
    #[serde(default = "default_search_path")]
    pub search_path: String,
}

/// `[limits]`: what a request may ask for at most.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitBounds {
    /// Longest wall-clock time of one stage (default `15s`).
    #[serde(default = "default_max_timeout")]
    pub max_timeout: HumanDuration,
    /// Longest CPU time of one stage (default `10s`).
    #[serde(default = "default_max_cpu")]
    pub max_cpu_time: HumanDuration,
    /// Largest memory of one stage (default `512MB`).
    #[serde(default = "default_max_memory")]
    pub max_memory: ByteSize,
}

/// `[tokens]`: how long Judge0 results stay readable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Age after which a result is forgotten (default `1h`).
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
    /// Most results kept; the oldest go first (default 10000).
    #[serde(default = "default_max_tokens")]
    pub max: usize,
}

/// `[[languages]]`: one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageConfig {
    /// Name used by Piston requests, e.g. `python`.
    pub name: String,
    /// Other names accepted, e.g. `py`, `python3`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Version reported and matched (`*`, exact, or prefix); empty (the
    /// default) reads it from `program`'s `--version` output at start.
    #[serde(default)]
    pub version: String,
    /// Candidates for the language's program (interpreter or compiler), tried
    /// in order at start: a bare name is looked up in `[sandbox] search_path`,
    /// a path is taken as is. The first executable one, symlinks resolved,
    /// replaces `{program}` in `compile`, `run` and `warm_run` and is bound
    /// into the sandbox.
    #[serde(default)]
    pub program: Vec<String>,
    /// Whether a host without this language's program or binds may still start
    /// (the language is then not offered); by default the runner refuses to start.
    #[serde(default)]
    pub optional: bool,
    /// Judge0 language id (e.g. 71 Python, 50 C, 46 Bash, 63 JavaScript); none: not on the Judge0 API.
    #[serde(default)]
    pub judge0_id: Option<u32>,
    /// Judge0 display name, e.g. `Python ({version})`; `{version}` is the version found.
    #[serde(default)]
    pub judge0_name: Option<String>,
    /// File name given to Judge0 source code, e.g. `main.py`.
    pub source_file: String,
    /// Compile command, if compiled; `{files}` expands to every file name.
    #[serde(default)]
    pub compile: Option<Vec<String>>,
    /// File the compile stage produces, carried into the run stage (e.g. `a.out`).
    #[serde(default)]
    pub artifact: Option<String>,
    /// Run command; `{entry}` is the first file, `{args}` expands to the arguments.
    pub run: Vec<String>,
    /// Host paths this language needs bound read-only (besides `[sandbox].binds`).
    #[serde(default)]
    pub binds: Vec<PathBuf>,
    /// Host paths bound read-only where they exist and left out where they do
    /// not: what one build of a runtime keeps outside its binary and another
    /// does not (Debian's node loads built-in modules from /usr/share/nodejs).
    #[serde(default)]
    pub optional_binds: Vec<PathBuf>,
    /// Warm sandboxes kept ready (default 0: cold starts only); needs `warm_run`.
    #[serde(default)]
    pub warm: usize,
    /// Bootstrap run in a warm sandbox: reads the length-prefixed payload (files, then argv) on fd 3.
    #[serde(default)]
    pub warm_run: Option<Vec<String>>,
    /// Address-space cap (RLIMIT_AS); unset for runtimes that reserve huge mappings (node).
    #[serde(default)]
    pub address_space: Option<ByteSize>,
    /// Default limits of the run stage.
    #[serde(default = "StageLimits::run_default")]
    pub run_limits: StageLimits,
    /// Default limits of the compile stage.
    #[serde(default = "StageLimits::compile_default")]
    pub compile_limits: StageLimits,
}

/// Limits of one stage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageLimits {
    /// Wall-clock limit.
    pub timeout: HumanDuration,
    /// CPU-time limit (all processes of the run together).
    pub cpu_time: HumanDuration,
    /// Memory limit (cgroup, swap included).
    pub memory: ByteSize,
}

impl StageLimits {
    fn run_default() -> Self {
        Self {
            timeout: secs(3),
            cpu_time: secs(3),
            memory: ByteSize(128 << 20),
        }
    }

    fn compile_default() -> Self {
        Self {
            timeout: secs(10),
            cpu_time: secs(10),
            memory: ByteSize(256 << 20),
        }
    }
}

fn secs(s: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(s))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2358))
}
fn default_concurrent() -> usize {
    4
}
fn default_queue() -> usize {
    64
}
fn default_id_base() -> u32 {
    200_000
}
fn default_cgroup_root() -> PathBuf {
    PathBuf::from("/sys/fs/cgroup")
}
fn default_cgroup_name() -> String {
    "execgate-runner".into()
}
fn default_binds() -> Vec<PathBuf> {
    ["/usr/lib", "/usr/lib64", "/lib", "/lib64"]
        .into_iter()
        .map(PathBuf::from)
        .collect()
}
fn default_tmp_size() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_tmp_inodes() -> u64 {
    4096
}
fn default_shm_size() -> ByteSize {
    ByteSize(16 << 20)
}
fn default_processes() -> u64 {
    64
}
fn default_open_files() -> u64 {
    256
}
fn default_file_size() -> ByteSize {
    ByteSize(16 << 20)
}
fn default_stack() -> ByteSize {
    ByteSize(8 << 20)
}
fn default_cpus() -> f64 {
    1.0
}
fn default_output_max() -> ByteSize {
    ByteSize(64 << 10)
}
fn default_artifact_max() -> ByteSize {
    ByteSize(32 << 20)
}
fn default_path() -> String {
    "/usr/local/bin:/usr/bin:/bin".into()
}
fn default_search_path() -> String {
    "/usr/bin:/bin".into()
}
fn default_max_timeout() -> HumanDuration {
    secs(15)
}
fn default_max_cpu() -> HumanDuration {
    secs(10)
}
fn default_max_memory() -> ByteSize {
    ByteSize(512 << 20)
}
fn default_retention() -> HumanDuration {
    secs(3600)
}
fn default_max_tokens() -> usize {
    10_000
}

impl Default for CgroupConfig {
    fn default() -> Self {
        Self {
            root: default_cgroup_root(),
            name: default_cgroup_name(),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            binds: default_binds(),
            tmp_size: default_tmp_size(),
            tmp_inodes: default_tmp_inodes(),
            shm_size: default_shm_size(),
            processes: default_processes(),
            open_files: default_open_files(),
            file_size: default_file_size(),
            stack: default_stack(),
            cpus: default_cpus(),
            output_max: default_output_max(),
            artifact_max: default_artifact_max(),
            path: default_path(),
            search_path: default_search_path(),
        }
    }
}

impl Default for LimitBounds {
    fn default() -> Self {
        Self {
            max_timeout: default_max_timeout(),
            max_cpu_time: default_max_cpu(),
            max_memory: default_max_memory(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            retention: default_retention(),
            max: default_max_tokens(),
        }
    }
}

impl RunnerConfig {
    /// Reads, parses and validates a config file; errors say `file:line: key: reason`.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let config: Self = execgate_core::load_toml(path)?;
        config
            .validate()
            .map_err(|reason| FileError::new(path, reason))?;
        Ok(config)
    }

    /// Checks what serde cannot: non-zero sizes, unique names, defaults within bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent == 0 {
            return Err("max_concurrent: must be at least 1".into());
        }
        if !(self.sandbox.cpus > 0.0 && self.sandbox.cpus <= 1024.0) {
            return Err("sandbox.cpus: must be in (0, 1024]".into());
        }
        if self.sandbox.processes < 2 {
            return Err("sandbox.processes: must be at least 2 (init and program)".into());
        }
        if self.host_id_base == 0 || self.host_id_base.checked_add(1).is_none() {
            return Err("host_id_base: must be a non-root id below u32::MAX".into());
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        for lang in &self.languages {
            lang.validate(&self.limits)?;
            for name in std::iter::once(&lang.name).chain(&lang.aliases) {
                if !names.insert(name.as_str()) {
                    return Err(format!(
                        "languages.{}: name or alias {name:?} used twice",
                        lang.name
                    ));
                }
            }
            if let Some(id) = lang.judge0_id
                && !ids.insert(id)
            {
                return Err(format!(
                    "languages.{}: judge0_id {id} used twice",
                    lang.name
                ));
            }
        }
        Ok(())
    }
}

impl LanguageConfig {
    fn validate(&self, bounds: &LimitBounds) -> Result<(), String> {
        let at = |what: &str| format!("languages.{}.{what}", self.name);
        if self.name.is_empty() {
            return Err("languages: a language has an empty name".into());
        }
        if self.run.is_empty() {
            return Err(format!("{}: must not be empty", at("run")));
        }
        if self.compile.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!("{}: must not be empty", at("compile")));
        }
        if self.compile.is_some() != self.artifact.is_some() {
            return Err(format!(
                "{}: compile and artifact go together",
                at("artifact")
            ));
        }
        let commands = [
            Some(&self.run),
            self.compile.as_ref(),
            self.warm_run.as_ref(),
        ];
        let uses_program = commands
            .into_iter()
            .flatten()
            .flatten()
            .any(|word| word.contains(PROGRAM));
        if uses_program && self.program.is_empty() {
            return Err(format!(
                "{}: commands use {PROGRAM} but no program candidates are given",
                at("program")
            ));
        }
        if self.version.is_empty() && self.program.is_empty() {
            return Err(format!(
                "{}: give a version, or program candidates to read it from",
                at("version")
            ));
        }
        if self.warm > 0 && self.warm_run.is_none() {
            return Err(format!("{}: warm sandboxes need warm_run", at("warm")));
        }
        if crate::files::check_name(&self.source_file).is_err() {
            return Err(format!(
                "{}: must be a plain relative file name",
                at("source_file")
            ));
        }
        for (stage, limits) in [
            ("run_limits", self.run_limits),
            ("compile_limits", self.compile_limits),
        ] {
            if limits.timeout > bounds.max_timeout
                || limits.cpu_time > bounds.max_cpu_time
                || limits.memory > bounds.max_memory
            {
                return Err(format!("{}: exceeds [limits]", at(stage)));
            }
        }
        Ok(())
    }

    /// The host paths this language needs that are missing here (empty: offered);
    /// call on a config whose `{program}` is already resolved.
    pub fn missing_paths(&self) -> Vec<PathBuf> {
        let compiler = self.compile.as_ref().and_then(|c| c.first());
        let programs = [self.run.first(), compiler]
            .into_iter()
            .flatten()
            .map(PathBuf::from);
        let absolute = programs.filter(|p| p.is_absolute());
        self.binds
            .iter()
            .cloned()
            .chain(absolute)
            .filter(|p| !p.exists())
            .collect()
    }
}
