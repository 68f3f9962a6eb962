//! The attacks the sandbox must contain (escapes, resource exhaustion,
//! information leaks, syscall abuse), run against cold sandboxes and against warm
//! ones: each attack must get the right verdict and stay contained. Every
//! Python attack first names its process with a unique tag (inherited by
//! every fork and thread); after the verdict the host is scanned and no
//! process with that tag may be left. (Pid-namespace inodes are recycled, so
//! they cannot identify a run after it ends.)

mod support;

use serde_json::{Value, json};
use support::{Mode, post, run, run_of, run_with, server};

/// Prelude: tag the process (comm, 15 chars, random) and print the tag.
const NS: &str = "import os, sys, ctypes\n_t = os.urandom(7).hex()[:14]\nctypes.CDLL(None).prctl(15, ('t' + _t).encode(), 0, 0, 0)\nprint('TAG=t' + _t, flush=True)\n";

/// Asserts no host process carries the tag the run printed.
fn assert_contained(v: &Value) {
    let stdout = run_of(v)["stdout"].as_str().unwrap_or_default();
    let tag = stdout
        .lines()
        .find_map(|l| l.strip_prefix("TAG="))
        .unwrap_or_else(|| panic!("no TAG line in {v}"));
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == tag {
            left.push(entry.file_name());
        }
    }
    assert!(
        left.is_empty(),
        "processes tagged {tag} survived the verdict: {left:?}"
    );
}

fn status(v: &Value) -> &str {
    run_of(v)["status"].as_str().unwrap_or("OK")
}

fn stdout(v: &Value) -> &str {
    run_of(v)["stdout"].as_str().unwrap_or_default()
}

/// Runs a tagged Python attack whose verdict is not about time: the wall and
/// CPU limits are the runner's maximum, far above the work, so a loaded machine
/// cannot turn an `OK`, `OOM` or `SG` into `TO`. Attacks about time set their own.
async fn py(mode: Mode, code: &str) -> Value {
    py_with(
        mode,
        code,
        json!({"run_timeout": 10000, "run_cpu_time": 10000}),
    )
    .await
}

async fn py_with(mode: Mode, code: &str, limits: Value) -> Value {
    run_with(mode, "python", &format!("{NS}{code}"), &[], "", limits).await
}

/// Generates a cold and a warm test for an attack `fn name(mode)`.
macro_rules! cold_and_warm {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cold() { super::$name(Mode::Cold).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn warm() { super::$name(Mode::Warm).await }
        }
    )*};
}

cold_and_warm!(
    fork_bomb,
    thread_bomb,
    memory_bomb_one_process,
    memory_bomb_many_processes,
    dev_shm_fill,
    disk_fill,
    inode_exhaustion,
    fd_exhaustion,
    stdout_flood,
    stderr_flood,
    cpu_spin,
    sleep_past_wall_clock,
    daemonised_grandchild,
    zombies,
    outbound_network,
    host_files,
    proc_and_sys_leaks,
    kill_everything_and_host_pids,
    ptrace,
    mount_and_unshare,
    tiocsti,
    leftovers_between_runs,
    segfault,
    binary_and_nul_bytes,
    no_capabilities_and_no_new_privs,
    exit_semantics_match_plain_python,
    own_namespaces_and_unprivileged_ids,
    filesystem_view,
    environment_is_minimal,
    rlimits_are_set,
    seccomp_denies_escape_syscalls,
    foreign_syscall_abis_are_killed,
    stack_overflow,
    invalid_utf8_source,
    cpu_bandwidth_is_one_core,
    limits_stop_the_run_at_their_value,
    requested_limits_replace_the_defaults,
);

/// The pids cap holds the bomb; memory is ample (64 Pythons dirty ~1 MB
/// each, which at the 64 MB default would end it as OOM or TO by chance).
async fn fork_bomb(mode: Mode) {
    let code = "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let limits = json!({"run_memory_limit": 256 << 20});
    let v = run_with(mode, "python", &format!("{NS}{code}"), &[], "", limits).await;
    assert_eq!(status(&v), "TO", "{v}");
    assert_contained(&v);
}

