//! One cgroup per run, for the memory (swap included), pids and CPU caps and
//! for honest numbers (peak memory, CPU time of every process of the run).
//! cgroup v2 when its memory, pids and cpu controllers are available, else
//! the v1 hierarchies. The runner creates and removes it (`parent_setup`,
//! `cleanup`); the helper moves the sandbox's init into it before releasing it.

use super::sys::{SetupError, Step, StepResult};
use std::path::{Path, PathBuf};

/// Which cgroup interface is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// Where the runner's cgroups live, found once at start.
#[derive(Debug, Clone)]
pub struct CgroupHost {
    version: Version,
    /// v2: one dir; v1: memory, pids, cpu, cpuacct dirs (cpuacct may equal cpu).
    memory: PathBuf,
    pids: PathBuf,
    cpu: PathBuf,
    cpuacct: PathBuf,
    /// v1: the memory controller has `memory.memsw.*` (swap accounting).
    memsw: bool,
}

/// How a run's processes compete for CPU with the other runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuPriority {
    /// The kernel's default weight.
    #[default]
    Normal,
    /// Lowest weight: a warm sandbox being built only takes CPU that the
    /// running programs and the runner leave idle, so refills never slow
    /// the runs they are meant to speed up.
    Background,
}

impl CpuPriority {
    /// v2 `cpu.weight` and v1 `cpu.shares` values.
    fn weights(self) -> (&'static str, &'static str) {
        match self {
            Self::Normal => ("100", "1024"),
            Self::Background => ("1", "2"),
        }
    }
}

/// Caps of one run's cgroup; a cap left `None` is not set.
#[derive(Debug, Clone, Copy)]
pub struct CgroupLimits {
    /// Memory cap in bytes, swap included.
    pub memory_bytes: Option<u64>,
    /// Most processes and threads at once.
    pub pids: Option<u64>,
    /// CPU bandwidth in thousandths of a CPU (1000 = one full core).
    pub cpu_millis: Option<u64>,
    /// CPU weight against the other runs.
    pub priority: CpuPriority,
}

/// One run's cgroup; `cleanup` removes it.
#[derive(Debug)]
pub struct RunCgroup {
    version: Version,
    memory: PathBuf,
    pids: PathBuf,
    cpu: PathBuf,
    cpuacct: PathBuf,
    memsw: bool,
}

const CPU_PERIOD_US: u64 = 100_000;

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Whether this process (by its effective ids) may write `path`.
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: faccessat reads a NUL-terminated path owned by this frame.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a `key value` lines file (memory.events, cpu.stat …).
fn keyed_u64(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// This process's cgroup path in the hierarchy whose controller list contains `ctrl`.
fn own_path(ctrl: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if ctrl.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == ctrl)
        };
        hit.then(|| path.trim_start_matches('/').to_string())
    })
}

/// The v2 controllers a run's caps need.
const V2_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
/// v2 leaf of the runner itself under its base dir: a cgroup that enables
/// controllers for children may hold no processes of its own.
const SUPERVISOR: &str = "supervisor";

impl CgroupHost {
    /// Finds a usable hierarchy under `root` and makes `<own cgroup>/<name>` in
    /// it: v2 when its memory, pids and cpu controllers are available, else v1.
    pub fn detect(root: &Path, name: &str) -> Result<Self, String> {
        let v2 = Self::locate_v2(root, name).and_then(|host| {
            let missing = host.missing_v2_controllers();
            if missing.is_empty() {
                return Ok(host);
            }
            Err(format!(
                "cgroup v2 at {} lacks the {} controller(s) (bound to cgroup v1 hierarchies or not enabled for this cgroup)",
                host.memory.display(),
                missing.join(", ")
            ))
        });
        let host = v2
            .or_else(|v2_problem| {
                Self::locate_v1(root, name).ok_or_else(|| {
                    format!(
                        "no usable cgroup under {}: {v2_problem}; and no cgroup v1 memory, pids, cpu and cpuacct hierarchies",
                        root.display()
                    )
                })
            })?;
        host.check_delegated()?;
        host.prepare()
            .map_err(|e| format!("cannot prepare cgroup {}: {e}", host.memory.display()))?;
        Ok(host)
    }

