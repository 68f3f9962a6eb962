//! Attacks that need native code or a shell: foreign syscall ABIs, stack
//! overflow, setuid binaries, and a symlink planted for the host side.

mod support;

use execgate_runner::exec::RunLimits;
use execgate_runner::sandbox::cgroup::{CgroupHost, CgroupLimits, CpuPriority, Version};
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