async fn thread_bomb(mode: Mode) {
    let code = "import threading, time\nn = 0\ntry:\n    while True:\n        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n        n += 1\nexcept RuntimeError:\n    print('threads', n, flush=True)\ntime.sleep(100)\n";
    let v = py_with(mode, code, json!({"run_timeout": 1000})).await;
    assert_eq!(status(&v), "TO", "{v}");
    let n: u32 = stdout(&v)
        .lines()
        .find_map(|l| l.strip_prefix("threads "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(n < 64, "{n} threads: the pids cap did not hold");
    assert_contained(&v);
}

async fn memory_bomb_one_process(mode: Mode) {
    let v = py(mode, "a = []\nwhile True:\n    a.append(b'x' * 10**6)\n").await;
    assert_eq!(status(&v), "OOM", "{v}");
    assert!(run_of(&v)["memory"].as_u64().unwrap() <= 64 << 20, "{v}");
    assert_contained(&v);
}

async fn memory_bomb_many_processes(mode: Mode) {
    let code = "import time\nkids = []\nfor i in range(4):\n    pid = os.fork()\n    if pid == 0:\n        a = b'x' * (30 * 10**6)\n        time.sleep(5)\n        os._exit(0)\n    kids.append(pid)\nfor k in kids:\n    os.waitpid(k, 0)\n";
    let v = run_with(
        mode,
        "python",
        &format!("{NS}{code}"),
        &[],
        "",
        json!({"run_timeout": 8000}),
    )
    .await;
    assert_eq!(status(&v), "OOM", "{v}");
    assert_contained(&v);
}

/// Writes into `dir` until an error; prints the errno name.
fn fill(dir: &str, chunk: usize) -> String {
    format!(
        "import errno\ntotal = 0\ntry:\n    for i in range(100000):\n        with open('{dir}/f%d' % i, 'wb') as f:\n            f.write(b'x' * {chunk})\n        total += {chunk}\nexcept OSError as e:\n    print('ERR', errno.errorcode[e.errno], total, flush=True)\n"
    )
}

async fn dev_shm_fill(mode: Mode) {
    let v = py(mode, &fill("/dev/shm", 1 << 20)).await;
    assert_eq!(status(&v), "OK", "{v}");
    assert!(stdout(&v).contains("ERR ENOSPC"), "{v}");
    assert_contained(&v);
}

async fn disk_fill(mode: Mode) {
    let v = py(mode, &fill("/tmp", 1 << 20)).await;
    assert_eq!(status(&v), "OK", "{v}");
    assert!(stdout(&v).contains("ERR ENOSPC"), "{v}");
    assert_contained(&v);
}

async fn inode_exhaustion(mode: Mode) {
    let v = py(mode, &fill("/tmp", 0)).await;
    assert_eq!(status(&v), "OK", "{v}");
    assert!(stdout(&v).contains("ERR ENOSPC"), "{v}");
    assert_contained(&v);
}

async fn fd_exhaustion(mode: Mode) {
    let code = "import errno\nfds = []\ntry:\n    while True:\n        fds.append(open('/dev/null'))\nexcept OSError as e:\n    print('ERR', errno.errorcode[e.errno], len(fds))\n";
    let v = py(mode, code).await;
    assert_eq!(status(&v), "OK", "{v}");
    let line = stdout(&v)
        .lines()
        .find(|l| l.starts_with("ERR"))
        .unwrap()
        .to_string();
    assert!(line.starts_with("ERR EMFILE"), "{v}");
    let n: u32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n <= 256, "{n} files open");
    assert_contained(&v);
}

async fn stdout_flood(mode: Mode) {
    let v = py(mode, "while True:\n    sys.stdout.write('x' * 65536)\n").await;
    assert_eq!(status(&v), "OL", "{v}");
    assert_eq!(stdout(&v).len(), 64 * 1024);
    assert_contained(&v);
}

async fn stderr_flood(mode: Mode) {
    let v = py(mode, "while True:\n    sys.stderr.write('x' * 65536)\n").await;
    assert_eq!(status(&v), "EL", "{v}");
    assert_eq!(run_of(&v)["stderr"].as_str().unwrap().len(), 64 * 1024);
    assert_contained(&v);
}

async fn cpu_spin(mode: Mode) {
    let limits = json!({"run_timeout": 8000, "run_cpu_time": 300});
    let v = run_with(
        mode,
        "python",
        &format!("{NS}while True:\n    pass\n"),
        &[],
        "",
        limits,
    )
    .await;
    assert_eq!(status(&v), "TO", "{v}");
    assert!(run_of(&v)["cpu_time"].as_u64().unwrap() >= 300, "{v}");
    assert_contained(&v);
}

async fn sleep_past_wall_clock(mode: Mode) {
    let v = py_with(
        mode,
        "import time\ntime.sleep(30)\n",
        json!({"run_timeout": 1000}),
    )
    .await;
    assert_eq!(status(&v), "TO", "{v}");
    let wall = run_of(&v)["wall_time"].as_u64().unwrap();
    assert!(
        (1000..30_000).contains(&wall),
        "stopped at its limit, not by the sleep's end: {v}"
    );
    assert_contained(&v);
}

async fn daemonised_grandchild(mode: Mode) {
    let code = "import time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\nos.wait()\nprint('parent done')\n";
    let v = py(mode, code).await;
    assert_eq!(status(&v), "OK", "{v}");
    assert_contained(&v);
}

async fn zombies(mode: Mode) {
    let code =
        "for i in range(40):\n    if os.fork() == 0:\n        os._exit(0)\nprint('made zombies')\n";
    let v = py(mode, code).await;
    assert_eq!(status(&v), "OK", "{v}");
    assert!(stdout(&v).contains("made zombies"));
    assert_contained(&v);
}

async fn outbound_network(mode: Mode) {
    let code = "import socket\nfor what, fn in [\n  ('tcp', lambda: socket.create_connection(('1.1.1.1', 53), timeout=0.5)),\n  ('tcp-local', lambda: socket.create_connection(('127.0.0.1', 2358), timeout=0.5)),\n  ('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))),\n  ('dns', lambda: socket.getaddrinfo('example.com', 80)),\n]:\n    try:\n        fn()\n        print(what, 'CONNECTED')\n    except OSError as e:\n        print(what, 'blocked', type(e).__name__)\nprint('ifaces', sorted(n for _, n in socket.if_nameindex()))\n";
    let v = py(mode, code).await;
    let out = stdout(&v);
    assert!(!out.contains("CONNECTED"), "{v}");
    assert_eq!(out.matches("blocked").count(), 4, "{v}");
    assert!(out.contains("ifaces ['lo']"), "{v}");
    assert_contained(&v);
}

async fn host_files(mode: Mode) {
    let config = support::config_path().canonicalize().unwrap();
    let code = format!(
        "for p in ['/etc/shadow', '/etc/passwd', {config:?}, '/proc/1/environ', '/root', '/work']:\n    try:\n        data = open(p, 'rb').read()\n        print(p, 'READ', len(data), data[:200])\n    except OSError as e:\n        print(p, 'denied', type(e).__name__)\n"
    );
    let v = py(mode, &code).await;
    let out = stdout(&v);
    assert!(!out.contains("READ"), "{v}");
    assert_contained(&v);
}

async fn proc_and_sys_leaks(mode: Mode) {
    let code = "pids = [p for p in os.listdir('/proc') if p.isdigit()]\nprint('pids', len(pids))\nprint('sys', os.path.exists('/sys'))\nmounts = open('/proc/self/mountinfo').read()\nprint('leak' if ('/work' in mounts or 'cgroup' in mounts or '/root' in mounts) else 'clean')\nprint('cgroup', open('/proc/self/cgroup').read().strip().split(':')[-1])\nimport socket\nprint('host', socket.gethostname())\n";
    let v = py(mode, code).await;
    let out = stdout(&v);
    let pids: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("pids "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pids <= 3, "sees {pids} processes: {v}");
    assert!(out.contains("sys False"), "{v}");
    assert!(out.contains("clean"), "{v}");
    assert!(out.contains("cgroup /\n"), "{v}");
    assert!(out.contains("host sandbox"), "{v}");
    assert_contained(&v);
}

async fn kill_everything_and_host_pids(mode: Mode) {
    let mut host = std::process::Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let code = format!(
        "try:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    print('nothing to kill')\nfor pid in [{}, 1, {}]:\n    try:\n        os.kill(pid, 9)\n        print(pid, 'SENT')\n    except OSError as e:\n        print(pid, 'refused', type(e).__name__)\nprint('still here')\n",
        host.id(),
        std::process::id()
    );
    let v = py(mode, &code).await;
    assert!(stdout(&v).contains("still here"), "{v}");
    assert!(
        host.try_wait().unwrap().is_none(),
        "a host process was killed"
    );
    host.kill().unwrap();
    let _ = host.wait();
    assert_contained(&v);
}

/// Calls a libc function through ctypes and prints its errno.
fn libc_call(call: &str) -> String {
    format!(
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\nr = {call}\nprint('ret', r, errno.errorcode.get(ctypes.get_errno(), 0))\n"
    )
}

async fn ptrace(mode: Mode) {
    let v = py(mode, &libc_call("libc.ptrace(0, 0, 0, 0)")).await;
    assert!(stdout(&v).contains("ret -1 EPERM"), "{v}");
    let v = py(mode, &libc_call("libc.syscall(310, 1, 0, 0, 0, 0)")).await; // process_vm_readv
    assert!(stdout(&v).contains("ret -1 EPERM"), "{v}");
    assert_contained(&v);
}

async fn mount_and_unshare(mode: Mode) {
    let calls = [
        "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)",
        "libc.unshare(0x10000000)",
        "libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)",
        "libc.chroot(b'/tmp')",
        "libc.syscall(321, 0, 0, 0)",
    ];
    for call in calls {
        let v = py(mode, &libc_call(call)).await;
        assert!(stdout(&v).contains("ret -1 EPERM"), "{call}: {v}");
        assert_contained(&v);
    }
}

async fn tiocsti(mode: Mode) {
    let v = py(
        mode,
        &libc_call("libc.ioctl(0, 0x5412, ctypes.c_char_p(b'x'))"),
    )
    .await;
    assert!(stdout(&v).contains("ret -1 EPERM"), "{v}");
    assert_contained(&v);
}

async fn leftovers_between_runs(mode: Mode) {
    let mark = support::marker();
    let write =
        format!("open('/tmp/{mark}', 'w').write('x')\nopen('/dev/shm/{mark}', 'w').write('x')\n");
    let v = py(mode, &write).await;
    assert_eq!(status(&v), "OK", "{v}");
    let v = py(mode, "print(os.listdir('/tmp'), os.listdir('/dev/shm'))\n").await;
    assert!(!stdout(&v).contains(&mark), "{v}");
    assert_contained(&v);
}

async fn segfault(mode: Mode) {
    let v = py(mode, "import ctypes\nctypes.string_at(0)\n").await;
    assert_eq!(status(&v), "SG", "{v}");
    assert_eq!(run_of(&v)["signal"], "SIGSEGV", "{v}");
    assert_contained(&v);
}

async fn binary_and_nul_bytes(mode: Mode) {
    let code = "data = sys.stdin.buffer.read()\nsys.stdout.buffer.write(b'IN=' + data + b'\\xff\\xfe\\x00end\\n')\n";
    let v = run(mode, "python", &format!("{NS}{code}"), &[], "a\u{0}b\u{e9}").await;
    assert_eq!(status(&v), "OK", "{v}");
    assert!(
        stdout(&v).contains("IN=a\u{0}b\u{e9}\u{fffd}\u{fffd}\u{0}end"),
        "{v}"
    );
    assert_contained(&v);
    // Code is read as the gateway reads it: a NUL (where a checker and an
    // interpreter could see different programs) is refused before any sandbox.
    let body = json!({"language": "python", "version": "*", "files": [{"content": "print(1)\u{0}garbage\n"}]});
    let (code, _, v) = post(&format!("{}/api/v2/execute", server(mode).url), &body).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("NUL"), "{v}");
}

