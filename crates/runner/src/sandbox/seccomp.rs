//! Seccomp-bpf, installed last before exec: any non-x86_64 ABI (i386 via
//! `int 0x80`) and the x32 ABI kill the process; the syscalls that reach into
//! the kernel's privileged or host-facing surfaces fail with EPERM; `clone`
//! with namespace flags fails; `clone3` reports ENOSYS so libc falls back to
//! `clone`, whose flags the filter can see; `ioctl(TIOCSTI)` fails.
//! The program is small enough to write by hand and read in one go.

use super::sys::{Step, StepResult, check};

/// x86_64's audit arch (EM_X86_64 | 64-bit | little-endian).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Syscall numbers with this bit set are the x32 ABI.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Syscalls that fail with EPERM.
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_lookup_dcookie,
    libc::SYS_uselib,
    libc::SYS_pidfd_getfd,
    libc::SYS_process_madvise,
    libc::SYS_kcmp,
    libc::SYS_fanotify_init,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
];

// Every entry of DENIED reaches the shared EPERM return with an 8-bit jump.
const _: () = assert!(DENIED.len() < 255);

/// Namespace-creating clone flags.
const NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32;

/// Offsets into `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0: u32 = 16;
const OFF_ARG1: u32 = 24;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ_K: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGE_K: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const JSET_K: u32 = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
const RET_K: u32 = libc::BPF_RET | libc::BPF_K;
const JA: u32 = libc::BPF_JMP | libc::BPF_JA;

fn ret_errno(errno: i32) -> libc::sock_filter {
    stmt(RET_K, libc::SECCOMP_RET_ERRNO | errno as u32)
}

/// The filter program, top to bottom.
pub fn program() -> Vec<libc::sock_filter> {
    let allow = stmt(RET_K, libc::SECCOMP_RET_ALLOW);
    let kill = stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS);
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        kill,
        stmt(LD_W_ABS, OFF_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        kill,
    ];
    // Every denied number jumps to one shared EPERM return: half the
    // instructions of a return per entry, so the per-sandbox JIT is cheaper.
    let denied = DENIED.len();
    for (i, &nr) in DENIED.iter().enumerate() {
        // At most DENIED.len() (< 255, checked at compile time) ahead.
        p.push(jump(JEQ_K, nr as u32, (denied - i) as u8, 0));
    }
    p.push(stmt(JA, 1));
    p.push(ret_errno(libc::EPERM));
    p.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
    p.push(ret_errno(libc::ENOSYS));
    // clone: look at the flags in arg0.
    p.push(jump(JEQ_K, libc::SYS_clone as u32, 0, 4));
    p.push(stmt(LD_W_ABS, OFF_ARG0));
    p.push(jump(JSET_K, NS_FLAGS, 0, 1));
    p.push(ret_errno(libc::EPERM));
    p.push(allow);
    // ioctl: look at the request in arg1 (nr is reloaded: A was not changed on this path).
    p.push(jump(JEQ_K, libc::SYS_ioctl as u32, 0, 4));
    p.push(stmt(LD_W_ABS, OFF_ARG1));
    p.push(jump(JEQ_K, libc::TIOCSTI as u32, 0, 1));
    p.push(ret_errno(libc::EPERM));
    p.push(allow);
    p.push(allow);
    p
}

/// Inside, last step before exec: installs the filter (needs no_new_privs).
pub fn child_setup() -> StepResult {
    let mut prog = program();
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const fprog,
            0,
            0,
        )
    };
    check(ret.into(), Step::Seccomp, "PR_SET_SECCOMP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_within_bpf_limits_and_ends_in_allow() {
        let p = program();
        assert!(p.len() < 4096);
        assert_eq!(p.last().map(|i| i.k), Some(libc::SECCOMP_RET_ALLOW));
        assert_eq!(p[1].k, AUDIT_ARCH_X86_64);
    }
}
