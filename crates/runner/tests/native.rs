//! Attacks that need native code or a shell: foreign syscall ABIs, stack
//! overflow, setuid binaries, and a symlink planted for the host side.

mod support;

use execgate_runner::cgroup::{CgroupHost, CgroupLimits, CpuPriority, Version};
use execgate_runner::exec::RunLimits;
use execgate_runner::spec::SandboxFile;
use serde_json::Value;
use std::time::Duration;
use support::{Mode, run, run_of};

fn status(v: &Value) -> &str {
    run_of(v)["status"].as_str().unwrap_or("OK")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i386_syscall_is_killed() {
    let code = "int main(void){ int r; __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(20)); return r; }";
    let v = run(Mode::Cold, "c", code, &[], "").await;
    assert_eq!(v["compile"]["code"], 0, "{v}");
    assert_eq!(status(&v), "SG", "{v}");
    assert_eq!(run_of(&v)["signal"], "SIGSYS", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x32_syscall_is_killed() {
    let code = "#include <unistd.h>\n#include <sys/syscall.h>\nint main(void){ return (int)syscall(0x40000000 | 39); }";
    let v = run(Mode::Cold, "c", code, &[], "").await;
    assert_eq!(status(&v), "SG", "{v}");
    assert_eq!(run_of(&v)["signal"], "SIGSYS", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_overflow_is_a_segfault() {
    let code = "#include <stdio.h>\nint f(volatile int n){ volatile char pad[1024]; pad[0] = n; return f(n + 1) + pad[0]; }\nint main(void){ printf(\"%d\\n\", f(0)); return 0; }";
    let v = run(Mode::Cold, "c", code, &[], "").await;
    assert_eq!(status(&v), "SG", "{v}");
    assert_eq!(run_of(&v)["signal"], "SIGSEGV", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_errors_stop_before_the_run_stage() {
    let v = run(Mode::Cold, "c", "int main(void) { return x; }", &[], "").await;
    assert_eq!(v["compile"]["status"], "RE", "{v}");
    assert!(
        v["compile"]["stderr"]
            .as_str()
            .unwrap()
            .contains("undeclared"),
        "{v}"
    );
    assert!(v.get("run").is_none_or(Value::is_null), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setuid_binaries_do_not_elevate() {
    let script = "ls -l /usr/bin/mount | cut -c1-10\n/usr/bin/mount -t tmpfs none /tmp 2>&1; echo mount=$?\n/usr/bin/su -c 'id -u' root </dev/null 2>&1; echo su=$?\nid -u\n";
    let v = run(Mode::Cold, "bash", script, &[], "").await;
    let out = run_of(&v)["stdout"].as_str().unwrap();
    assert!(
        out.starts_with("-rwsr-xr-x"),
        "test needs a setuid mount binary: {v}"
    );
    assert!(!out.contains("mount=0"), "{v}");
    assert!(!out.contains("su=0"), "{v}");
    assert!(out.trim_end().ends_with("1000"), "{v}");
}

/// Limits of a direct engine run: 2 s wall, 1 s CPU, 64 MiB, 16 processes.
fn small_limits() -> RunLimits {
    RunLimits {
        wall: Duration::from_secs(2),
        cpu: Duration::from_secs(1),
        cgroup: CgroupLimits {
            memory_bytes: Some(64 << 20),
            pids: Some(16),
            cpu_millis: Some(1000),
            priority: CpuPriority::Normal,
        },
        output_max: 4096,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_symlink_is_not_followed_when_collecting() {
    let server = support::server(Mode::Cold);
    let runner = &server.runner;
    let lang = runner.catalog.find("bash", "*").unwrap();
    let argv = vec!["/usr/bin/bash".to_string(), "plant.sh".to_string()];
    let plant = SandboxFile {
        name: "plant.sh".into(),
        content: b"ln -s /etc/passwd a.out".to_vec(),
        executable: false,
    };
    let mut spec = runner.spec(&lang, argv, vec![plant], Duration::from_secs(1));
    spec.collect = Some("a.out".into());
    let verdict = runner.engine.run(spec, small_limits(), Vec::new()).await;
    assert!(verdict.artifact.is_none(), "a symlink was followed");
    let detail = verdict.detail.unwrap_or_default();
    assert!(
        detail.contains("collect") && detail.contains("a.out"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_sandboxes_build_at_background_weight_and_run_at_normal() {
    let server = support::server(Mode::Warm);
    let pool = &server.runner.warm;
    support::eventually(|| pool.ready("python") > 0).await;
    let warm = pool.take("python").expect("a ready warm sandbox");
    assert_eq!(warm.cpu_priority(), Some(CpuPriority::Background));
    warm.claim(&small_limits()).unwrap();
    assert_eq!(warm.cpu_priority(), Some(CpuPriority::Normal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_group_weighs_as_much_as_its_concurrent_runs() {
    let config = support::test_config("cold", 0);
    support::server(Mode::Cold);
    let host = CgroupHost::detect(&config.cgroup.root, &config.cgroup.name).unwrap();
    let per_run = if host.version() == Version::V2 {
        100
    } else {
        1024
    };
    let expected = per_run * config.max_concurrent as u64;
    assert_eq!(host.cpu_weight(), Some(expected));
}

/// After the verdicts, every run's cgroup is removed from every hierarchy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cgroups_are_removed() {
    let config = support::test_config("cleanup", 0);
    let server = support::start(config.clone());
    for code in ["print(1)", "import os\nos.fork()\nwhile True: pass"] {
        let body = serde_json::json!({"language": "python", "version": "*", "files": [{"content": code}], "run_timeout": 300});
        let (status, _, v) = support::post(&format!("{}/api/v2/execute", server.url), &body).await;
        assert_eq!(status, 200, "{v}");
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let bases: Vec<std::path::PathBuf> = ["memory", "pids", "cpu", "cpuacct"]
        .iter()
        .filter_map(|ctrl| {
            let path = own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls
                    .split(',')
                    .any(|c| c == *ctrl)
                    .then(|| path.trim_start_matches('/'))
            })?;
            Some(
                config
                    .cgroup
                    .root
                    .join(ctrl)
                    .join(path)
                    .join(&config.cgroup.name),
            )
        })
        .collect();
    assert!(
        !bases.is_empty() && bases.iter().all(|b| b.is_dir()),
        "{bases:?}"
    );
    let runs_left = || {
        bases
            .iter()
            .flat_map(|b| std::fs::read_dir(b).unwrap().flatten())
            .any(|e| e.file_name().to_string_lossy().starts_with("run-"))
    };
    support::eventually(|| !runs_left()).await;
}

/// Warm sandboxes are refilled to the pool size in the background and each
/// is used once: interpreter state set by one run never reaches another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_pool_refills_and_never_reuses() {
    let server = support::start(support::test_config("refill", 2));
    let pool = &server.runner.warm;
    support::eventually(|| pool.ready("python") == 2).await;
    let leak = "import builtins, sys\nprint(hasattr(builtins, 'LEAK'), len(sys.argv))\nbuiltins.LEAK = 1\n";
    for _ in 0..4 {
        let body =
            serde_json::json!({"language": "python", "version": "*", "files": [{"content": leak}]});
        let (status, start, v) =
            support::post(&format!("{}/api/v2/execute", server.url), &body).await;
        assert_eq!((status, start.as_str()), (200, "warm"), "{v}");
        assert_eq!(v["run"]["stdout"], "False 1\n", "{v}");
        support::eventually(|| pool.ready("python") == 2).await;
    }
}

/// `execgate-runner runner --config FILE` checks the host, then serves both APIs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_serves_the_shipped_config() {
    let text = std::fs::read_to_string(support::config_path()).unwrap();
    let text = text.replace("name = \"execgate-runner\"", "name = \"execgate-test-cli\"");
    assert!(text.contains("execgate-test-cli"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runner.toml");
    std::fs::write(&path, text).unwrap();
    let bin = env!("CARGO_BIN_EXE_execgate-runner");
    let check = std::process::Command::new(bin)
        .args(["runner", "--check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(bin)
        .args([
            "runner",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--config",
        ])
        .arg(&path)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(resp) = reqwest::get(format!("{url}/languages/71")).await {
            answer = Some(resp.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = serde_json::json!({"language": "python", "version": "*", "files": [{"content": "print(6 * 7)"}]});
    let (status, _, v) = support::post(&format!("{url}/api/v2/execute"), &body).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(answer.expect("the runner never answered")["id"], 71);
    assert_eq!(
        (status, &v["run"]["stdout"]),
        (200, &serde_json::json!("42\n")),
        "{v}"
    );
}