async fn no_capabilities_and_no_new_privs(mode: Mode) {
    let code = "st = open('/proc/self/status').read()\nprint([l for l in st.splitlines() if l.startswith(('Cap', 'NoNewPrivs', 'Seccomp:', 'Uid'))])\n";
    let v = py(mode, code).await;
    let out = stdout(&v);
    for line in [
        "CapEff:\\t0000000000000000",
        "CapBnd:\\t0000000000000000",
        "NoNewPrivs:\\t1",
        "Seccomp:\\t2",
        "Uid:\\t1000",
    ] {
        assert!(out.contains(line), "{line} missing: {v}");
    }
    assert_contained(&v);
}

/// Warm runs must look like `python3 main.py`: tracebacks start at the
/// program, atexit handlers and non-daemon threads run, `sys.exit` works.
async fn exit_semantics_match_plain_python(mode: Mode) {
    let code = "import atexit, threading, time\natexit.register(lambda: print('bye'))\nthreading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\nraise ValueError('boom')\n";
    let v = run(mode, "python", code, &[], "").await;
    let stage = run_of(&v);
    assert_eq!(stage["code"], 1, "{v}");
    assert_eq!(stage["stdout"], "thread\nbye\n", "{v}");
    let stderr = stage["stderr"].as_str().unwrap();
    assert!(
        stderr.starts_with("Traceback (most recent call last):\n  File \"")
            && stderr.contains("main.py\", line 4"),
        "{v}"
    );
    assert!(!stderr.contains("<string>"), "bootstrap frames leak: {v}");
    assert!(stderr.ends_with("ValueError: boom\n"), "{v}");
    let v = run(
        mode,
        "python",
        "import sys\nsys.exit('bad input')\n",
        &[],
        "",
    )
    .await;
    assert_eq!(run_of(&v)["code"], 1, "{v}");
    assert_eq!(run_of(&v)["stderr"], "bad input\n", "{v}");
    let v = run(
        mode,
        "python",
        "import sys\nprint(sys.argv[1:], __name__)\nsys.exit(7)\n",
        &["x y"],
        "",
    )
    .await;
    assert_eq!(run_of(&v)["code"], 7, "{v}");
    assert_eq!(run_of(&v)["stdout"], "['x y'] __main__\n", "{v}");
}

