//! User namespace: how the sandbox's ids map onto host ids. A root runner maps
//! them onto two unprivileged host ids (inside 0 → `base`, inside 1000 →
//! `base + 1`); the init sets up as inside root. An unprivileged runner may
//! only map one id, its own (with setgroups denied): inside 1000 → the
//! runner's uid/gid, and the init sets up as 1000 with the capabilities the
//! kernel gives the creator of a user namespace. Either way the program runs
//! as 1000 with no capabilities at all.

use super::sys::{SetupError, Step, StepResult, check};

/// The unprivileged id the program runs as, inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;

/// How the sandbox's ids map onto host ids; fixed by the runner's own rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMap {
    /// Root runner: inside 0 → `base`, inside `SANDBOX_ID` → `base + 1`.
    Pool {
        /// First of the two host ids (`host_id_base`).
        base: u32,
    },
    /// Unprivileged runner: inside `SANDBOX_ID` → the runner's own ids, the
    /// only map such a process may write.
    Own {
        /// The runner's effective uid.
        uid: u32,
        /// The runner's effective gid.
        gid: u32,
    },
}

impl IdMap {
    /// The map this process may write: `Pool` as root, else `Own`.
    pub fn for_this_process(base: u32) -> Self {
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 {
            Self::Pool { base }
        } else {
            Self::Own { uid, gid }
        }
    }

    /// The inside id the init sets up as (root when the map allows it).
    fn setup_id(self) -> u32 {
        match self {
            Self::Pool { .. } => 0,
            Self::Own { .. } => SANDBOX_ID,
        }
    }
}

/// Host side: writes uid and gid maps of the freshly cloned init `pid`.
pub fn parent_setup(pid: i32, ids: IdMap) -> StepResult {
    let write = |file: &str, text: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(|e| SetupError::io(Step::UserMap, &e, path))
    };
    match ids {
        IdMap::Pool { base } => {
            let map = format!("0 {base} 1\n{SANDBOX_ID} {} 1\n", base + 1);
            write("uid_map", &map)?;
            write("gid_map", &map)
        }
        IdMap::Own { uid, gid } => {
            // The kernel refuses an unprivileged gid_map until setgroups is denied.
            write("setgroups", "deny")?;
            write("uid_map", &format!("{SANDBOX_ID} {uid} 1\n"))?;
            write("gid_map", &format!("{SANDBOX_ID} {gid} 1\n"))
        }
    }
}

/// Inside: take the setup id, with no supplementary groups where the map
/// allows dropping them (an unprivileged runner has none: preflight insists).
pub fn child_setup(ids: IdMap) -> StepResult {
    let id = ids.setup_id();
    // SAFETY: plain id-changing syscalls on this single-threaded process.
    unsafe {
        if let IdMap::Pool { .. } = ids {
            check(
                libc::setgroups(0, std::ptr::null()).into(),
                Step::User,
                "setgroups",
            )?;
        }
        check(libc::setresgid(id, id, id).into(), Step::User, "setresgid")?;
        check(libc::setresuid(id, id, id).into(), Step::User, "setresuid")?;
    }
    Ok(())
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two `CapData`.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Inside, after mounts: drop every capability for good and become `SANDBOX_ID`.
pub fn drop_privileges() -> StepResult {
    let step = Step::Privileges;
    // SAFETY: prctl/set*id calls with integer arguments; capset reads a
    // header and two data structs that live in this frame.
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
        // An `Own` map never was uid 0: clear them explicitly (a no-op for `Pool`).
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let none = [CapData::default(); 2];
        let ret = libc::syscall(libc::SYS_capset, &header, none.as_ptr());
        check(ret, step, "capset")?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
            step,
            "no_new_privs",
        )?;
    }
    Ok(())
}
