//! The cgroup v2 code path, on the unified hierarchy of this host. The runner
//! uses v2 when its memory, pids and cpu controllers are there; where they are
//! bound to v1 hierarchies (a "hybrid" host such as the one this was written
//! on, whose /sys/fs/cgroup/unified offers only hugetlb) the test still runs
//! real sandboxes in v2 cgroups — join, CPU accounting from cpu.stat,
//! cgroup.kill, removal — and shows that each cap v2 cannot set there fails
//! loudly instead of silently. Its own binary: it moves the test process
//! between v2 cgroups, as a runner under systemd or in a container would be.

mod support;

use execgate_runner::cgroup::{CgroupHost, CgroupLimits, CpuPriority, Version};
use execgate_runner::exec::{Engine, RunLimits};
use execgate_runner::spec::SandboxFile;
use execgate_runner::verdict::{Status, Verdict};
use execgate_runner::{Helper, build};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The runner's base cgroup name in this test.
const NAME: &str = "execgate-test-v2";

/// The cgroup2 mount: `/sys/fs/cgroup` on pure v2 hosts, else `unified/` beside v1.
fn unified_mount() -> PathBuf {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
        .expect("this host has no cgroup v2 mount: the v2 path cannot be tested")
}

fn controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn move_self(dir: &Path) {
    std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).unwrap();
}

/// `run-*` cgroups left under the base dir.
fn runs_left(base: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("run-"))
        .collect()
}

/// Runs `code` (python, `marker` as its argument) in a sandbox of `engine`.
async fn python(engine: &Engine, code: &str, marker: &str, limits: RunLimits) -> Verdict {
    let helper = Helper {
        program: env!("CARGO_BIN_EXE_execgate-runner").into(),
        args: vec!["sandbox-init".into()],
    };
    let runner = build(support::test_config("v2spec", 0), helper).unwrap();
    let lang = runner.catalog.find("python", "*").unwrap();
    let argv = [lang.cfg.run[0].as_str(), "main.py", marker].map(String::from);
    let file = SandboxFile {
        name: "main.py".into(),
        content: code.as_bytes().to_vec(),
        executable: false,
    };
    let spec = runner.spec(&lang, argv.to_vec(), vec![file], limits.cpu);
    engine.run(spec, limits, Vec::new()).await
}

fn limits(wall_ms: u64, cgroup: CgroupLimits) -> RunLimits {
    RunLimits {
        wall: Duration::from_millis(wall_ms),
        cpu: Duration::from_secs(2),
        cgroup,
        output_max: 64 * 1024,
    }
}

const DAEMON_AND_WORK: &str = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\nos.wait()\nprint(sum(range(3 * 10**6)))\nprint(open('/proc/self/cgroup').read().strip())\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_run_under_cgroup_v2() {
    let mount = unified_mount();
    // Start from a non-root cgroup, like a runner under systemd or in a
    // container: it must move itself into a leaf before handing controllers down.
    let own = mount.join("execgate-test-v2-own");
    std::fs::create_dir_all(&own).unwrap();
    move_self(&own);
    let host = CgroupHost::unified(&mount, NAME).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(host.version(), Version::V2);
    let base = own.join(NAME);
    let me = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(
        me.contains(&format!("0::/execgate-test-v2-own/{NAME}/supervisor")),
        "{me}"
    );
    let full = ["memory", "pids", "cpu"]
        .iter()
        .all(|c| controllers(&own).iter().any(|h| h == c));
    let caps = CgroupLimits {
        memory_bytes: full.then_some(64 << 20),
        pids: full.then_some(32),
        cpu_millis: full.then_some(1000),
        priority: CpuPriority::Normal,
    };
    let engine = Engine::new(
        env!("CARGO_BIN_EXE_execgate-runner").into(),
        vec!["sandbox-init".into()],
        host.clone(),
    );

    // A run that daemonises a grandchild and burns some CPU.
    let marker = support::marker();
    let v = python(&engine, DAEMON_AND_WORK, &marker, limits(5000, caps)).await;
    assert_eq!(v.status, Status::Ok, "{v:?}");
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(
        out.ends_with("0::/\n"),
        "cgroup namespace rooted at the run: {out}"
    );
    assert!(v.cpu > Duration::ZERO, "CPU time from v2 cpu.stat: {v:?}");
    assert!(
        support::processes_with(&marker).is_empty(),
        "a process survived"
    );

    // Killed on the wall clock: everything of the run dies.
    let marker = support::marker();
    let sleeper = "import os, time\nos.fork()\ntime.sleep(30)\n";
    let v = python(&engine, sleeper, &marker, limits(300, caps)).await;
    assert_eq!(v.status, Status::TimedOut, "{v:?}");
    assert!(
        support::processes_with(&marker).is_empty(),
        "a process survived"
    );
    support::eventually(|| runs_left(&base).is_empty()).await;

    if full {
        let bomb = "a = []\nwhile True:\n    a.append(b'x' * 10**6)\n";
        let v = python(&engine, bomb, &support::marker(), limits(5000, caps)).await;
        assert_eq!(v.status, Status::OutOfMemory, "{v:?}");
        assert!(v.memory_bytes > 32 << 20, "memory.peak: {v:?}");
    } else {
        caps_fail_loudly_without_controllers(&host, &mount);
    }

    support::eventually(|| runs_left(&base).is_empty()).await;
    // The engine's idle helpers (killed on drop) were started in the supervisor leaf.
    drop(engine);
    move_self(&mount);
    for dir in [base.join("supervisor"), base, own] {
        support::eventually(|| std::fs::remove_dir(&dir).is_ok() || !dir.exists()).await;
    }
}

/// What this host cannot do under v2, asserted and said.
fn caps_fail_loudly_without_controllers(host: &CgroupHost, mount: &Path) {
    let none = CgroupLimits {
        memory_bytes: None,
        pids: None,
        cpu_millis: None,
        priority: CpuPriority::Normal,
    };
    let cases = [
        (
            "memory.max",
            CgroupLimits {
                memory_bytes: Some(64 << 20),
                ..none
            },
        ),
        (
            "pids.max",
            CgroupLimits {
                pids: Some(32),
                ..none
            },
        ),
        (
            "cpu.max",
            CgroupLimits {
                cpu_millis: Some(1000),
                ..none
            },
        ),
        (
            "cpu.weight",
            CgroupLimits {
                priority: CpuPriority::Background,
                ..none
            },
        ),
    ];
    for (file, caps) in cases {
        let run = host.run_cgroup(&format!("{}-probe", std::process::id()));
        let err = run
            .create(caps)
            .expect_err("a cap without its controller must fail");
        assert!(err.to_string().contains(file), "{file}: {err}");
        assert!(
            run.is_empty() && run.cleanup(),
            "failed create left a cgroup"
        );
    }
    let detect = CgroupHost::detect(mount, NAME).unwrap_err();
    assert!(
        detect.contains("lacks the memory, pids, cpu controller(s)"),
        "{detect}"
    );
    eprintln!(
        "cgroup v2 here offers only {:?}: memory/pids/cpu caps, memory.peak and OOM \
         events cannot be exercised under v2 on this host (those controllers are bound \
         to cgroup v1); join, cpu.stat accounting, cgroup.kill and removal were.",
        controllers(mount)
    );
}
