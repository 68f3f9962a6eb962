//! The HTTP API: Piston and Judge0 shapes, bad requests, capacity, and 50
//! parallel runs without cross-talk.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::{Mode, get, post, server};

fn url(path: &str) -> String {
    format!("{}{path}", server(Mode::Cold).url)
}

async fn execute(body: Value) -> (u16, Value) {
    let (status, _, v) = post(&url("/api/v2/execute"), &body).await;
    (status, v)
}

/// The `language` of every entry of a runtimes answer.
fn runtime_names(runtimes: &Value) -> Vec<&str> {
    let list = runtimes.as_array().unwrap().iter();
    list.map(|r| r["language"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn runtimes_list_only_present_languages() {
    let (status, v) = get(&url("/api/v2/runtimes")).await;
    assert_eq!(status, 200);
    assert!(runtime_names(&v).contains(&"python"), "{v}");
    for r in v.as_array().unwrap() {
        assert!(r["version"].is_string() && r["aliases"].is_array(), "{r}");
    }
    // The versions are the host programs' own, read at start.
    let python = std::process::Command::new("/usr/bin/python3")
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&python.stdout)
        .trim()
        .replace("Python ", "");
    let listed = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["language"] == "python");
    assert_eq!(listed.unwrap()["version"], version.as_str(), "{v}");
    let (_, langs) = get(&url("/languages/71")).await;
    assert_eq!(langs["name"], format!("Python ({version})"), "{langs}");
}

#[tokio::test]
async fn piston_execute_has_pistons_shape() {
    let body = json!({"language": "py", "version": "3", "files": [{"name": "m.py", "content": "import sys\nprint(input(), sys.argv[1:])\nsys.exit(3)"}], "stdin": "hello\n", "args": ["a", "b c"]});
    let (status, v) = execute(body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["language"], "python");
    assert!(
        v.get("compile").is_none(),
        "interpreted languages have no compile stage: {v}"
    );
    let run = &v["run"];
    assert_eq!(run["stdout"], "hello ['a', 'b c']\n");
    assert_eq!(run["output"], "hello ['a', 'b c']\n");
    assert_eq!(run["code"], 3);
    assert_eq!(run["status"], "RE");
    assert!(run["signal"].is_null());
    for key in ["cpu_time", "wall_time", "memory"] {
        assert!(run[key].is_u64(), "{key} in {run}");
    }
    assert!(
        run["memory"].as_u64().unwrap() > 1 << 20,
        "peak memory from the cgroup: {run}"
    );
}

#[tokio::test]
async fn piston_compiled_language_has_both_stages_and_file_encodings() {
    let source = "#include <stdio.h>\nint main(void){ printf(\"%d\\n\", 6 * 7); return 0; }";
    let body = json!({"language": "c", "version": "*", "files": [{"name": "main.c", "content": hex::encode(source), "encoding": "hex"}]});
    let (status, v) = execute(body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["compile"]["code"], 0, "{v}");
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");
    assert!(v["run"]["status"].is_null(), "{v}");
}

#[tokio::test]
async fn bad_piston_requests_get_400_with_a_message() {
    let cases = [
        json!({"language": "python"}),
        json!({"language": "cobol", "version": "*", "files": [{"content": "x"}]}),
        json!({"language": "python", "version": "2", "files": [{"content": "x"}]}),
        json!({"language": "python", "version": "*", "files": []}),
        json!({"language": "python", "version": "*", "files": [{"name": "../evil.py", "content": "x"}]}),
        json!({"language": "python", "version": "*", "files": [{"name": "/etc/x.py", "content": "x"}]}),
        json!({"language": "python", "version": "*", "files": [{"content": "!!", "encoding": "base64"}]}),
        json!({"language": "python", "version": "*", "files": [{"content": "x"}], "run_memory_limit": -5}),
        json!({"language": "c", "version": "*", "files": [{"content": "x"}], "compile_memory_limit": 1e13}),
        json!({"language": "python", "version": "*", "files": [{"content": "x"}], "args": ["a", 1]}),
        json!({"language": "python", "version": "*", "files": [{"content": "x"}], "run_cpu_time": 0}),
        json!({"language": "python", "version": "*", "files": [{"name": "a.py", "content": "x"}, {"name": "a.py", "content": "y"}]}),
        json!({"language": "python", "version": "*", "files": [{"content": "x", "encoding": "rot13"}]}),
    ];
    for body in cases {
        let (status, v) = execute(body.clone()).await;
        assert_eq!(status, 400, "{body} -> {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body} -> {v}"
        );
    }
    let resp = reqwest::Client::new()
        .post(url("/api/v2/execute"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("invalid request body"),
        "{v}"
    );
}

/// C++ compiles with g++ and runs, like C.
#[tokio::test]
async fn cpp_compiles_with_the_standard_library_and_runs() {
    let source = "#include <iostream>\n#include <vector>\nint main(){ std::vector<int> v{6, 7}; std::cout << v[0] * v[1] << std::endl; }\n";
    let body = json!({"language": "c++", "version": "*", "files": [{"content": source}]});
    let (status, v) = execute(body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["language"], "cpp");
    assert_eq!(v["compile"]["code"], 0, "{v}");
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");
}

/// Java runs where a JDK is installed (the single-file source launcher).
#[tokio::test]
async fn java_runs_where_a_jdk_is_installed() {
    let (_, runtimes) = get(&url("/api/v2/runtimes")).await;
    if !runtime_names(&runtimes).contains(&"java") {
        let found = execgate_runner::discover::find_program(&["java".into()], "/usr/bin:/bin");
        assert_eq!(found, None, "java is installed but not offered");
        return;
    }
    let source =
        "public class Main { public static void main(String[] a) { System.out.println(6 * 7); } }";
    let body = json!({"language": "java", "version": "*", "files": [{"content": source}],
                      "run_timeout": -1, "run_cpu_time": -1, "run_memory_limit": -1});
    let (status, v) = execute(body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");
}

/// Piston's `-1` asks for the configured maximum (here 512 MB where the
/// language's default is 64 MB), and limits above the maximum are lowered to
/// it, not refused: what the npm piston-client sends by default.
#[tokio::test]
async fn minus_one_means_the_maximum_and_larger_limits_are_lowered() {
    let alloc = "x = bytearray(200 << 20)\nprint(len(x) >> 20)";
    let body = |memory: Value| {
        json!({"language": "python", "version": "*", "files": [{"content": alloc}],
               "run_timeout": 999_999, "run_cpu_time": -1, "run_memory_limit": memory,
               "compile_timeout": 999_999, "compile_memory_limit": -1})
    };
    let (status, v) = execute(body(json!(-1))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["stdout"], "200\n", "{v}");
    let (status, v) = execute(body(Value::Null)).await;
    assert_eq!(status, 200, "{v}");
    assert_ne!(
        v["run"]["stdout"], "200\n",
        "the 64 MB default applies: {v}"
    );
    let c = json!({"language": "c", "version": "*", "files": [{"content": "int main(void){return 0;}"}],
                   "compile_timeout": 999_999, "compile_cpu_time": 999_999, "compile_memory_limit": -1});
    let (status, v) = execute(c).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["code"], 0, "{v}");
}

/// Packages list what is installed; installing or removing is refused with 501.
#[tokio::test]
async fn packages_list_runtimes_and_refuse_management() {
    let (status, v) = get(&url("/api/v2/packages")).await;
    assert_eq!(status, 200);
    let python = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["language"] == "python");
    let python = python.unwrap_or_else(|| panic!("{v}"));
    assert_eq!(python["installed"], true);
    assert!(python["language_version"].is_string(), "{python}");
    let client = reqwest::Client::new();
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let resp = client
            .request(method, url("/api/v2/packages"))
            .json(&json!({"language": "python", "version": "3.12.0"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 501);
        let v: Value = resp.json().await.unwrap();
        assert!(v["message"].as_str().unwrap().contains("operator"), "{v}");
    }
}

/// The first file is the entry point; the others sit beside it; every
/// encoding decodes; the version matches exactly or by prefix.
#[tokio::test]
async fn piston_files_encodings_and_versions() {
    let files = json!([
        {"name": "main.py", "content": "import helper\nhelper.hi()", "encoding": "utf8"},
        {"name": "helper.py", "content": STANDARD.encode("def hi():\n    print(open('data/x.txt').read())\n"), "encoding": "base64"},
        {"name": "data/x.txt", "content": hex::encode("from hex"), "encoding": "hex"},
    ]);
    for version in ["3.11.2", "3.11", "*"] {
        let body = json!({"language": "python3", "version": version, "files": files});
        let (status, v) = execute(body).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["version"], "3.11.2");
        assert_eq!(v["run"]["stdout"], "from hex\n", "{version}: {v}");
    }
}

/// The shipped bash and (where installed) node languages run in their sandboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_and_node_run_where_installed() {
    let bash = json!({"language": "sh", "version": "*", "files": [{"content": "echo $((6 * 7)) $(hostname)"}]});
    let (status, v) = execute(bash).await;
    assert_eq!(
        (status, &v["run"]["stdout"]),
        (200, &json!("42 sandbox\n")),
        "{v}"
    );
    if !std::path::Path::new("/usr/bin/node").exists() {
        return; // not offered: `only_present_languages_are_offered` checks that
    }
    let node = json!({"language": "js", "version": "*", "files": [{"content": "console.log(6 * 7, require('os').hostname())"}], "run_memory_limit": 256 << 20});
    let (status, v) = execute(node).await;
    assert_eq!(
        (status, &v["run"]["stdout"]),
        (200, &json!("42 sandbox\n")),
        "{v}"
    );
}