/// Every namespace the sandbox unshares (user, pid, mount, net, ipc, uts,
/// cgroup) is new: none is the host's (the test's own).
async fn own_namespaces_and_unprivileged_ids(mode: Mode) {
    let kinds = ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup"];
    let code = format!(
        "for k in {kinds:?}:\n    print(k, os.readlink('/proc/self/ns/' + k))\nprint('uid_map', open('/proc/self/uid_map').read().split())\nprint('gid_map', open('/proc/self/gid_map').read().split())\nprint('ids', os.getresuid(), os.getresgid(), os.getgroups())\n"
    );
    let v = py(mode, &code).await;
    let out = stdout(&v);
    for kind in kinds {
        let host = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        let inside = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{kind} ")))
            .unwrap_or_else(|| panic!("no {kind} line: {v}"));
        assert_ne!(
            inside,
            host.to_str().unwrap(),
            "{kind} namespace is the host's"
        );
    }
    let base = support::test_config("ids", 0).host_id_base;
    let map = format!("['0', '{base}', '1', '1000', '{}', '1']", base + 1);
    assert!(out.contains(&format!("uid_map {map}")), "{v}");
    assert!(out.contains(&format!("gid_map {map}")), "{v}");
    assert!(
        out.contains("ids (1000, 1000, 1000) (1000, 1000, 1000) []"),
        "{v}"
    );
    assert_contained(&v);
}

