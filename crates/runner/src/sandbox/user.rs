//! User namespace: the sandbox's ids map onto two unprivileged host ids
//! (inside 0 → `base`, inside 1000 → `base + 1`). The init sets up as inside
//! root, then the program runs as 1000 with no capabilities at all.

use super::sys::{SetupError, Step, StepResult, check};

/// The unprivileged id the program runs as, inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;

/// Host side: writes uid and gid maps of the freshly cloned init `pid`.
pub fn parent_setup(pid: i32, base: u32) -> StepResult {
    let map = format!("0 {base} 1\n{SANDBOX_ID} {} 1\n", base + 1);
    for file in ["uid_map", "gid_map"] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &map).map_err(|e| SetupError::io(Step::UserMap, &e, path))?;
    }
    Ok(())
}

/// Inside: become root of the new namespace with no supplementary groups.
pub fn child_setup() -> StepResult {
    // SAFETY: plain id-changing syscalls on this single-threaded process.
    unsafe {
        check(
            libc::setgroups(0, std::ptr::null()).into(),
            Step::User,
            "setgroups",
        )?;
        check(libc::setresgid(0, 0, 0).into(), Step::User, "setresgid 0")?;
        check(libc::setresuid(0, 0, 0).into(), Step::User, "setresuid 0")?;
    }
    Ok(())
}

/// Inside, after mounts: drop every capability for good and become `SANDBOX_ID`.
pub fn drop_privileges() -> StepResult {
    let step = Step::Privileges;
    // SAFETY: prctl/set*id calls with integer arguments only.
    unsafe {
        // Drop the bounding set so no later exec can regain anything.
        let mut cap = 0;
        while libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) >= 0 {
            check(
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0).into(),
                step,
                "capbset",
            )?;
            cap += 1;
        }
        let ambient = libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        check(ambient.into(), step, "ambient caps")?;
        let id = SANDBOX_ID;
        check(libc::setresgid(id, id, id).into(), step, "setresgid")?;
        // Leaving uid 0 clears the permitted and effective sets.
        check(libc::setresuid(id, id, id).into(), step, "setresuid")?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
            step,
            "no_new_privs",
        )?;
    }
    Ok(())
}