    /// A runner that is not root needs its base dirs delegated: writable by
    /// its uid where they exist, else their nearest existing ancestor; on v2
    /// also its own cgroup's `cgroup.procs` and `cgroup.subtree_control`.
    fn check_delegated(&self) -> Result<(), String> {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            return Ok(());
        }
        let mut needed: Vec<PathBuf> = self
            .dirs()
            .into_iter()
            .filter_map(|d| d.ancestors().find(|a| a.exists()).map(Path::to_path_buf))
            .collect();
        if let (Version::V2, Some(own)) = (self.version, self.memory.parent()) {
            needed.push(own.join("cgroup.procs"));
            needed.push(own.join("cgroup.subtree_control"));
        }
        let missing: Vec<String> = needed
            .iter()
            .filter(|p| !writable(p))
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "not root (euid {euid}) and the cgroup is not delegated to this user: cannot write {} (chown the runner's cgroup, or a subtree that cgroup.name points into, to this user in the memory, pids, cpu and cpuacct hierarchies; on cgroup v2 delegate a subtree, e.g. systemd Delegate=yes)",
            missing.join(", ")
        ))
    }

    /// The unified (v2) hierarchy under `root` (or `root/unified`), prepared,
    /// whatever controllers it offers: runs get only the caps those allow, and
    /// setting a missing one fails. `detect` insists on memory, pids and cpu.
    pub fn unified(root: &Path, name: &str) -> Result<Self, String> {
        let host = Self::locate_v2(root, name)?;
        host.prepare()
            .map_err(|e| format!("cannot prepare cgroup {}: {e}", host.memory.display()))?;
        Ok(host)
    }

    /// v2 paths for `name`, without touching anything.
    fn locate_v2(root: &Path, name: &str) -> Result<Self, String> {
        let mount = [root.to_path_buf(), root.join("unified")]
            .into_iter()
            .find(|p| p.join("cgroup.controllers").exists())
            .ok_or_else(|| format!("no cgroup v2 mount at {} or its unified/", root.display()))?;
        let own = own_path("").ok_or("this process has no cgroup v2 path in /proc/self/cgroup")?;
        // A runner started earlier in this process may have moved it into its supervisor leaf.
        let own = own
            .strip_suffix(&format!("{name}/{SUPERVISOR}"))
            .map_or(own.as_str(), |o| o.trim_end_matches('/'));
        let dir = mount.join(own).join(name);
        Ok(Self {
            version: Version::V2,
            memory: dir.clone(),
            pids: dir.clone(),
            cpu: dir.clone(),
            cpuacct: dir,
            memsw: false,
        })
    }

    /// Of the controllers runs need, those the parent of the base dir cannot hand down.
    fn missing_v2_controllers(&self) -> Vec<&'static str> {
        let parent = self.memory.parent().unwrap_or(&self.memory);
        let have = std::fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        V2_CONTROLLERS
            .into_iter()
            .filter(|c| !have.split_whitespace().any(|h| h == *c))
            .collect()
    }

    fn locate_v1(root: &Path, name: &str) -> Option<Self> {
        let dir = |ctrl: &str| -> Option<PathBuf> {
            let mount = root.join(ctrl);
            mount.join("cgroup.procs").exists().then_some(())?;
            Some(mount.join(own_path(ctrl)?).join(name))
        };
        Some(Self {
            version: Version::V1,
            memory: dir("memory")?,
            pids: dir("pids")?,
            cpu: dir("cpu")?,
            cpuacct: dir("cpuacct")?,
            memsw: root.join("memory/memory.memsw.limit_in_bytes").exists(),
        })
    }

    fn dirs(&self) -> Vec<&PathBuf> {
        let mut dirs = vec![&self.memory, &self.pids, &self.cpu, &self.cpuacct];
        dirs.dedup();
        dirs
    }

    /// Creates the base dirs, removes runs a crashed runner left behind, and
    /// (v2) hands the controllers down to the runs.
    fn prepare(&self) -> std::io::Result<()> {
        for dir in self.dirs() {
            std::fs::create_dir_all(dir)?;
            for entry in std::fs::read_dir(dir)?.flatten() {
                if is_stale_run(&entry.file_name().to_string_lossy()) && entry.path().is_dir() {
                    kill_procs(&entry.path());
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
        if self.version == Version::V2 {
            self.delegate_v2()?;
        }
        Ok(())
    }

    /// v2's "no internal processes" rule: a non-root cgroup that enables
    /// controllers for children may hold no process. The runner moves itself
    /// into `<base>/supervisor`, then enables the available ones of memory,
    /// pids and cpu in its own cgroup and in the base.
    fn delegate_v2(&self) -> std::io::Result<()> {
        let base = &self.memory;
        let Some(own) = base.parent() else {
            return Ok(());
        };
        let own_is_root = !own.join("cgroup.type").exists();
        if !own_is_root {
            let leaf = base.join(SUPERVISOR);
            std::fs::create_dir_all(&leaf)?;
            write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
        }
        for dir in [own, base.as_path()] {
            enable_v2_controllers(dir).map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::EBUSY) {
                    " (other processes share the runner's cgroup: give the runner a cgroup of its own, e.g. systemd Delegate=yes)"
                } else {
                    ""
                };
                std::io::Error::new(e.kind(), format!("{e}{hint}"))
            })?;
        }
        Ok(())
    }

    /// Gives the runner's group the CPU weight of `runs` ordinary processes.
    /// All runs share this one group; at the default weight, on a busy host,
    /// `max_concurrent` sandboxes together would get the CPU of a single
    /// process while as many bare processes get one share each.
    pub fn set_concurrency(&self, runs: usize) -> std::io::Result<()> {
        let runs = runs.max(1) as u64;
        match self.version {
            Version::V2 => write(
                &self.cpu.join("cpu.weight"),
                &(100 * runs).min(10_000).to_string(),
            ),
            Version::V1 => write(
                &self.cpu.join("cpu.shares"),
                &(1024 * runs).min(262_144).to_string(),
            ),
        }
    }

    /// The group's CPU weight (v2 `cpu.weight`, v1 `cpu.shares`).
    pub fn cpu_weight(&self) -> Option<u64> {
        match self.version {
            Version::V2 => read_u64(&self.cpu.join("cpu.weight")),
            Version::V1 => read_u64(&self.cpu.join("cpu.shares")),
        }
    }

    /// Which interface is in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The paths of run `run_id`'s cgroup; `RunCgroup::create` makes it.
    pub fn run_cgroup(&self, run_id: &str) -> RunCgroup {
        let leaf = format!("run-{run_id}");
        RunCgroup {
            version: self.version,
            memory: self.memory.join(&leaf),
            pids: self.pids.join(&leaf),
            cpu: self.cpu.join(&leaf),
            cpuacct: self.cpuacct.join(&leaf),
            memsw: self.memsw,
        }
    }
}