/// A tmpfs root with read-only, nosuid, nodev binds; a capped /tmp; a
/// four-device /dev; nothing of the host writable.
async fn filesystem_view(mode: Mode) {
    let code = "mounts = [l.split() for l in open('/proc/self/mountinfo')]\nfor m in mounts:\n    sep = m.index('-')\n    print('mount', m[4], m[5], m[sep + 1])\nprint('dev', sorted(os.listdir('/dev')))\nst = os.statvfs('/tmp')\nprint('tmp', st.f_blocks * st.f_frsize, st.f_files)\nfor p in ['/usr/lib/x', '/x', '/dev/x', '/proc/x']:\n    try:\n        open(p, 'w')\n        print(p, 'WRITABLE')\n    except OSError as e:\n        print(p, 'refused', e.errno)\n";
    let v = py(mode, code).await;
    let out = stdout(&v);
    let mounts: Vec<Vec<&str>> = out
        .lines()
        .filter_map(|l| l.strip_prefix("mount "))
        .map(|l| l.split(' ').collect())
        .collect();
    let root = mounts.iter().find(|m| m[0] == "/").unwrap();
    assert_eq!(root[2], "tmpfs", "{v}");
    assert!(root[1].starts_with("ro,"), "{v}");
    let binds: Vec<_> = mounts
        .iter()
        .filter(|m| m[0].starts_with("/usr") || m[0].starts_with("/lib"))
        .collect();
    assert!(!binds.is_empty(), "{v}");
    for m in binds {
        for flag in ["ro", "nosuid", "nodev"] {
            assert!(
                m[1].split(',').any(|f| f == flag),
                "{flag} missing on {m:?}"
            );
        }
    }
    let expected =
        "['fd', 'null', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'urandom', 'zero']";
    assert!(out.contains(&format!("dev {expected}")), "{v}");
    assert!(out.contains(&format!("tmp {} 4096", 16 << 20)), "{v}");
    assert!(!out.contains("WRITABLE"), "{v}");
    assert_contained(&v);
}

