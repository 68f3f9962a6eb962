//! Checks at start that this host can run sandboxes, and says exactly what is
//! missing: root, or else unprivileged user namespaces and a delegated cgroup;
//! user namespaces, seccomp, a usable cgroup hierarchy, the helper binary, the
//! languages' files.

use crate::config::RunnerConfig;
use crate::job::Catalog;
use crate::sandbox::cgroup::CgroupHost;

/// Every problem found, in words an operator can act on; `Ok` when none.
pub fn preflight(config: &RunnerConfig) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        problems.extend(unprivileged_problems(euid));
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

/// What a runner that is not root needs besides a delegated cgroup (which
/// `CgroupHost::detect` checks): unprivileged user namespaces, and no
/// supplementary groups, which its sandboxes would keep (an unprivileged user
/// namespace cannot drop them: setgroups is denied there).
fn unprivileged_problems(euid: u32) -> Vec<String> {
    let mut problems = Vec::new();
    let sysctl = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|v| v.trim().to_string())
    };
    // Debian's switch; absent on kernels without the patch.
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone").is_some_and(|v| v != "1") {
        problems.push(format!("not root (euid {euid}) and unprivileged user namespaces are disabled: /proc/sys/kernel/unprivileged_userns_clone is not 1 (run as root, or set it to 1)"));
    }
    // Ubuntu's AppArmor switch.
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_some_and(|v| v != "0") {
        problems.push(format!("not root (euid {euid}) and AppArmor restricts unprivileged user namespaces: /proc/sys/kernel/apparmor_restrict_unprivileged_userns is not 0 (run as root, or allow the runner in an AppArmor profile)"));
    }
    // SAFETY: getegid has no preconditions.
    let egid = unsafe { libc::getegid() };
    let extra: Vec<String> = supplementary_groups()
        .into_iter()
        .filter(|&g| g != egid)
        .map(|g| g.to_string())
        .collect();
    if !extra.is_empty() {
        problems.push(format!("not root (euid {euid}) and the runner has supplementary groups {}, which its sandboxes would keep (run it with none, e.g. setpriv --clear-groups)", extra.join(", ")));
    }
    problems
}

/// This process's supplementary group ids.
fn supplementary_groups() -> Vec<libc::gid_t> {
    let mut groups = vec![0; 1024];
    // SAFETY: getgroups writes at most `len` gids into the buffer it is given.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(n).unwrap_or(0));
    groups
}

/// Comma-separated paths.
pub fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
