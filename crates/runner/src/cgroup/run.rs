//! One run's cgroup: created with its caps, re-weighted and resized while a
//! warm sandbox waits, read for CPU time, peak memory and OOM kills, emptied
//! and removed when the run ends.

use super::{CgroupLimits, CpuPriority, Version, keyed_u64, kill_procs, read_u64, write};
use std::path::PathBuf;

/// One run's cgroup; `cleanup` removes it.
#[derive(Debug)]
pub struct RunCgroup {
    pub(super) version: Version,
    pub(super) memory: PathBuf,
    pub(super) pids: PathBuf,
    pub(super) cpu: PathBuf,
    pub(super) cpuacct: PathBuf,
    pub(super) memsw: bool,
}

const CPU_PERIOD_US: u64 = 100_000;

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