async fn environment_is_minimal(mode: Mode) {
    let v = py(mode, "print('env', sorted(os.environ.items()))\n").await;
    let expected =
        "env [('HOME', '/tmp'), ('LANG', 'C.UTF-8'), ('PATH', '/usr/local/bin:/usr/bin:/bin')]";
    assert!(stdout(&v).contains(expected), "{v}");
    assert_contained(&v);
}

async fn rlimits_are_set(mode: Mode) {
    let code = "import resource as r\nprint('nice', os.nice(0))\ntry:\n    os.setpriority(os.PRIO_PROCESS, 0, -5)\n    print('RENICED')\nexcept PermissionError:\n    pass\nfor n in ['CPU', 'AS', 'NPROC', 'NOFILE', 'FSIZE', 'CORE', 'STACK']:\n    print('limit', n, r.getrlimit(getattr(r, 'RLIMIT_' + n)))\n";
    let limits = json!({"run_timeout": 10000, "run_cpu_time": 1000});
    let v = py_with(mode, code, limits).await;
    let out = stdout(&v);
    for (name, value) in [
        ("CPU", 3u64), // the 1 s CPU limit + 2 s: a backstop behind the runner's watch
        ("AS", 1 << 30),
        ("NPROC", 64),
        ("NOFILE", 256),
        ("FSIZE", 16 << 20),
        ("CORE", 0),
        ("STACK", 8 << 20),
    ] {
        let line = format!("limit {name} ({value}, {value})");
        assert!(out.contains(&line), "{line} missing: {v}");
    }
    assert!(
        out.contains("nice 0\n"),
        "the runner's priority leaked: {v}"
    );
    assert!(
        !out.contains("RENICED"),
        "the program raised its priority: {v}"
    );
    assert_contained(&v);
}

/// The syscalls that reach other processes, the kernel's attack surface or
/// another namespace (tracing, mounts, keys, bpf, perf, userfaultfd,
/// io_uring …), each called with zero arguments: EPERM from the filter where
/// the kernel would otherwise say EFAULT, EINVAL, EBADF or succeed.
async fn seccomp_denies_escape_syscalls(mode: Mode) {
    let denied = [
        ("ptrace", 101),
        ("process_vm_readv", 310),
        ("process_vm_writev", 311),
        ("mount", 165),
        ("umount2", 166),
        ("pivot_root", 155),
        ("chroot", 161),
        ("unshare", 272),
        ("setns", 308),
        ("keyctl", 250),
        ("add_key", 248),
        ("request_key", 249),
        ("bpf", 321),
        ("perf_event_open", 298),
        ("userfaultfd", 323),
        ("io_uring_setup", 425),
        ("io_uring_enter", 426),
        ("io_uring_register", 427),
        ("kexec_load", 246),
        ("kexec_file_load", 320),
        ("init_module", 175),
        ("finit_module", 313),
        ("reboot", 169),
        ("swapon", 167),
    ];
    let numbers: Vec<u32> = denied.iter().map(|d| d.1).collect();
    let code = format!(
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\nfor nr in {numbers:?}:\n    r = libc.syscall(nr, 0, 0, 0, 0, 0)\n    print('nr', nr, r, errno.errorcode.get(ctypes.get_errno(), 0))\n"
    );
    let v = py(mode, &code).await;
    let out = stdout(&v);
    for (name, nr) in denied {
        let line = format!("nr {nr} -1 EPERM");
        assert!(out.contains(&line), "{name}: {line} missing: {v}");
    }
    assert_contained(&v);
}

/// i386 (`int 0x80` from machine code) and x32 syscalls kill the process.
async fn foreign_syscall_abis_are_killed(mode: Mode) {
    let i386 = "import mmap\nbuf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\nbuf.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))\naddr = ctypes.addressof(ctypes.c_char.from_buffer(buf))\nctypes.CFUNCTYPE(ctypes.c_int)(addr)()\nprint('survived')\n";
    let x32 = "ctypes.CDLL(None).syscall(0x40000000 | 39)\nprint('survived')\n";
    for code in [i386, x32] {
        let v = py(mode, code).await;
        assert_eq!(status(&v), "SG", "{v}");
        assert_eq!(run_of(&v)["signal"], "SIGSYS", "{v}");
        assert!(!stdout(&v).contains("survived"), "{v}");
        assert_contained(&v);
    }
}