impl RunCgroup {
    /// Runner side: creates the cgroup with its caps (removed again on failure).
    pub fn create(&self, limits: CgroupLimits) -> std::io::Result<()> {
        let made = self
            .dirs()
            .into_iter()
            .try_for_each(std::fs::create_dir)
            .and_then(|()| self.apply(limits));
        if made.is_err() {
            self.cleanup();
        }
        made
    }

    fn dirs(&self) -> Vec<&PathBuf> {
        let mut dirs = vec![&self.memory, &self.pids, &self.cpu, &self.cpuacct];
        dirs.dedup();
        dirs
    }

    fn apply(&self, limits: CgroupLimits) -> std::io::Result<()> {
        if let Some(bytes) = limits.memory_bytes {
            self.set_memory(u64::MAX, bytes)?;
            if self.version == Version::V2 {
                write(&self.memory.join("memory.swap.max"), "0")?;
            }
        }
        if let Some(pids) = limits.pids {
            write(&self.pids.join("pids.max"), &pids.to_string())?;
        }
        if let Some(millis) = limits.cpu_millis {
            self.set_cpu_bandwidth(millis)?;
        }
        // A new cgroup starts at the default weight.
        match limits.priority {
            CpuPriority::Normal => Ok(()),
            other => self.set_priority(other),
        }
    }

    /// CPU quota per period: `millis` thousandths of a core (at least 1%).
    fn set_cpu_bandwidth(&self, millis: u64) -> std::io::Result<()> {
        let quota = (millis.max(10) * CPU_PERIOD_US / 1000).to_string();
        match self.version {
            Version::V2 => write(
                &self.cpu.join("cpu.max"),
                &format!("{quota} {CPU_PERIOD_US}"),
            ),
            // A new cgroup's period is the kernel's default, CPU_PERIOD_US.
            Version::V1 => write(&self.cpu.join("cpu.cfs_quota_us"), &quota),
        }
    }

    /// The run's CPU weight, read back from the cgroup.
    pub fn priority(&self) -> Option<CpuPriority> {
        let value = match self.version {
            Version::V2 => read_u64(&self.cpu.join("cpu.weight"))?,
            Version::V1 => read_u64(&self.cpu.join("cpu.shares"))?,
        };
        [CpuPriority::Normal, CpuPriority::Background]
            .into_iter()
            .find(|p| {
                let (v2, v1) = p.weights();
                let expected = if self.version == Version::V2 { v2 } else { v1 };
                expected.parse() == Ok(value)
            })
    }

    /// Changes the CPU weight of a live run.
    pub fn set_priority(&self, priority: CpuPriority) -> std::io::Result<()> {
        let (v2, v1) = priority.weights();
        match self.version {
            Version::V2 => write(&self.cpu.join("cpu.weight"), v2),
            Version::V1 => write(&self.cpu.join("cpu.shares"), v1),
        }
    }