/// An optional language whose files are missing is not offered by either API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_present_languages_are_offered() {
    let mut config = support::test_config("ghost", 0);
    let mut ghost = config.languages[0].clone();
    ghost.name = "ghost".into();
    ghost.aliases = vec!["spook".into()];
    ghost.judge0_id = Some(4242);
    ghost.run = vec!["/no/such/ghost".into(), "{entry}".into()];
    ghost.optional = true;
    config.languages.push(ghost);
    let server = support::start(config);
    let (_, runtimes) = get(&format!("{}/api/v2/runtimes", server.url)).await;
    let names = runtime_names(&runtimes);
    assert!(!names.contains(&"ghost"), "{runtimes}");
    let node = std::path::Path::new("/usr/bin/node").exists();
    assert_eq!(names.contains(&"javascript"), node, "{runtimes}");
    let (_, langs) = get(&format!("{}/languages", server.url)).await;
    assert!(!langs.to_string().contains("4242"), "{langs}");
    let (status, _) = get(&format!("{}/languages/4242", server.url)).await;
    assert_eq!(status, 404);
    let body = json!({"language": "spook", "version": "*", "files": [{"content": "x"}]});
    let (status, _, v) = post(&format!("{}/api/v2/execute", server.url), &body).await;
    assert_eq!(status, 400, "{v}");
}

