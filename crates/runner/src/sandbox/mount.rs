//! Mount namespace: a fresh tmpfs root holding read-only, nosuid, nodev binds
//! of just the language's host paths, a size-capped `/tmp` owned by the
//! program's user, a minimal `/dev`, and `/proc` of the new pid namespace. The
//! host's tree is detached after `pivot_root`, so nothing else is reachable.

use super::sys::{SetupError, Step, StepResult, check, cstr, mount};
use super::user::SANDBOX_ID;
use crate::spec::SandboxSpec;
use std::os::unix::fs::symlink;
use std::path::Path;

/// Where the new root is assembled (shadowed in our private mount namespace only).
const NEW_ROOT: &str = "/tmp";
/// Device nodes bound from the host.
const DEVICES: [&str; 4] = ["null", "zero", "random", "urandom"];

const NOSUID_NODEV: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV;

/// Inside: builds the whole filesystem view and pivots into it.
pub fn child_setup(spec: &SandboxSpec) -> StepResult {
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
    mount(
        Some("tmpfs"),
        NEW_ROOT,
        Some("tmpfs"),
        NOSUID_NODEV,
        Some("size=1m,mode=0755"),
    )?;
    for bind in &spec.binds {
        bind_readonly(bind)?;
    }
    mount_tmp(spec)?;
    mount_dev(spec)?;
    let proc_dir = inside("/proc");
    mkdir_all(&proc_dir)?;
    let proc_flags = NOSUID_NODEV | libc::MS_NOEXEC;
    mount(Some("proc"), &proc_dir, Some("proc"), proc_flags, None)?;
    pivot()?;
    let ro_root = libc::MS_REMOUNT | libc::MS_RDONLY | NOSUID_NODEV;
    mount(None, "/", None, ro_root, None)?;
    std::env::set_current_dir("/tmp").map_err(|e| SetupError::io(Step::Mount, &e, "chdir /tmp"))
}

/// The path of `host` inside the new root.
fn inside(host: &str) -> String {
    format!("{NEW_ROOT}{host}")
}

fn mkdir_all(path: &str) -> StepResult {
    std::fs::create_dir_all(path).map_err(|e| SetupError::io(Step::Mount, &e, path))
}

/// Binds one host path read-only; a host symlink is recreated as a symlink.
fn bind_readonly(host: &Path) -> StepResult {
    let host_str = host.to_str().ok_or_else(|| bad_path(host))?;
    let target = inside(host_str);
    let meta =
        std::fs::symlink_metadata(host).map_err(|e| SetupError::io(Step::Mount, &e, host_str))?;
    if let Some(parent) = Path::new(&target).parent().and_then(Path::to_str) {
        mkdir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        let link =
            std::fs::read_link(host).map_err(|e| SetupError::io(Step::Mount, &e, host_str))?;
        return symlink(&link, &target).map_err(|e| SetupError::io(Step::Mount, &e, &target));
    }
    if meta.is_dir() {
        mkdir_all(&target)?;
    } else {
        std::fs::write(&target, b"").map_err(|e| SetupError::io(Step::Mount, &e, &target))?;
    }
    mount(
        Some(host_str),
        &target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | NOSUID_NODEV;
    mount(None, &target, None, flags | locked_flags(host_str)?, None)
}

fn bad_path(host: &Path) -> SetupError {
    SetupError {
        step: Step::Mount,
        errno: libc::EINVAL,
        detail: format!("{host:?}"),
    }
}

/// Flags of the source mount that a user namespace may not clear on remount.
fn locked_flags(host: &str) -> Result<libc::c_ulong, SetupError> {
    let path = cstr(Step::Mount, host)?;
    // SAFETY: statvfs fills the zeroed local struct from a valid C path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let ret = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    check(ret.into(), Step::Mount, host)?;
    let pairs = [
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st_flag, _)| st.f_flag & st_flag != 0)
        .fold(0, |acc, (_, ms)| acc | ms))
}

/// The program's working directory: a size- and inode-capped tmpfs it owns.
fn mount_tmp(spec: &SandboxSpec) -> StepResult {
    let dir = inside("/tmp");
    mkdir_all(&dir)?;
    let data = format!(
        "size={},nr_inodes={},mode=0700,uid={SANDBOX_ID},gid={SANDBOX_ID}",
        spec.tmp_bytes.max(4096),
        spec.tmp_inodes.max(16)
    );
    mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        NOSUID_NODEV,
        Some(&data),
    )
}

/// A read-only `/dev` with four device binds, `/dev/shm` and the fd symlinks.
fn mount_dev(spec: &SandboxSpec) -> StepResult {
    let dev = inside("/dev");
    mkdir_all(&dev)?;
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        flags,
        Some("size=64k,mode=0755"),
    )?;
    for name in DEVICES {
        let target = format!("{dev}/{name}");
        std::fs::write(&target, b"").map_err(|e| SetupError::io(Step::Mount, &e, &target))?;
        mount(
            Some(&format!("/dev/{name}")),
            &target,
            None,
            libc::MS_BIND,
            None,
        )?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let target = format!("{dev}/{name}");
        symlink(to, &target).map_err(|e| SetupError::io(Step::Mount, &e, &target))?;
    }
    let shm = format!("{dev}/shm");
    mkdir_all(&shm)?;
    let data = format!("size={},nr_inodes=256,mode=1777", spec.shm_bytes.max(4096));
    mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        NOSUID_NODEV | libc::MS_NOEXEC,
        Some(&data),
    )?;
    let ro = libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NOEXEC;
    mount(None, &dev, None, ro, Some("size=64k,mode=0755"))
}

/// Switches to the new root and detaches the host's tree.
fn pivot() -> StepResult {
    std::env::set_current_dir(NEW_ROOT).map_err(|e| SetupError::io(Step::Mount, &e, NEW_ROOT))?;
    mkdir_all(".old")?;
    let (dot, old) = (cstr(Step::Mount, ".")?, cstr(Step::Mount, ".old")?);
    // SAFETY: pivot_root and umount2 take valid C strings owned by this frame.
    unsafe {
        let ret = libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), old.as_ptr());
        check(ret, Step::Mount, "pivot_root")?;
        check(
            libc::umount2(old.as_ptr(), libc::MNT_DETACH).into(),
            Step::Mount,
            "umount old root",
        )?;
    }
    std::fs::remove_dir("/.old").map_err(|e| SetupError::io(Step::Mount, &e, "rmdir /.old"))?;
    std::env::set_current_dir("/").map_err(|e| SetupError::io(Step::Mount, &e, "chdir /"))
}
