//! The runner without root: the real binary started as a dedicated system
//! user (`execgate-test`, made if missing) with no supplementary groups,
//! against a cgroup subtree delegated (chowned) to that user in the v1
//! memory, pids, cpu and cpuacct hierarchies. Its sandboxes map their uid/gid
//! 1000 onto that user's ids and keep every other layer of containment. Each
//! test has its own subtree (unique name) and removes it at the end.

mod support;

use serde_json::{Value, json};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The unprivileged user the runner runs as in these tests.
const USER: &str = "execgate-test";
/// The v1 hierarchies a run's cgroup lives in.
const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "cpuacct"];

/// uid and gid of `USER`, made once (tests of this binary run in parallel).
fn test_user() -> (u32, u32) {
    static MADE: Mutex<()> = Mutex::new(());
    let _guard = MADE.lock().unwrap();
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, USER]).output().unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
    };
    if id("-u").is_none() {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(USER)
            .status()
            .unwrap();
        assert!(made.success(), "useradd {USER} failed");
    }
    (id("-u").unwrap(), id("-g").unwrap())
}

/// This process's path in the v1 hierarchy of `ctrl` (the runner inherits it).
fn own_cgroup(ctrl: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    text.lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            ctrls
                .split(',')
                .any(|c| c == ctrl)
                .then(|| path.trim_start_matches('/').to_string())
        })
        .unwrap_or_else(|| panic!("no cgroup v1 {ctrl} hierarchy: cannot test delegation"))
}

/// A cgroup dir per v1 controller, chowned to the test user; removed on drop.
struct Delegated {
    name: String,
    dirs: Vec<PathBuf>,
}

impl Delegated {
    fn new(name: &str, (uid, gid): (u32, u32)) -> Self {
        let dirs: Vec<PathBuf> = CONTROLLERS
            .iter()
            .map(|c| {
                Path::new("/sys/fs/cgroup")
                    .join(c)
                    .join(own_cgroup(c))
                    .join(name)
            })
            .collect();
        for dir in &dirs {
            std::fs::create_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
        }
        Self {
            name: name.into(),
            dirs,
        }
    }

    /// `run-*` cgroups left anywhere under the subtree.
    fn runs_left(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        for base in &self.dirs {
            for entry in std::fs::read_dir(base.join("runner")).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("run-")
                {
                    left.push(path);
                }
            }
        }
        left
    }

    /// Waits (up to 5 s: teardown follows the verdict) until no run cgroup is left.
    fn assert_runs_removed(&self) {
        let start = Instant::now();
        while !self.runs_left().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "run cgroups left: {:?}",
                self.runs_left()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // Deepest first; a dying process may hold a cgroup a moment longer.
            for _ in 0..100 {
                let mut subdirs: Vec<PathBuf> = walk(dir);
                subdirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
                subdirs.iter().for_each(|d| drop(std::fs::remove_dir(d)));
                if !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// `dir` and every directory below it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&entry.path()));
        }
    }
    found
}