/// A sandbox that cannot start its program is an internal error: Piston
/// `XX` with the reason, Judge0 status 13.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_failures_are_internal_errors() {
    let mut config = support::test_config("broken", 0);
    let python = &mut config.languages[0];
    // Present on the host, absent from the sandbox (its binds lack /usr/sbin).
    python.run = vec!["/usr/sbin/nologin".into(), "{entry}".into()];
    let server = support::start(config);
    let body = json!({"language": "python", "version": "*", "files": [{"content": "print(1)"}]});
    let (status, _, v) = post(&format!("{}/api/v2/execute", server.url), &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["status"], "XX", "{v}");
    let message = v["run"]["message"].as_str().unwrap();
    assert!(message.contains("/usr/sbin/nologin"), "{v}");
    let body = json!({"language_id": 71, "source_code": "print(1)"});
    let (_, _, v) = post(&format!("{}/submissions?wait=true", server.url), &body).await;
    assert_eq!(
        v["status"],
        json!({"id": 13, "description": "Internal Error"}),
        "{v}"
    );
}

#[tokio::test]
async fn dot_dot_file_names_are_refused_with_the_reason() {
    let body = json!({"language": "python", "version": "*", "files": [{"name": "main.py", "content": "x"}, {"name": "a/../../b", "content": "x"}]});
    let (status, v) = execute(body).await;
    assert_eq!(status, 400);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("files[1].name") && message.contains(".."),
        "{v}"
    );
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    String::from_utf8(STANDARD.decode(v.as_str().unwrap_or_default()).unwrap()).unwrap()
}