async fn stack_overflow(mode: Mode) {
    // Python 3.11 frames live on the heap; nested containers recurse in C.
    // About a second of CPU runs before the overflow, more on a loaded machine.
    let code =
        "sys.setrecursionlimit(10**8)\na = []\nfor _ in range(300000):\n    a = [a]\nstr(a)\n";
    let v = py(mode, code).await;
    assert_eq!(status(&v), "SG", "{v}");
    assert_eq!(run_of(&v)["signal"], "SIGSEGV", "{v}");
    assert_contained(&v);
}

/// Source that is not UTF-8 (sent as base64) is refused as the gateway refuses it: one reading.
async fn invalid_utf8_source(mode: Mode) {
    use base64::Engine;
    let source = b"print('ok')\n# \xff\xfe\x00\n";
    let files = json!([{"name": "main.py", "content": base64::engine::general_purpose::STANDARD.encode(source), "encoding": "base64"}]);
    let body = json!({"language": "python", "version": "*", "files": files});
    let (code, _, v) = post(&format!("{}/api/v2/execute", server(mode).url), &body).await;
    assert_eq!(code, 400, "source the gateway would refuse is refused: {v}");
    assert!(v["message"].as_str().unwrap().contains("UTF-8"), "{v}");
}

/// Two spinning processes for one wall-clock second get one core between them.
async fn cpu_bandwidth_is_one_core(mode: Mode) {
    let code = "os.fork()\nwhile True:\n    pass\n";
    let limits = json!({"run_timeout": 1000, "run_cpu_time": 5000});
    let v = run_with(mode, "python", &format!("{NS}{code}"), &[], "", limits).await;
    assert_eq!(status(&v), "TO", "{v}");
    let cpu = run_of(&v)["cpu_time"].as_u64().unwrap();
    assert!(cpu <= 1150, "{cpu} ms of CPU in 1 s of wall clock: {v}");
    assert_contained(&v);
}

/// The wall-clock and CPU limits each stop a run once it has used them, and
/// it is that limit, not the other or the program's own end, that stops it.
/// (How close to the limit the stop comes depends on the host's load; the
/// runner benchmark measures it.)
async fn limits_stop_the_run_at_their_value(mode: Mode) {
    let cases = [
        (
            "import time\ntime.sleep(30)\n",
            json!({"run_timeout": 300}),
            "wall_time",
            "wall_time",
            30_000,
        ),
        (
            "while True:\n    pass\n",
            json!({"run_timeout": 10000, "run_cpu_time": 300}),
            "cpu_time",
            "wall_time",
            10_000,
        ),
    ];
    for (code, limits, measure, other, other_limit) in cases {
        let v = py_with(mode, code, limits).await;
        assert_eq!(status(&v), "TO", "{v}");
        assert_contained(&v);
        let took = run_of(&v)[measure].as_u64().unwrap();
        assert!(
            took >= 300,
            "{measure} {took} ms: stopped before its limit: {v}"
        );
        let spent = run_of(&v)[other].as_u64().unwrap();
        assert!(
            spent < other_limit,
            "{measure}'s limit did not stop the run: {v}"
        );
    }
}

/// A request's memory and CPU limits, below and above the language's
/// defaults (64 MB, 1 s), are the ones the run gets (warm sandboxes are
/// built with the defaults and changed when claimed).
async fn requested_limits_replace_the_defaults(mode: Mode) {
    let code = "import resource, sys\nprint('cpu', resource.getrlimit(resource.RLIMIT_CPU), flush=True)\na = bytearray(int(sys.argv[1]) << 20)\nprint('allocated')\n";
    let cases = [
        (json!({}), "40", "OK", 3),
        (json!({"run_memory_limit": 32 << 20}), "40", "OOM", 3),
        (
            json!({"run_memory_limit": 128 << 20, "run_cpu_time": 4000}),
            "80",
            "OK",
            6,
        ),
        (json!({"run_cpu_time": 4000}), "80", "OOM", 6),
    ];
    for (limits, mb, expected, cpu) in cases {
        let v = run_with(
            mode,
            "python",
            &format!("{NS}{code}"),
            &[mb],
            "",
            limits.clone(),
        )
        .await;
        assert_eq!(status(&v), expected, "{limits} {mb} MB: {v}");
        assert!(
            stdout(&v).contains(&format!("cpu ({cpu}, {cpu})")),
            "{limits}: {v}"
        );
        assert_contained(&v);
    }
}
