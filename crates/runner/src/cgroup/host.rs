//! Finding the runner's cgroup hierarchy at start (v2 with the memory, pids
//! and cpu controllers delegated, else v1), preparing it, clearing runs a dead
//! runner left behind, and naming each run's cgroup.

use super::run::RunCgroup;
use super::{Version, kill_procs, read_u64, writable, write};
use std::path::{Path, PathBuf};

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