#[tokio::test]
async fn judge0_wait_true_statuses_time_and_memory() {
    let sub = |code: &str, expected: Option<&str>| {
        let mut s = json!({"language_id": 71, "source_code": b64(code), "stdin": b64("5\n")});
        if let Some(e) = expected {
            s["expected_output"] = json!(b64(e));
        }
        s
    };
    let post_one = |body: Value| async move {
        post(&url("/submissions?base64_encoded=true&wait=true"), &body).await
    };
    let (status, _, v) = post_one(sub("print(int(input()) * 2)", Some("10"))).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"]["id"], 3, "{v}");
    assert_eq!(unb64(&v["stdout"]), "10\n");
    assert!(
        v["time"].as_str().unwrap().parse::<f64>().is_ok(),
        "time is seconds as a string: {v}"
    );
    assert!(v["memory"].as_u64().unwrap() > 1024, "memory in KB: {v}");
    assert!(v["token"].is_string());
    let cases = [
        ("print(11)", Some("10"), 4),
        ("while True: pass", None, 5),
        ("import sys; sys.exit(2)", None, 11),
        ("import ctypes; ctypes.string_at(0)", None, 7),
        ("import os; os.abort()", None, 10),
        (
            "import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_DFL)\nresource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\nopen('big', 'wb').write(b'x' * 5000)",
            None,
            8,
        ),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGFPE)",
            None,
            9,
        ),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGUSR1)",
            None,
            12,
        ),
        ("print('x' * 10**6)", None, 12),
    ];
    for (code, expected, id) in cases {
        let (_, _, v) = post_one(sub(code, expected)).await;
        assert_eq!(v["status"]["id"], id, "{code}: {v}");
    }
}

#[tokio::test]
async fn judge0_compile_error_is_status_6() {
    let body = json!({"language_id": 50, "source_code": "int main(void) { return y; }"});
    let (_, _, v) = post(&url("/submissions?wait=true"), &body).await;
    assert_eq!(v["status"]["id"], 6, "{v}");
    assert!(
        v["compile_output"].as_str().unwrap().contains("undeclared"),
        "{v}"
    );
}