/// The shipped config, with runs under `cgroup_name` and test-sized limits.
fn write_config(tag: &str, cgroup_name: &str, warm: usize) -> PathBuf {
    let text = std::fs::read_to_string(support::config_path()).unwrap();
    let text = text
        .replace(
            "name = \"execgate-runner\"",
            &format!("name = {cgroup_name:?}"),
        )
        .replace("warm = 4", &format!("warm = {warm}"))
        .replace("timeout = \"3s\"", "timeout = \"2s\"")
        .replace("memory = \"128MB\"", "memory = \"64MB\"");
    let path = PathBuf::from(format!("/tmp/{tag}.toml"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    path
}

/// The runner binary as `USER`, with no supplementary groups.
fn as_user(ids: (u32, u32), args: &[&str]) -> Command {
    as_user_in_groups(ids, None, args)
}

/// The runner binary as `USER`, with the supplementary `groups` (`1,2`) or none.
fn as_user_in_groups(ids: (u32, u32), groups: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", ids.0))
        .arg(format!("--regid={}", ids.1))
        .arg(groups.map_or("--clear-groups".into(), |g| format!("--groups={g}")))
        .arg(env!("CARGO_BIN_EXE_execgate-runner"))
        .arg("runner")
        .args(args);
    cmd
}

/// A runner process running as `USER`; killed, its config and cgroups removed on drop.
struct Unprivileged {
    url: String,
    child: Child,
    config: PathBuf,
    cgroup: Delegated,
}

impl Unprivileged {
    fn start(tag: &str, warm: usize) -> Self {
        let ids = test_user();
        let tag = format!("egunpriv-{tag}-{}", std::process::id());
        let cgroup = Delegated::new(&tag, ids);
        let config = write_config(&tag, &format!("{}/runner", cgroup.name), warm);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = as_user(
            ids,
            &["--config", config.to_str().unwrap(), "--listen", &listen],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut runner = Self {
            url: format!("http://{listen}"),
            child,
            config,
            cgroup,
        };
        runner.wait_listening(&listen);
        runner
    }

    fn wait_listening(&mut self, listen: &str) {
        let start = Instant::now();
        while TcpStream::connect(listen).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                panic!("the unprivileged runner exited ({status}): {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "runner never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs python `code`; returns the sandbox kind (cold/warm) and the run stage.
    async fn python(&self, code: &str, extra: Value) -> (String, Value) {
        let mut body = json!({"language": "python", "version": "*", "files": [{"name": "main.py", "content": code}]});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let (status, kind, v) = support::post(&format!("{}/api/v2/execute", self.url), &body).await;
        assert_eq!(status, 200, "{v}");
        (kind, v["run"].clone())
    }
}

impl Drop for Unprivileged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

fn stdout(run: &Value) -> &str {
    run["stdout"].as_str().unwrap_or_default()
}

/// `print(1)` runs; inside, the program is uid/gid 1000 with no groups, and
/// that id is the runner's own host id; the run's cgroup is gone afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_runner_runs_python_as_its_own_mapped_id() {
    let runner = Unprivileged::start("ids", 0);
    let (uid, gid) = test_user();
    let (_, run) = runner.python("print(1)", json!({})).await;
    assert_eq!(stdout(&run), "1\n", "{run}");
    let code = "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\nprint(open('/proc/self/uid_map').read().split())\nprint(open('/proc/self/gid_map').read().split())\nprint(open('/proc/self/setgroups').read().strip())\nprint(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n";
    let (_, run) = runner.python(code, json!({})).await;
    let expected = format!(
        "1000 1000 []\n['1000', '{uid}', '1']\n['1000', '{gid}', '1']\ndeny\n0000000000000000\n"
    );
    assert_eq!(stdout(&run), expected, "{run}");
    runner.cgroup.assert_runs_removed();
}

/// A warm sandbox of the unprivileged runner has the same map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_warm_sandbox_is_mapped_too() {
    let runner = Unprivileged::start("warm", 1);
    let (uid, _) = test_user();
    let code = "import os\nprint(os.getuid(), open('/proc/self/uid_map').read().split())\n";
    for _ in 0..200 {
        let (kind, run) = runner.python(code, json!({})).await;
        if kind == "warm" {
            assert_eq!(
                stdout(&run),
                format!("1000 ['1000', '{uid}', '1']\n"),
                "{run}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never got a warm sandbox");
}

/// The delegated cgroup's memory cap kills a memory bomb (OOM, peak ≤ cap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_memory_bomb_is_killed_by_the_cgroup() {
    let runner = Unprivileged::start("oom", 0);
    let code = "a = []\nwhile True:\n    a.append(b'x' * 10**6)\n";
    let (_, run) = runner
        .python(code, json!({"run_memory_limit": 32 << 20}))
        .await;
    assert_eq!(run["status"], "OOM", "{run}");
    assert!(run["memory"].as_u64().unwrap() <= 32 << 20, "{run}");
    runner.cgroup.assert_runs_removed();
}

/// No network: TCP out, TCP to the runner's own port, UDP and DNS all fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_network_is_unreachable() {
    let runner = Unprivileged::start("net", 0);
    let port = runner.url.rsplit(':').next().unwrap();
    let code = format!(
        "import socket\nfor what, fn in [\n  ('tcp', lambda: socket.create_connection(('1.1.1.1', 53), timeout=0.5)),\n  ('tcp-runner', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=0.5)),\n  ('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))),\n  ('dns', lambda: socket.getaddrinfo('example.com', 80)),\n]:\n    try:\n        fn()\n        print(what, 'CONNECTED')\n    except OSError as e:\n        print(what, 'blocked')\nprint(sorted(n for _, n in socket.if_nameindex()))\n"
    );
    let (_, run) = runner.python(&code, json!({})).await;
    let expected = "tcp blocked\ntcp-runner blocked\nudp blocked\ndns blocked\n['lo']\n";
    assert_eq!(stdout(&run), expected, "{run}");
}

/// Only /tmp (and /dev/shm) is writable: the root, the binds, /dev, /proc and /sys are not,
/// and no capability (the program runs with none) gets around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_cannot_write_outside_tmp() {
    let runner = Unprivileged::start("fs", 0);
    let code = "import os\nfor p in ['/x', '/etc/x', '/usr/x', '/usr/lib/x', '/dev/x', '/proc/x', '/sys/x', '/tmp/x']:\n    try:\n        open(p, 'w').write('x')\n        print(p, 'WROTE')\n    except OSError as e:\n        print(p, 'denied')\nfor p in ['/', '/usr/lib']:\n    try:\n        os.chmod(p, 0o777)\n        print(p, 'CHMOD')\n    except OSError:\n        print(p, 'no chmod')\n";
    let (_, run) = runner.python(code, json!({})).await;
    let out = stdout(&run);
    assert!(out.contains("/tmp/x WROTE"), "{run}");
    assert_eq!(out.matches("WROTE").count(), 1, "{run}");
    assert_eq!(out.matches("denied").count(), 7, "{run}");
    assert_eq!(out.matches("no chmod").count(), 2, "{run}");
}

/// Without a delegated cgroup the unprivileged runner refuses to start and
/// names the cgroup dirs it cannot write.
#[test]
fn unprivileged_check_without_delegated_cgroup_names_the_cgroup() {
    let ids = test_user();
    let tag = format!("egunpriv-nodeleg-{}", std::process::id());
    let config = write_config(&tag, &format!("{tag}/runner"), 0);
    let out: Output = as_user(ids, &["--config", config.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    std::fs::remove_file(&config).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the cgroup is not delegated to this user"),
        "{err}"
    );
    let memory = Path::new("/sys/fs/cgroup/memory").join(own_cgroup("memory"));
    assert!(err.contains(memory.to_str().unwrap()), "{err}");
    assert!(!err.contains("user namespaces"), "{err}");
}

/// With a delegated cgroup but a supplementary group (which its sandboxes
/// would keep), the unprivileged runner refuses to start and names it.
#[test]
fn unprivileged_check_with_supplementary_groups_names_them() {
    let ids = test_user();
    let tag = format!("egunpriv-groups-{}", std::process::id());
    let cgroup = Delegated::new(&tag, ids);
    let config = write_config(&tag, &format!("{}/runner", cgroup.name), 0);
    let path = config.to_str().unwrap();
    let ok = as_user(ids, &["--config", path, "--check"])
        .output()
        .unwrap();
    let bad = as_user_in_groups(ids, Some("27"), &["--config", path, "--check"])
        .output()
        .unwrap();
    std::fs::remove_file(&config).unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("supplementary groups 27, which"), "{err}");
    assert!(!err.contains("cgroup"), "{err}");
}

/// The program runs as the runner's own host uid, yet cannot reach the
/// runner or any other host process of that uid: `kill(-1)`, kills of their
/// host pids and /proc stay inside its pid namespace; a fork bomb meets the
/// pids cap. Afterwards both are alive and the runner still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_sandbox_cannot_reach_processes_of_its_host_uid() {
    let mut runner = Unprivileged::start("kill", 0);
    let (uid, gid) = test_user();
    let mut sleeper = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
        ])
        .args(["/bin/sleep", "30"])
        .spawn()
        .unwrap();
    let code = format!(
        "import os, signal\nprint('pids', len([p for p in os.listdir('/proc') if p.isdigit()]))\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    pass\nfor pid in [{}, {}]:\n    try:\n        os.kill(pid, 9)\n        print(pid, 'SENT')\n    except OSError as e:\n        print(pid, 'refused')\nn = 0\nwhile True:\n    try:\n        os.fork() or os._exit(signal.pause() or 0)\n        n += 1\n    except OSError:\n        break\nprint('forks', n)\n",
        runner.child.id(),
        sleeper.id()
    );
    // Each forked Python dirties about 1 MB: memory is ample so the pids cap,
    // not the memory limit, is what ends the loop.
    let (_, run) = runner
        .python(&code, json!({"run_memory_limit": 256 << 20}))
        .await;
    let out = stdout(&run);
    assert!(out.starts_with("pids 2\n"), "{run}");
    assert!(!out.contains("SENT"), "{run}");
    let forks: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("forks "))
        .unwrap_or_else(|| panic!("{run}"))
        .parse()
        .unwrap();
    assert!(forks < 64, "{forks} forks: the pids cap did not hold");
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "a host process of the uid was killed"
    );
    sleeper.kill().unwrap();
    let _ = sleeper.wait();
    assert!(
        runner.child.try_wait().unwrap().is_none(),
        "the runner died"
    );
    let (_, run) = runner.python("print(1)", json!({})).await;
    assert_eq!(stdout(&run), "1\n", "{run}");
    runner.cgroup.assert_runs_removed();
}

/// The compile stage (its own sandbox) and the artifact's run work too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_c_compiles_and_runs() {
    let runner = Unprivileged::start("c", 0);
    let code = "#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf(\"%d\\n\", (int)getuid()); return 0; }\n";
    let body =
        json!({"language": "c", "version": "*", "files": [{"name": "main.c", "content": code}]});
    let (status, _, v) = support::post(&format!("{}/api/v2/execute", runner.url), &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["compile"]["code"], 0, "{v}");
    assert_eq!(stdout(&v["run"]), "1000\n", "{v}");
    runner.cgroup.assert_runs_removed();
}
