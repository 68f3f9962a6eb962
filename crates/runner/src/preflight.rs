//! Checks at start that this host can run sandboxes, and says exactly what is
//! missing: root, or else unprivileged user namespaces and a delegated cgroup;
//! user namespaces, seccomp, a usable cgroup hierarchy, the helper binary, the
//! languages' files.

use crate::cgroup::CgroupHost;
use crate::config::RunnerConfig;
use crate::job::Catalog;

/// Every problem found, in words an operator can act on; `Ok` when none.
pub fn preflight(config: &RunnerConfig) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // SAFETY: geteuid and getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let host = Host {
        euid,
        egid,
        groups: supplementary_groups(),
        sysctl: &|path| std::fs::read_to_string(path).ok(),
    };
    problems.extend(identity_problems(&host));
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
    for lang in skipped.iter().filter(|l| !l.optional) {
        problems.push(format!(
            "language {}: {} (set `optional = true` to start without it)",
            lang.language, lang.reason
        ));
    }
    if catalog.all().is_empty() && skipped.iter().all(|l| l.optional) {
        let detail: Vec<String> = skipped
            .iter()
            .map(|l| format!("{} ({})", l.language, l.reason))
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

/// Who the runner is and what the kernel allows, as `identity_problems` reads it.
struct Host<'a> {
    euid: u32,
    egid: u32,
    groups: Vec<libc::gid_t>,
    /// Reads a `/proc/sys` file (`None` when it does not exist).
    sysctl: &'a dyn Fn(&str) -> Option<String>,
}

/// User namespaces for everyone; and what a runner that is not root needs
/// besides a delegated cgroup (which `CgroupHost::detect` checks):
/// unprivileged user namespaces, and no supplementary groups, which its
/// sandboxes would keep (an unprivileged user namespace cannot drop them:
/// setgroups is denied there).
fn identity_problems(host: &Host) -> Vec<String> {
    let mut problems = Vec::new();
    let sysctl = |path: &str| (host.sysctl)(path).map(|v| v.trim().to_string());
    let max = sysctl("/proc/sys/user/max_user_namespaces");
    if max.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) == 0 {
        problems.push(
            "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0 or missing)"
                .into(),
        );
    }
    let euid = host.euid;
    if euid == 0 {
        return problems;
    }
    // Debian's switch; absent on kernels without the patch.
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone").is_some_and(|v| v != "1") {
        problems.push(format!("not root (euid {euid}) and unprivileged user namespaces are disabled: /proc/sys/kernel/unprivileged_userns_clone is not 1 (run as root, or set it to 1)"));
    }
    // Ubuntu's AppArmor switch.
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_some_and(|v| v != "0") {
        problems.push(format!("not root (euid {euid}) and AppArmor restricts unprivileged user namespaces: /proc/sys/kernel/apparmor_restrict_unprivileged_userns is not 0 (run as root, or allow the runner in an AppArmor profile)"));
    }
    let extra: Vec<String> = host
        .groups
        .iter()
        .filter(|&&g| g != host.egid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn problems(euid: u32, groups: &[u32], sysctls: &[(&str, &str)]) -> Vec<String> {
        let sysctls: HashMap<String, String> = sysctls
            .iter()
            .map(|(k, v)| (format!("/proc/sys/{k}"), format!("{v}\n")))
            .collect();
        let read = move |path: &str| sysctls.get(path).cloned();
        identity_problems(&Host {
            euid,
            egid: 900,
            groups: groups.to_vec(),
            sysctl: &read,
        })
    }

    #[test]
    fn root_needs_only_user_namespaces() {
        let off = [("kernel/unprivileged_userns_clone", "0")];
        assert!(problems(0, &[4, 27], &off)[0].contains("max_user_namespaces"));
        assert_eq!(
            problems(0, &[4], &[("user/max_user_namespaces", "10")]).len(),
            0
        );
    }

    #[test]
    fn unprivileged_needs_userns_switches_on_and_no_groups() {
        let on = [
            ("user/max_user_namespaces", "10"),
            ("kernel/unprivileged_userns_clone", "1"),
            ("kernel/apparmor_restrict_unprivileged_userns", "0"),
        ];
        assert_eq!(problems(999, &[900], &on), Vec::<String>::new());
        let off = [
            ("user/max_user_namespaces", "0"),
            ("kernel/unprivileged_userns_clone", "0"),
            ("kernel/apparmor_restrict_unprivileged_userns", "1"),
        ];
        let found = problems(999, &[900, 27], &off);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("max_user_namespaces is 0"), "{found:?}");
        assert!(
            found[1].contains("unprivileged_userns_clone is not 1"),
            "{found:?}"
        );
        assert!(
            found[2].contains("apparmor_restrict_unprivileged_userns"),
            "{found:?}"
        );
        assert!(
            found[3].contains("supplementary groups 27, which"),
            "{found:?}"
        );
    }
}