#[tokio::test]
async fn judge0_polling_batch_and_fields() {
    let body = json!({"language_id": 71, "source_code": "print('polled')"});
    let (status, _, v) = post(&url("/submissions"), &body).await;
    assert_eq!(status, 201);
    let token = v["token"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..300 {
        let (_, got) = get(&url(&format!(
            "/submissions/{token}?fields=stdout,status,language_id"
        )))
        .await;
        if got["status"]["id"].as_u64().unwrap_or(0) >= 3 {
            last = got;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["stdout"], "polled\n", "{last}");
    assert_eq!(last["language_id"], 71);
    assert!(last.get("time").is_none(), "fields selects: {last}");

    let batch = json!({"submissions": [
        {"language_id": 71, "source_code": "print(1)"},
        {"language_id": 9999, "source_code": "x"},
        {"language_id": 71, "source_code": "print(2)"},
    ]});
    let (status, _, v) = post(&url("/submissions/batch"), &batch).await;
    assert_eq!(status, 201, "{v}");
    assert!(v[1]["message"].as_str().unwrap().contains("9999"), "{v}");
    let tokens = format!(
        "{},{}",
        v[0]["token"].as_str().unwrap(),
        v[2]["token"].as_str().unwrap()
    );
    let mut outs = Vec::new();
    for _ in 0..300 {
        let (_, got) = get(&url(&format!(
            "/submissions/batch?tokens={tokens}&base64_encoded=true"
        )))
        .await;
        let subs = got["submissions"].as_array().unwrap().clone();
        if subs
            .iter()
            .all(|s| s["status"]["id"].as_u64().unwrap_or(0) >= 3)
        {
            outs = subs.iter().map(|s| unb64(&s["stdout"])).collect();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outs, ["1\n", "2\n"]);
    let (status, v) = get(&url("/submissions/no-such-token")).await;
    assert_eq!(status, 404, "{v}");
}

#[tokio::test]
async fn judge0_metadata_endpoints() {
    let (_, langs) = get(&url("/languages")).await;
    assert!(
        langs.as_array().unwrap().iter().any(|l| l["id"] == 71),
        "{langs}"
    );
    let (status, lang) = get(&url("/languages/50")).await;
    assert_eq!(status, 200);
    assert_eq!(lang["source_file"], "main.c");
    let (status, _) = get(&url("/languages/12345")).await;
    assert_eq!(status, 404);
    let (_, statuses) = get(&url("/statuses")).await;
    assert_eq!(statuses.as_array().unwrap().len(), 14);
    assert_eq!(statuses[3], json!({"id": 4, "description": "Wrong Answer"}));
    let (status, about) = get(&url("/about")).await;
    assert_eq!(status, 200);
    assert!(about["version"].is_string());
    let (_, info) = get(&url("/config_info")).await;
    assert_eq!(info["enable_wait_result"], true);
    // Every key the official judge0 Python SDK's `Config` model requires
    // (judge0 0.0.8: a missing one makes `judge0.Client(...)` fail).
    let required = "allow_enable_network allow_enable_per_process_and_thread_memory_limit allow_enable_per_process_and_thread_time_limit allowed_languages_for_compile_options callbacks_max_tries callbacks_timeout cpu_extra_time cpu_time_limit enable_additional_files enable_batched_submissions enable_callbacks enable_command_line_arguments enable_compiler_options enable_network enable_per_process_and_thread_memory_limit enable_per_process_and_thread_time_limit enable_submission_delete enable_wait_result maintenance_mode max_cpu_extra_time max_cpu_time_limit max_extract_size max_file_size max_max_file_size max_max_processes_and_or_threads max_memory_limit max_number_of_runs max_processes_and_or_threads max_queue_size max_stack_limit max_submission_batch_size max_wall_time_limit memory_limit number_of_runs redirect_stderr_to_stdout stack_limit submission_cache_duration use_docs_as_homepage wall_time_limit";
    for key in required.split(' ') {
        assert!(!info[key].is_null(), "config_info lacks {key}: {info}");
    }
}

async fn delete(url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new().delete(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn judge0_deletes_finished_submissions_and_describes_workers_and_system() {
    let body = json!({"language_id": 71, "source_code": "print('gone')"});
    let (status, _, done) = post(&url("/submissions?wait=true"), &body).await;
    assert_eq!(status, 201, "{done}");
    let token = done["token"].as_str().unwrap();
    let (status, deleted) =
        delete(&url(&format!("/submissions/{token}?fields=stdout,status"))).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted,
        json!({"stdout": "gone\n", "status": {"id": 3, "description": "Accepted"}})
    );
    let (status, _) = get(&url(&format!("/submissions/{token}"))).await;
    assert_eq!(status, 404, "deleted means gone");
    let (status, again) = delete(&url(&format!("/submissions/{token}"))).await;
    assert_eq!(status, 404, "{again}");

    // A run still queued or running is not deleted (as Judge0).
    let slow = json!({"language_id": 71, "source_code": "import time; time.sleep(8)"});
    let (status, _, queued) = post(&url("/submissions"), &slow).await;
    assert_eq!(status, 201, "{queued}");
    let token = queued["token"].as_str().unwrap();
    let (status, busy) = delete(&url(&format!("/submissions/{token}"))).await;
    assert_eq!(status, 400, "{busy}");
    assert!(
        busy["message"]
            .as_str()
            .unwrap()
            .contains("cannot be deleted because its status is"),
        "{busy}"
    );
    let (status, _) = get(&url(&format!("/submissions/{token}"))).await;
    assert_eq!(status, 200, "still there");

    let (status, workers) = get(&url("/workers")).await;
    assert_eq!(status, 200);
    let queue = &workers[0];
    for key in [
        "queue",
        "size",
        "available",
        "idle",
        "working",
        "paused",
        "failed",
    ] {
        assert!(!queue[key].is_null(), "workers lacks {key}: {workers}");
    }
    assert!(queue["available"].as_u64().unwrap() >= 1, "{workers}");
    let (status, system) = get(&url("/system_info")).await;
    assert_eq!(status, 200);
    assert_eq!(system["Architecture"], std::env::consts::ARCH, "{system}");
    assert!(
        system["CPU(s)"].as_str().unwrap().parse::<u32>().unwrap() >= 1,
        "{system}"
    );
    let (_, info) = get(&url("/config_info")).await;
    assert_eq!(info["enable_submission_delete"], true);
}

#[tokio::test]
async fn bad_judge0_requests_get_400() {
    let cases = [
        json!({"source_code": "x"}),
        json!({"language_id": 71}),
        json!({"language_id": 71, "source_code": "x", "cpu_time_limit": -1}),
        json!({"language_id": 71, "source_code": "x", "memory_limit": 10_000_000}),
    ];
    for body in cases {
        let (status, _, v) = post(&url("/submissions?wait=true"), &body).await;
        assert_eq!(status, 400, "{body} -> {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    let (status, _, v) = post(
        &url("/submissions?base64_encoded=true&wait=true"),
        &json!({"language_id": 71, "source_code": "%%%"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_runs_without_cross_talk() {
    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(tokio::spawn(async move {
            let code = "import sys, os\nprint(sys.argv[1], input(), sorted(os.listdir('/tmp')))\nopen('/tmp/mine', 'w').write(sys.argv[1])\n";
            let body = json!({"language": "python", "version": "*", "files": [{"name": "main.py", "content": code}], "args": [format!("run{i}")], "stdin": format!("in{i}\n"), "run_timeout": 15000});
            let (status, v) = execute(body).await;
            (i, status, v)
        }));
    }
    for t in tasks {
        let (i, status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            v["run"]["stdout"],
            format!("run{i} in{i} ['main.py']\n"),
            "{v}"
        );
    }
}

/// One slot and a queue of one: the second request waits, the third gets a 503 JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_runner_queues_then_answers_503_json() {
    let mut config = support::test_config("busy", 0);
    config.max_concurrent = 1;
    config.max_queue = 1;
    let busy = support::start(config);
    let target = format!("{}/api/v2/execute", busy.url);
    let marker = support::marker();
    let slow = json!({"language": "python", "version": "*", "files": [{"content": "import time\ntime.sleep(2)"}], "args": [marker], "run_timeout": 5000});
    let send = |body: Value| {
        let target = target.clone();
        tokio::spawn(async move { post(&target, &body).await })
    };
    let first = send(slow);
    support::eventually(|| !support::processes_with(&marker).is_empty()).await;
    let quick = json!({"language": "python", "version": "*", "files": [{"content": "print(1)"}]});
    let queued = send(quick.clone());
    support::eventually(|| busy.gate.waiting() == 1).await;
    let (status, _, v) = post(&target, &quick).await;
    assert_eq!(status, 503, "{v}");
    assert!(v["message"].as_str().unwrap().contains("capacity"), "{v}");
    assert_eq!(first.await.unwrap().0, 200);
    let (status, _, v) = queued.await.unwrap();
    assert_eq!((status, &v["run"]["stdout"]), (200, &json!("1\n")), "{v}");
}

/// Base64 the gateway accepts (unpadded, wrapped across lines) runs the same
/// bytes here: the gateway screens exactly what the runner runs.
#[tokio::test]
async fn base64_is_decoded_as_the_gateway_decodes_it() {
    let wrapped: String = STANDARD
        .encode("print('same bytes')\n")
        .trim_end_matches('=')
        .as_bytes()
        .chunks(8)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let gateway = execgate_core::Encoding::Base64.decode(&wrapped).unwrap();
    assert_eq!(gateway, b"print('same bytes')\n");
    let body = json!({"language": "python3", "version": "*",
                      "files": [{"content": wrapped, "encoding": "base64"}]});
    let (status, v) = execute(body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["stdout"], "same bytes\n");
}

/// Errors the HTTP layer answers by itself (a wrong method, a body over the
/// limit) have the same `{"message"}` JSON shape as every other error.
#[tokio::test]
async fn a_wrong_method_and_an_oversized_body_get_json_errors() {
    let client = reqwest::Client::new();
    let wrong_method = client.delete(url("/api/v2/execute")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    let allow = wrong_method
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        allow.as_deref(),
        Some("POST"),
        "the allowed method is still named"
    );
    let v: Value = wrong_method.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("method"), "{v}");

    let huge = vec![b'x'; 9 << 20];
    let too_large = client
        .post(url("/api/v2/execute"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    let v: Value = too_large.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("bytes"), "{v}");
}

/// The count of `language` runs that ended `verdict` in the runner's `/metrics`.
async fn runs_counted(language: &str, verdict: &str) -> u64 {
    let text = reqwest::get(url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series =
        format!("execgate_runner_runs_total{{language=\"{language}\",verdict=\"{verdict}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.parse().unwrap())
}

/// `/health` names the offered languages; `/metrics` counts runs by language
/// and verdict and shows the queue and the warm pools.
#[tokio::test]
async fn health_and_metrics_describe_the_runner() {
    let (status, v) = get(&url("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    assert!(
        v["languages"]
            .as_array()
            .unwrap()
            .contains(&json!("python")),
        "{v}"
    );
    let before = runs_counted("python", "RE").await;
    let body = json!({"language": "python", "version": "*", "files": [{"content": "raise SystemExit(4)"}]});
    let (status, v) = execute(body).await;
    assert_eq!((status, &v["run"]["status"]), (200, &json!("RE")), "{v}");
    assert!(runs_counted("python", "RE").await > before);
    let text = reqwest::get(url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "execgate_runner_running ",
        "execgate_runner_waiting ",
        "execgate_runner_warm_ready{language=\"python\"} ",
    ] {
        assert!(text.contains(series), "{series} in {text}");
    }
}
