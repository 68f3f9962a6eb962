//! Checks at start that this host can run sandboxes, and says exactly what is
//! missing: root, user namespaces, seccomp, a usable cgroup hierarchy, the
//! helper binary, the languages' files.

use crate::config::RunnerConfig;
use crate::job::Catalog;
use crate::sandbox::cgroup::CgroupHost;

/// Every problem found, in words an operator can act on; `Ok` when none.
pub fn preflight(config: &RunnerConfig) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        problems.push(format!(
            "the runner needs root (euid 0) to map sandbox ids to unprivileged host ids and manage cgroups; running as euid {euid}"
        ));
    }
    let userns = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    if userns.trim().parse::<u64>().unwrap_or(0) == 0 {
        problems.push(
            "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0 or missing)"
                .into(),
        );
    }
    let seccomp =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if !seccomp.contains("kill_process") || !seccomp.contains("errno") {
        problems.push("seccomp filters with kill_process and errno actions are unavailable (/proc/sys/kernel/seccomp/actions_avail)".into());
    }
    if let Err(e) = CgroupHost::detect(&config.cgroup.root, &config.cgroup.name) {
        problems.push(e);
    }
    if std::env::current_exe().map(|p| !p.exists()).unwrap_or(true) {
        problems.push(
            "cannot find the runner's own executable (needed to start sandbox helpers)".into(),
        );
    }
    let (catalog, skipped) = Catalog::from_config(config);
    if catalog.all().is_empty() {
        let detail: Vec<String> = skipped
            .iter()
            .map(|(name, missing)| format!("{name} (missing {})", join_paths(missing)))
            .collect();
        problems.push(format!(
            "no language is available on this host: {}",
            detail.join("; ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Comma-separated paths.
pub fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