    /// Changes the memory cap (swap included) of a live run from `current`,
    /// the cap it has now (`u64::MAX` for a new cgroup), to `bytes`.
    pub fn set_memory(&self, current: u64, bytes: u64) -> std::io::Result<()> {
        if current == bytes {
            return Ok(());
        }
        let value = bytes.to_string();
        if self.version == Version::V2 {
            return write(&self.memory.join("memory.max"), &value);
        }
        let limit = self.memory.join("memory.limit_in_bytes");
        if !self.memsw {
            return write(&limit, &value);
        }
        // memsw must stay >= limit at every moment: order the writes by direction.
        let memsw = self.memory.join("memory.memsw.limit_in_bytes");
        if bytes > current {
            write(&memsw, &value)?;
            write(&limit, &value)
        } else {
            write(&limit, &value)?;
            write(&memsw, &value)
        }
    }

    /// The files the sandbox's init writes its pid into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// Host pids of the run's processes (threads' groups), as the kernel lists them.
    pub fn pids(&self) -> Vec<i32> {
        let text = std::fs::read_to_string(self.memory.join("cgroup.procs")).unwrap_or_default();
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// CPU time of every process of the run so far, in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        match self.version {
            Version::V2 => {
                keyed_u64(&self.cpuacct.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000
            }
            Version::V1 => read_u64(&self.cpuacct.join("cpuacct.usage")).unwrap_or(0),
        }
    }

    /// Peak memory of the run in bytes.
    pub fn peak_memory(&self) -> u64 {
        match self.version {
            Version::V2 => read_u64(&self.memory.join("memory.peak")).unwrap_or(0),
            Version::V1 => read_u64(&self.memory.join("memory.max_usage_in_bytes")).unwrap_or(0),
        }
    }

    /// How many processes the kernel's OOM killer took in this run.
    pub fn oom_kills(&self) -> u64 {
        match self.version {
            Version::V2 => keyed_u64(&self.memory.join("memory.events"), "oom_kill").unwrap_or(0),
            Version::V1 => {
                keyed_u64(&self.memory.join("memory.oom_control"), "oom_kill").unwrap_or(0)
            }
        }
    }

    /// SIGKILLs every process of the run now (v2: `cgroup.kill`, which also
    /// catches processes forked meanwhile; v1: each listed pid, the init
    /// among them, whose death takes its whole pid namespace along).
    pub fn kill_all(&self) {
        if self.version == Version::V2 && write(&self.memory.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        kill_procs(&self.memory);
    }

    /// True when no process of the run is left.
    pub fn is_empty(&self) -> bool {
        self.procs_files().iter().all(|f| {
            std::fs::read_to_string(f)
                .map(|t| t.trim().is_empty())
                .unwrap_or(true)
        })
    }

    /// Kills whatever is left and removes the cgroup; true when it is gone.
    /// An empty cgroup is removed at once; only a busy one (some process
    /// left, `rmdir` refused) costs a kill and a retry.
    pub fn cleanup(&self) -> bool {
        for attempt in 0..200 {
            let gone = self
                .dirs()
                .into_iter()
                .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists());
            if gone {
                return true;
            }
            if self.version == Version::V2 {
                let _ = write(&self.memory.join("cgroup.kill"), "1");
            }
            for dir in self.dirs() {
                kill_procs(dir);
            }
            std::thread::sleep(std::time::Duration::from_millis(if attempt < 20 {
                1
            } else {
                10
            }));
        }
        false
    }
}

/// Enables in `dir`'s subtree those of memory, pids and cpu that `dir` has
/// and has not enabled yet (writing nothing when none is left).
fn enable_v2_controllers(dir: &Path) -> std::io::Result<()> {
    let have = std::fs::read_to_string(dir.join("cgroup.controllers"))?;
    let on = std::fs::read_to_string(dir.join("cgroup.subtree_control"))?;
    let wanted: Vec<String> = V2_CONTROLLERS
        .into_iter()
        .filter(|c| have.split_whitespace().any(|h| h == *c))
        .filter(|c| !on.split_whitespace().any(|h| h == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// A `run-<pid>-<n>` dir whose runner process is gone.
fn is_stale_run(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("run-") else {
        return false;
    };
    let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// SIGKILLs every process listed in `dir`'s cgroup.procs.
fn kill_procs(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) with a pid read from the run's own cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Helper side: moves the sandbox init `pid` into the run's cgroup.
pub fn join(pid: i32, procs_files: &[PathBuf]) -> StepResult {
    for file in procs_files {
        write(file, &pid.to_string())
            .map_err(|e| SetupError::io(Step::CgroupJoin, &e, file.display().to_string()))?;
    }
    Ok(())
}

/// Inside, once moved into the run's cgroup: a cgroup namespace rooted there,
/// so `/proc/self/cgroup` shows `/` and no host cgroup path.
pub fn child_setup() -> StepResult {
    // SAFETY: unshare with a flag constant.
    let ret = unsafe { libc::unshare(libc::CLONE_NEWCGROUP) };
    super::sys::check(ret.into(), Step::CgroupJoin, "unshare(CLONE_NEWCGROUP)")
}
